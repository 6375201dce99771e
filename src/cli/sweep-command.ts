// `keepalive-lab sweep`: flags and/or a JSON config file -> a validated sweep -> a run directory.
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { openHistoryFile, readHistoryFile } from '../history/history-file.js';
import { summaryTable } from '../report/summary-table.js';
import type { RunAnalysis } from '../analysis/analyze-history.js';
import { HISTORY_FILE, writeRunOutputs } from '../report/write-outputs.js';
import { localRuntimeOptions } from '../runtime/local-runtime.js';
import { runtimeChoice, selectRuntime } from '../runtime/select-runtime.js';
import { expandTopologyGroups } from '../scenario/cells.js';
import { describeProfile, PROFILE_NAMES, PROFILES } from '../scenario/profiles.js';
import { parseSweepConfig, type SweepConfig } from '../scenario/sweep-config.js';
import { assertSameSetup, resumePlan, type ResumePlan } from '../sweep/resume-plan.js';
import { runSweep } from '../sweep/run-sweep.js';
import { onCleanup } from '../util/cleanup.js';
import { UsageError } from '../util/errors.js';
import { expandOffsets, splitList } from './parse-list.js';
import { noteTornLine } from './torn-line.js';
import { assertNewRunDir } from '../util/out-dir.js';
import { addProxyBinaryOptions, PROXY_BINARY_FLAGS, proxyBinariesFrom, proxyChoicesHelp, retryPoliciesHelp } from './proxy-flags.js';

/** Flag name -> config field; the order is the order of `--help`. */
const FLAG_FIELDS = {
  proxy: '--proxy',
  proxyTimeout: '--proxy-timeout',
  upstreamTimeout: '--upstream-timeout',
  upstreamClose: '--upstream-close',
  closeStyle: '--close-style',
  methods: '--methods',
  clients: '--clients',
  retry: '--retry',
  offsets: '--offsets',
  trials: '--trials',
  boundaries: '--boundaries',
  lanes: '--lanes',
  probeSamples: '--probe-samples',
  maxCellSeconds: '--max-cell-seconds',
  seed: '--seed',
  ...PROXY_BINARY_FLAGS,
  out: '--out',
  faults: '--fault/--faults',
  toxiproxy: '--through-toxiproxy',
  toxiproxyBin: '--toxiproxy-bin',
  responseDelay: '--response-delay',
  bodySize: '--body-size',
  runtime: '--runtime',
  upstreamNode: '--upstream-node',
  profile: '--profile',
} as const satisfies Record<string, string>;

interface SweepFlags {
  /** Each flavour's binary flag (--nginx-bin: nginxBin, ...). */
  [proxyBinary: string]: unknown;
  config?: string;
  runtime?: string;
  proxy?: string;
  proxyTimeout?: string;
  upstreamTimeout?: string;
  upstreamClose?: string;
  closeStyle?: string;
  methods?: string;
  clients?: string;
  retry?: string;
  offsets?: string;
  trials?: string;
  boundaries?: string;
  lanes?: string;
  probeSamples?: string;
  maxCellSeconds?: string;
  seed?: string;
  out?: string;
  spinMs?: string;
  fault?: string[];
  faults?: string;
  throughToxiproxy?: boolean;
  toxiproxyBin?: string;
  responseDelay?: string;
  bodySize?: string;
  resume?: string;
  upstreamNode?: string;
  profile?: string;
  progress: boolean;
}

