// `keepalive-lab sweep`: flags and/or a JSON config file -> a validated sweep -> a run directory.
import { assertCanPin } from '../runtime/cpu-pinning.js';
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { openHistoryFile, readHistoryFile } from '../history/history-file.js';
import { APPEND_NO_FOLLOW, openRegularFile } from '../util/run-dir-files.js';
import { summaryTable } from '../report/summary-table.js';
import { forTerminal } from '../util/terminal-text.js';
import { trafficSentences } from '../report/traffic-text.js';
import type { RunPrediction } from '../predict/predict-run.js';
import type { RunAnalysis } from '../analysis/analyze-history.js';
import { HISTORY_FILE, SHARD_MANIFEST_FILE, writeRunOutputs } from '../report/write-outputs.js';
import { localRuntimeOptions } from '../runtime/local-runtime.js';
import { runtimeChoice, selectRuntime } from '../runtime/select-runtime.js';
import { expandTopologyGroups } from '../scenario/cells.js';
import { describeProfile, PROFILES } from '../scenario/profiles.js';
import { parseSweepConfig, type SweepConfig } from '../scenario/sweep-config.js';
import { assertSameSetup, resumePlan, type ResumePlan } from '../sweep/resume-plan.js';
import { runSweep } from '../sweep/run-sweep.js';
import { plannedGroups, type PlannedGroup } from '../scenario/shard-plan.js';
import { shardText } from '../scenario/shards.js';
import { assertCanCapture } from '../capture/tcpdump.js';
import { onCleanup } from '../util/cleanup.js';
import { UsageError } from '../util/errors.js';
import { noteTornLine } from './torn-line.js';
import { assertNewRunDir } from '../util/out-dir.js';
import { PROXY_BINARY_FLAGS, proxyBinariesFrom } from './proxy-flags.js';
import { addSweepFlags, flagName, flagOfField, givenFlags, settingsFromFlags, toNumber } from './sweep-flags.js';

/** The command's own flags; every setting flag is in sweep-flags.ts, keyed by its setting. */
interface SweepFlags {
  [setting: string]: unknown;
  config?: string;
  resume?: string;
  spinMs?: string;
  progress: boolean;
}

export function sweepCommand(): Command {
  const command = new Command('sweep')
    .description('measure failure rates at the keep-alive boundary for each timeout pairing (real proxies and Node, as local processes or containers)')
    .option('--config <file>', 'JSON file with any of the settings below (flags win)');
  return addSweepFlags(command)
    .option('--resume <dir>', 'continue an interrupted run in DIR: only its missing cells and trials, with its own settings, on the same setup')
    .addOption(new Option('--spin-ms <ms>', 'scheduler spin window before each trial (0: timers only)').default('2'))
    .option('--no-progress', 'no progress bar')
    .action(async (flags: SweepFlags) => {
      if (flags.resume !== undefined) {
        const plan = resumePlanFromFlags(flags);
        process.exitCode = await runSweepCommand({ ...plan.config, out: flags.resume }, flags, plan);
        return;
      }
      const config = sweepConfigFromFlags(flags);
      process.exitCode = await runSweepCommand(config, flags);
    });
}

