// `keepalive-lab soak`: Poisson traffic through the proxy's shared pool for a while, per
// pairing; failures per 10,000 requests.
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
import { runSoakCells } from '../soak/soak.js';
import { onCleanup } from '../util/cleanup.js';
import { DEFAULT_PROXY, proxyFlavours } from '../proxy/registry.js';
import { addProxyBinaryOptions, PROXY_BINARY_FLAGS, proxyBinariesFrom } from './proxy-flags.js';
import { UsageError } from '../util/errors.js';
import { assertNewRunDir } from '../util/out-dir.js';
import { splitList } from './parse-list.js';

interface SoakFlags {
  proxy?: string;
  proxyTimeout?: string;
  upstreamTimeout?: string;
  upstreamClose?: string;
  methods?: string;
  retry?: string;
  rate?: string;
  duration?: string;
  pool?: string;
  clientConnections?: string;
  seed?: string;
  runtime?: string;
  out?: string;
  json?: boolean;
}

const FLAGS: Record<string, string> = {
  proxy: '--proxy', proxyTimeout: '--proxy-timeout', upstreamTimeout: '--upstream-timeout', upstreamClose: '--upstream-close', methods: '--methods',
  retry: '--retry', rate: '--rate', duration: '--duration', pool: '--pool', clientConnections: '--client-connections', seed: '--seed', runtime: '--runtime',
  ...PROXY_BINARY_FLAGS,
};

export function soakCommand(): Command {
  const command = new Command('soak')
    .description('Poisson traffic through the proxy\'s shared upstream pool for a while, per timeout pairing: failures per 10,000 requests')
    .option('--proxy <name>', `a proxy: ${proxyFlavours().filter((flavour) => !flavour.passThrough).map((flavour) => flavour.name).join(', ')} (default ${DEFAULT_PROXY})`)
    .option('--proxy-timeout <list>', 'the proxy\'s idle timeout P for upstream connections (default 60s,50ms)')
    .option('--upstream-timeout <list>', 'upstream keepAliveTimeout values K (default 100ms)')
    .option('--upstream-close <list>', 'exact and/or stock (default exact)')
    .option('--methods <list>', 'GET,POST (default GET,POST)')
    .option('--retry <list>', 'retry policies (as sweep)')
    .option('--rate <n>', 'mean requests per second, Poisson arrivals (default 100)')
    .option('--duration <duration>', 'traffic time per cell (default 60s)')
    .option('--pool <n>', 'idle upstream connections the proxy keeps, shared by all requests (nginx keepalive N) (default 32)')
    .option('--client-connections <n>', 'client keep-alive connections to the proxy at most (default 256)')
    .option('--seed <n>', 'seed of the arrivals (default 1)')
    .option('--runtime <name>', 'local, containers or auto (default: KEEPALIVE_LAB_RUNTIME, else local)');
  return addProxyBinaryOptions(command)
    .option('--out <dir>', 'run directory for trials.jsonl, soak.json, soak.md (default runs/soak-<time>)')
    .option('--json', 'print soak.json instead of the table')
    .action(async (flags: SoakFlags) => {
      process.exitCode = await runSoakCommand(flags);
    });
}

function soakInputFromFlags(flags: SoakFlags): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const key of ['proxyTimeout', 'upstreamTimeout', 'upstreamClose', 'methods', 'retry'] as const) if (flags[key] !== undefined) input[key] = splitList(flags[key]!);
  for (const key of ['rate', 'pool', 'clientConnections', 'seed'] as const) {
    if (flags[key] === undefined) continue;
    const value = Number(flags[key]);
    if (flags[key]!.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${FLAGS[key]}: "${flags[key]}" is not a number`);
    input[key] = value;
  }
  for (const key of ['proxy', 'duration', 'runtime'] as const) if (flags[key] !== undefined) input[key] = flags[key];
  Object.assign(input, proxyBinariesFrom(flags as unknown as Record<string, unknown>));
  return input;
}

async function runSoakCommand(flags: SoakFlags): Promise<number> {
  let config;
  try {
    config = parseSoakConfig(soakInputFromFlags(flags), 'flags');
  } catch (error) {
    const message = (error as Error).message.replace(/^flags: (\w+)(?:\.\d+)*:/, (whole, field: string) => (FLAGS[field] ? `${FLAGS[field]}:` : whole));
    throw new UsageError(message);
  }
  const { runtime, note } = await selectRuntime(runtimeChoice(config.sweep.runtime), localRuntimeOptions(config.sweep));
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
    const analysis = analyzeSoak(readHistoryFile(historyPath));
    fs.writeFileSync(path.join(out, 'soak.json'), `${soakJson(analysis)}\n`);
    fs.writeFileSync(path.join(out, 'soak.md'), soakMarkdown(analysis));
    text = flags.json ? soakJson(analysis) : `${soakTable(analysis.cells)}\n\nWrote ${out}/{${HISTORY_FILE},soak.json,soak.md}`;
    if (closeError) throw closeError;
  });
  const outcome = await runSoakCells(config, runtime, history, {
    onCell: (cell) => process.stderr.write(`soak ${cell.id}: ${config.soak.rate} requests/s for ${config.soak.duration / 1000} s (effective close ${cell.effectiveCloseMs} ms)\n`),
  });
  await finish();
  process.stdout.write(`${text}\n`);
  if (!outcome.completed) {
    process.stderr.write(`keepalive-lab: the soak stopped early: ${outcome.reason}\n`);
    return 1;
  }
  return 0;
}