export function sweepCommand(): Command {
  const command = new Command('sweep')
    .description('measure failure rates at the keep-alive boundary for each timeout pairing (real nginx and Node, as local processes or containers)')
    .option('--runtime <name>', 'local (processes here), containers (Docker, through Testcontainers) or auto (containers when a Docker engine answers) (default: KEEPALIVE_LAB_RUNTIME, else local)')
    .option('--config <file>', 'JSON file with any of the settings below (flags win)')
    .option('--profile <name>', `a load-balancer profile whose settings are defaults beneath yours: ${PROFILE_NAMES.join(', ')} (keepalive-lab profiles says what each models and cannot)`)
    .option('--proxy <name>', proxyChoicesHelp())
    .option('--proxy-timeout <list>', 'the proxy\'s idle timeout P for upstream connections (nginx upstream keepalive_timeout, HAProxy timeout http-keep-alive, Caddy transport keepalive), e.g. 500ms,60s (default 60s,50ms)')
    .option('--upstream-timeout <list>', 'upstream keepAliveTimeout values K, e.g. 100ms,1s (default 100ms)')
    .option('--upstream-close <list>', 'exact (close K ms after the last response) and/or stock (Node\'s own handling) (default exact)')
    .option('--upstream-node <list>', 'run the upstream under these Node versions, each as its own cells, e.g. 20,22,24,26 (local: binaries from the npm registry, cached; containers: node:N-slim images) (default: the runtime\'s own Node)')
    .option('--close-style <style>', 'fin or rst, for exact closes (default fin)')
    .option('--methods <list>', 'GET,POST (default GET,POST)')
    .option('--clients <list>', 'with --proxy none, the clients measured: raw (the harness\'s own connection), node-agent (http.Agent keepAlive), node-agent-timeout (the same with timeout = P), undici (default all)')
    .option('--retry <list>', `retry policies; ${retryPoliciesHelp()}`)
    .option('--offsets <list>', 'idle-gap offsets from the boundary: durations and ranges FROM..TO@STEP (default -20ms,-10ms,-3ms..3ms@0.5ms,10ms,20ms)')
    .option('--response-delay <duration>', 'the upstream waits this long before answering (default 0)')
    .option('--body-size <bytes>', 'bytes of the upstream\'s response body (default 3)')
    .option('--trials <n>', 'trials per offset, per cell and boundary (default 100)')
    .option('--boundaries <which>', 'auto (the close that comes first), upstream, proxy or both (default auto)')
    .option('--lanes <n>', 'concurrent lanes, each with its own upstream pool in the proxy; more is faster, fewer loads the proxy less (default 64)')
    .option('--probe-samples <n>', 'idle connections the probe times per topology (default 40)')
    .option('--max-cell-seconds <n>', 'stop starting trials in a cell after this many seconds (default 600)')
    .option('--seed <n>', 'seed of the trial order (default 1)')
    .option('--fault <spec>', 'a fault between nginx and the upstream, TYPE:STREAM[:VALUE][:KEY=VALUE], e.g. latency:upstream:10ms (repeat for several)',
      (spec: string, all: string[]) => [...all, spec], [] as string[])
    .option('--faults <sets>', 'several fault sets, each measured as its own cells: ";" between sets, "," within one, "none" for no faults')
    .option('--through-toxiproxy', 'pass fault-free cells through Toxiproxy too (default: straight to the upstream)')
    .option('--toxiproxy-bin <path>', 'a real toxiproxy-server (default: on PATH, or KEEPALIVE_LAB_TOXIPROXY_BIN, else the embedded one)');
  return addProxyBinaryOptions(command)
    .option('--out <dir>', 'run directory for trials.jsonl, summary.json, summary.csv, report.md, report.html (default runs/<time>)')
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
  const fromFlags: Record<string, unknown> = {};
  const lists = ['proxyTimeout', 'upstreamTimeout', 'upstreamClose', 'methods', 'clients', 'retry', 'upstreamNode'] as const;
  const numbers = ['trials', 'lanes', 'probeSamples', 'maxCellSeconds', 'seed', 'bodySize'] as const;
  for (const key of lists) if (flags[key] !== undefined) fromFlags[key] = splitList(flags[key]!);
  for (const key of numbers) if (flags[key] !== undefined) fromFlags[key] = toNumber(flags[key]!, FLAG_FIELDS[key]);
  for (const key of ['proxy', 'closeStyle', 'boundaries', 'out', 'toxiproxyBin', 'responseDelay', 'runtime', 'profile'] as const) if (flags[key] !== undefined) fromFlags[key] = flags[key];
  Object.assign(fromFlags, proxyBinariesFrom(flags));
  if (flags.fault !== undefined && flags.fault.length > 0 && flags.faults !== undefined) throw new UsageError('--fault and --faults: give one of them');
  if (flags.fault !== undefined && flags.fault.length > 0) fromFlags.faults = [flags.fault];
  if (flags.faults !== undefined) fromFlags.faults = flags.faults.split(';').map((set) => (set.trim() === 'none' ? [] : splitList(set)));
  if (flags.throughToxiproxy) fromFlags.toxiproxy = 'always';
  if (flags.offsets !== undefined) {
    try {
      fromFlags.offsets = expandOffsets(flags.offsets);
    } catch (error) {
      throw new UsageError(`--offsets: ${(error as Error).message}`);
    }
  }
  try {
    return parseSweepConfig({ ...fileInput, ...fromFlags }, 'flags');
  } catch (error) {
    // Name the flag rather than the schema field: it is what the user typed.
    const message = (error as Error).message.replace(/^flags: (\w+)(?:\.\d+)*:/, (whole, field: string) =>
      field in FLAG_FIELDS ? `${FLAG_FIELDS[field as keyof typeof FLAG_FIELDS]}:` : whole);
    throw new UsageError(message);
  }
}