export function sweepConfigFromFlags(flags: SweepFlags): SweepConfig {
  let fileInput: Record<string, unknown> = {};
  if (flags.config) {
    let text: string;
    try {
      text = fs.readFileSync(flags.config, 'utf8');
    } catch (error) {
      throw new UsageError(`--config: cannot read ${flags.config}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`--config ${flags.config}: not valid JSON: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new UsageError(`--config ${flags.config}: must hold one JSON object of settings ({"proxyTimeout": ["60s"], ...}), not ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : `a ${typeof parsed}`}`);
    }
    fileInput = parsed as Record<string, unknown>;
    parseSweepConfig(fileInput, `config file ${flags.config}`);
  }
  const fromFlags = settingsFromFlags(flags);
  try {
    return parseSweepConfig({ ...fileInput, ...fromFlags }, 'flags');
  } catch (error) {
    // Name the flag rather than the schema field: it is what the user typed.
    const message = (error as Error).message.replace(/^flags: (\w+)(?:\.\d+)*:/, (whole, field: string) => {
      const flag = flagOfField(field);
      return flag ? `${flag}:` : whole;
    });
    throw new UsageError(message);
  }
}

/** Which programs to run: named on this command line, never read from a run directory. */
const BINARY_SETTINGS = new Set([...Object.keys(PROXY_BINARY_FLAGS), 'toxiproxyBin']);

/**
 * `--resume DIR`: the run's own settings; any setting flag beside it is refused, not merged,
 * except the binaries to run (the run directory does not name them: see resume-plan.ts).
 */
function resumePlanFromFlags(flags: SweepFlags): ResumePlan {
  const dir = flags.resume!;
  const given = [...givenFlags(flags).filter((flag) => !BINARY_SETTINGS.has(flag.field)).map(flagName), ...(flags.config !== undefined ? ['--config'] : [])];
  if (given.length > 0) throw new UsageError(`--resume takes every setting from the run in ${dir}; drop ${given.join(', ')}`);
  const historyPath = path.join(dir, HISTORY_FILE);
  if (!fs.existsSync(historyPath)) throw new UsageError(`--resume ${dir}: no ${HISTORY_FILE} there: give the --out directory of an interrupted sweep`);
  const plan = resumePlan(readHistoryFile(historyPath, noteTornLine(historyPath)), dir);
  const binaries = { ...proxyBinariesFrom(flags), ...(typeof flags.toxiproxyBin === 'string' ? { toxiproxyBin: flags.toxiproxyBin } : {}) };
  return { ...plan, config: { ...plan.config, ...binaries } };
}

async function runSweepCommand(config: SweepConfig, flags: SweepFlags, resume?: ResumePlan): Promise<number> {
  // The shard's slice, and the reference cell checked, before anything starts.
  const planned = plannedGroups(config);
  const spinMs = toNumber(flags.spinMs ?? '2', '--spin-ms');
  if (spinMs < 0 || spinMs > 1000) throw new UsageError(`--spin-ms: "${flags.spinMs}" must be from 0 (timers only) to 1000 ms`);
  // Resolve the runtime before creating anything: a missing nginx, engine or image must leave
  // nothing behind. A resume runs where the run started, and only on the same setup.
  const choice = resume ? (resume.runtimeName as 'local' | 'containers') : runtimeChoice(config.runtime);
  const { runtime, note } = await selectRuntime(choice, localRuntimeOptions(config));
  const out = config.out ?? path.join('runs', new Date().toISOString().replace(/[:.]/g, '-'));
  const historyPath = path.join(out, HISTORY_FILE);
  if (resume) assertSameSetup(resume, runtime.name, runtime.versions, out);
  // Fetched before the run directory exists: a Node version that cannot be had leaves nothing.
  if (config.upstreamNode) await runtime.prepareUpstreamNode(config.upstreamNode);
  if (config.capture) assertCanCapture();
  if (config.pin) assertCanPin();
  if (resume) {
    const left = expandTopologyGroups(config).flatMap((group) => group.cells).filter((cell) => !resume.completedCells.has(cell.id));
    process.stderr.write(`resume: ${resume.completedCells.size} cells complete, ${left.length} to measure (${resume.trialsDone.size} of them partly)\n`);
    // A kill -9 can leave a torn last line: end it, so the first new record stands on its own.
    endTornLine(historyPath);
  } else {
    assertNewRunDir(out, HISTORY_FILE, '--out', `, remove it, or continue it with --resume ${out}`);
    fs.mkdirSync(out, { recursive: true });
  }
  process.stderr.write(`${note}\n`);
  if (config.shard) process.stderr.write(`${shardNote(config, planned)}\n`);
  if (config.profile) process.stderr.write(`profile ${describeProfile(PROFILES[config.profile])}\n`);
  const history = openHistoryFile(historyPath);
  // Registered first, so it runs last on Ctrl-C: after the processes stopped, the history is
  // flushed and the reports are written from what was measured.
  let analysis: (RunAnalysis & { traffic: RunPrediction | null }) | null = null;
  const finish = onCleanup(async () => {
    // Reports from what reached the disk, even when the history's last write failed.
    const closeError = await history.close().then(() => null, (error: Error) => error);
    analysis = await writeRunOutputs(out);
    if (closeError) throw closeError;
  });
  const bar = flags.progress && process.stderr.isTTY
    ? new cliProgress.SingleBar({ format: 'sweep [{bar}] {value}/{total} trials | {cell} | {eta_formatted} left', etaBuffer: 500 }, cliProgress.Presets.shades_classic)
    : null;
  const outcome = await runSweep({ ...config, out }, runtime, history, {
    spinMs,
    ...(resume ? { resume } : {}),
    onPlan: (total) => bar?.start(total, 0, { cell: '' }),
    onCell: (cell, plannedTrials) => {
      bar?.setTotal(bar.getTotal() + plannedTrials.actual - plannedTrials.estimated);
      if (!bar) process.stderr.write(`cell ${cell.id}: effective close ${cell.effectiveCloseMs} ms\n`);
    },
    // Cells fire in interleaved blocks: the bar names the cell of the trial that just ended.
    onTrial: (trial) => bar?.increment(1, { cell: trial.cell }),
  }).finally(() => bar?.stop());
  await finish();
  const traffic = analysis!.traffic ? `\n\nAt your traffic (--traffic ${analysis!.traffic.cells[0]!.traffic}):\n${trafficSentences(analysis!.traffic).map((line) => `- ${line}`).join('\n')}` : '';
  process.stdout.write(`${summaryTable(analysis!.cells)}${forTerminal(traffic)}\n\nWrote ${out}/{${HISTORY_FILE},summary.json,summary.csv,report.md,report.html${config.shard ? `,${SHARD_MANIFEST_FILE}` : ''}}\n`);
  if (!outcome.completed) {
    process.stderr.write(`keepalive-lab: the sweep stopped early: ${outcome.reason}\n`);
    return 1;
  }
  return 0;
}

/** What this shard measures, in a line: its topologies of the matrix's, and the reference copy. */
function shardNote(config: SweepConfig, planned: readonly PlannedGroup[]): string {
  const shard = config.shard!;
  const all = expandTopologyGroups(config).length;
  const own = planned.filter((group) => !group.reference);
  const reference = planned.find((group) => group.reference);
  const taken = own.length === 0 ? 'no topology (more shards than topologies): it writes its manifest only' : `${own.length} of the matrix's ${all} topologies (${own.reduce((sum, group) => sum + group.group.cells.length, 0)} cells)`;
  return `shard ${shardText(shard)}: ${taken}${reference ? `, and the reference cell as ${reference.group.cells[0]!.id}` : ''}`;
}

/** Ends a history's last line if a kill left it without its newline (read and appended without following a symlink). */
function endTornLine(historyPath: string): void {
  const fd = openRegularFile(historyPath);
  try {
    const { size } = fs.fstatSync(fd);
    const last = Buffer.alloc(1);
    if (size > 0 && fs.readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 10) {
      const append = fs.openSync(historyPath, APPEND_NO_FOLLOW);
      try {
        fs.writeSync(append, '\n');
      } finally {
        fs.closeSync(append);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}
