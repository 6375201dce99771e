// `keepalive-lab soak`: Poisson traffic through the proxy's shared pool for a while, per
// pairing; failures per 10,000 requests.
import { assertCanPin } from '../runtime/cpu-pinning.js';
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { openHistoryFile, readHistoryFile } from '../history/history-file.js';
import { HISTORY_FILE } from '../report/write-outputs.js';
import { localRuntimeOptions } from '../runtime/local-runtime.js';
import { runtimeChoice, selectRuntime } from '../runtime/select-runtime.js';
import { analyzeSoak } from '../soak/soak-analysis.js';
import { parseSoakConfig } from '../soak/soak-config.js';
import { soakJson, soakMarkdown, soakTable } from '../soak/soak-report.js';
import { runSoakCells, soakPairingIds } from '../soak/soak.js';
import { loadSoakWindows, predictedSoak } from '../soak/soak-prediction.js';
import { onCleanup } from '../util/cleanup.js';
import { DEFAULT_PROXY, proxyFlavours } from '../proxy/registry.js';
import { PROXY_BINARY_FLAGS } from './proxy-flags.js';
import { addSweepFlags, flagOfField, settingsFromFlags, sweepFlagsOf, type SweepFlag } from './sweep-flags.js';
import { UsageError } from '../util/errors.js';
import { assertCanCapture } from '../capture/tcpdump.js';
import { assertNewRunDir } from '../util/out-dir.js';
import { writeRunFile } from '../util/run-dir-files.js';

/** The soak's own flags, then the sweep's it shares (cli/sweep-flags.ts). */
const SOAK_FLAGS: readonly SweepFlag[] = [
  { field: 'proxy', option: '--proxy <name>', kind: 'text', help: `a proxy: ${proxyFlavours().filter((flavour) => !flavour.passThrough).map((flavour) => flavour.name).join(', ')} (default ${DEFAULT_PROXY})` },
  ...sweepFlagsOf(['proxyTimeout', 'upstreamTimeout', 'upstreamClose', 'methods', 'retry']),
  { field: 'rate', option: '--rate <list>', kind: 'list', help: 'mean requests per second, Poisson arrivals; several (e.g. 30,100,300) are each a cell on the same topology (default 100)' },
  { field: 'duration', option: '--duration <duration>', kind: 'text', help: 'traffic time per cell (default 60s)' },
  { field: 'pool', option: '--pool <n>', kind: 'number', help: 'idle upstream connections the proxy keeps, shared by all requests (nginx keepalive N) (default 32)' },
  { field: 'clientConnections', option: '--client-connections <n>', kind: 'number', help: 'client keep-alive connections to the proxy at most (default 256)' },
  { field: 'windowFrom', option: '--window-from <dir>', kind: 'text', help: 'a sweep of the same pairings: each cell\'s failures predicted from its window, beside those observed (see keepalive-lab predict)' },
  { field: 'seed', option: '--seed <n>', kind: 'number', help: 'seed of the arrivals (default 1)' },
  ...sweepFlagsOf(['runtime', 'pin', ...Object.keys(PROXY_BINARY_FLAGS) as SweepFlag['field'][], 'capture', 'captureLimit']),
];

/** The command's own flags; every setting flag is in SOAK_FLAGS, keyed by commander's name for it. */
interface SoakFlags {
  [setting: string]: unknown;
  out?: string;
  json?: boolean;
}

export function soakCommand(): Command {
  const command = new Command('soak')
    .description('Poisson traffic through the proxy\'s shared upstream pool for a while, per timeout pairing: failures per 10,000 requests');
  return addSweepFlags(command, SOAK_FLAGS)
    .option('--out <dir>', 'run directory for trials.jsonl, soak.json, soak.md (default runs/soak-<time>)')
    .option('--json', 'print soak.json instead of the table')
    .action(async (flags: SoakFlags) => {
      process.exitCode = await runSoakCommand(flags);
    });
}

async function runSoakCommand(flags: SoakFlags): Promise<number> {
  let config;
  try {
    config = parseSoakConfig(settingsFromFlags(flags, SOAK_FLAGS), 'flags');
  } catch (error) {
    const message = (error as Error).message.replace(/^flags: (\w+)(?:\.\d+)*:/, (whole, field: string) => {
      const flag = flagOfField(field, SOAK_FLAGS);
      return flag ? `${flag}:` : whole;
    });
    throw new UsageError(message);
  }
  const windows = config.soak.windowFrom === undefined ? null : loadSoakWindows(config.soak.windowFrom, soakPairingIds(config));
  const { runtime, note } = await selectRuntime(runtimeChoice(config.sweep.runtime), localRuntimeOptions(config.sweep));
  if (config.sweep.capture) assertCanCapture();
  if (config.sweep.pin) assertCanPin();
  const out = flags.out ?? path.join('runs', `soak-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  assertNewRunDir(out, HISTORY_FILE);
  fs.mkdirSync(out, { recursive: true });
  const historyPath = path.join(out, HISTORY_FILE);
  process.stderr.write(`${note}\n`);
  const history = openHistoryFile(historyPath);
  // Runs last on Ctrl-C too: what was measured is written.
  let text = '';
  const finish = onCleanup(async () => {
    // Reports from what reached the disk, even when the history's last write failed.
    const closeError = await history.close().then(() => null, (error: Error) => error);
    const analysis = predictedSoak(analyzeSoak(readHistoryFile(historyPath)), windows, config);
    writeRunFile(out, 'soak.json', `${soakJson(analysis)}\n`);
    writeRunFile(out, 'soak.md', soakMarkdown(analysis));
    text = flags.json ? soakJson(analysis) : `${soakTable(analysis.cells)}\n\nWrote ${out}/{${HISTORY_FILE},soak.json,soak.md}`;
    if (closeError) throw closeError;
  });
  const outcome = await runSoakCells(config, runtime, history, {
    ...(config.sweep.capture ? { captureInto: out } : {}),
    onCell: (cell) => process.stderr.write(`soak ${cell.id}: ${cell.soakRate} requests/s for ${config.soak.duration / 1000} s (effective close ${cell.effectiveCloseMs} ms)\n`),
  });
  await finish();
  process.stdout.write(`${text}\n`);
  if (!outcome.completed) {
    process.stderr.write(`keepalive-lab: the soak stopped early: ${outcome.reason}\n`);
    return 1;
  }
  return 0;
}