/** Which programs to run: named on this command line, never read from a run directory. */
const BINARY_FLAGS = new Set([...Object.keys(PROXY_BINARY_FLAGS), 'toxiproxyBin']);

/**
 * `--resume DIR`: the run's own settings; any setting flag beside it is refused, not merged,
 * except the binaries to run (the run directory does not name them: see resume-plan.ts).
 */
function resumePlanFromFlags(flags: SweepFlags): ResumePlan {
  const dir = flags.resume!;
  const given = [...Object.keys(FLAG_FIELDS).filter((key) => !BINARY_FLAGS.has(key)), 'config'].filter((key) => {
    const value = (flags as unknown as Record<string, unknown>)[key];
    return value !== undefined && !(Array.isArray(value) && value.length === 0) && value !== false;
  });
  if (given.length > 0) {
    const names = given.map((key) => (key === 'config' ? '--config' : FLAG_FIELDS[key as keyof typeof FLAG_FIELDS]));
    throw new UsageError(`--resume takes every setting from the run in ${dir}; drop ${names.join(', ')}`);
  }
  const historyPath = path.join(dir, HISTORY_FILE);
  if (!fs.existsSync(historyPath)) throw new UsageError(`--resume ${dir}: no ${HISTORY_FILE} there: give the --out directory of an interrupted sweep`);
  const plan = resumePlan(readHistoryFile(historyPath, noteTornLine(historyPath)), dir);
  const binaries = { ...proxyBinariesFrom(flags), ...(flags.toxiproxyBin ? { toxiproxyBin: flags.toxiproxyBin } : {}) };
  return { ...plan, config: { ...plan.config, ...binaries } };
}

function toNumber(text: string, flag: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${flag}: "${text}" is not a number`);
  return value;
}

async function runSweepCommand(config: SweepConfig, flags: SweepFlags, resume?: ResumePlan): Promise<number> {
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
  if (resume) {
    const left = expandTopologyGroups(config).flatMap((group) => group.cells).filter((cell) => !resume.completedCells.has(cell.id));
    process.stderr.write(`resume: ${resume.completedCells.size} cells complete, ${left.length} to measure (${resume.trialsDone.size} of them partly)\n`);
    // A kill -9 can leave a torn last line: end it, so the first new record stands on its own.
    const text = fs.readFileSync(historyPath, 'utf8');
    if (text.length > 0 && !text.endsWith('\n')) fs.appendFileSync(historyPath, '\n');
  } else {
    assertNewRunDir(out, HISTORY_FILE, '--out', `, remove it, or continue it with --resume ${out}`);
    fs.mkdirSync(out, { recursive: true });
  }
  process.stderr.write(`${note}\n`);
  if (config.profile) process.stderr.write(`profile ${describeProfile(PROFILES[config.profile])}\n`);
  const history = openHistoryFile(historyPath);
  // Registered first, so it runs last on Ctrl-C: after the processes stopped, the history is
  // flushed and the reports are written from what was measured.
  let analysis: RunAnalysis | null = null;
  const finish = onCleanup(async () => {
    // Reports from what reached the disk, even when the history's last write failed.
    const closeError = await history.close().then(() => null, (error: Error) => error);
    analysis = await writeRunOutputs(out);
    if (closeError) throw closeError;
  });
  const bar = flags.progress && process.stderr.isTTY
    ? new cliProgress.SingleBar({ format: 'sweep [{bar}] {value}/{total} trials | {cell} | {eta_formatted} left', etaBuffer: 500 }, cliProgress.Presets.shades_classic)
    : null;
  let cellName = '';
  const outcome = await runSweep({ ...config, out }, runtime, history, {
    spinMs,
    ...(resume ? { resume } : {}),
    onPlan: (total) => bar?.start(total, 0, { cell: '' }),
    onCell: (cell, plannedTrials) => {
      cellName = cell.id;
      bar?.setTotal(bar.getTotal() + plannedTrials.actual - plannedTrials.estimated);
      if (!bar) process.stderr.write(`cell ${cell.id}: effective close ${cell.effectiveCloseMs} ms\n`);
    },
    onTrial: () => bar?.increment(1, { cell: cellName }),
  }).finally(() => bar?.stop());
  await finish();
  process.stdout.write(`${summaryTable(analysis!.cells)}\n\nWrote ${out}/{${HISTORY_FILE},summary.json,summary.csv,report.md,report.html}\n`);
  if (!outcome.completed) {
    process.stderr.write(`keepalive-lab: the sweep stopped early: ${outcome.reason}\n`);
    return 1;
  }
  return 0;
}
