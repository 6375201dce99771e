// `npm run bench:shards`: one sweep run whole, then as N shards one after another, then as N
// shards side by side (as an Indexed Job's pods on one node would run), each set merged. It
// prints the times, each cell's W whole against sharded, and the reference cell every shard
// measured, compared across the shards of each set: what sharding costs, and whether running
// the shards together on this machine's cores moved the window. Not a test: it reports what
// this machine does (docs/scale.md).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readHistoryFile } from '../history/history-file.js';
import { analyzeHistory, type CellAnalysis } from '../analysis/analyze-history.js';
import { shardAgreements, type ShardAgreement } from '../analysis/shard-agreement.js';
import type { MergeRecord } from '../history/records.js';

const { values } = parseArgs({
  options: {
    shards: { type: 'string', default: '4' },
    trials: { type: 'string', default: '60' },
    reference: { type: 'string', default: 'P60000-K100-exact-POST-default' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const count = Number(values.shards);
const MATRIX = ['--runtime', 'local', '--trials', values.trials!, '--seed', values.seed!, '--no-progress'];
const out = values.out ?? fs.mkdtempSync(path.join(os.tmpdir(), 'keepalive-lab-bench-shards-'));

/** Runs the CLI; resolves with its seconds, and rejects with its stderr when it fails. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve((performance.now() - started) / 1000) : reject(new Error(`keepalive-lab ${args[0]} exited ${code}: ${stderr.trim()}`))));
  });
}

const analysisOf = (dir: string) => analyzeHistory(readHistoryFile(path.join(dir, 'trials.jsonl')));
const widthOf = (cell: CellAnalysis | undefined) => {
  const width = cell?.windowWidth[0];
  return width ? `${width.widthMs.toFixed(3)} [${width.widthMsCi95[0].toFixed(3)}, ${width.widthMsCi95[1].toFixed(3)}]` : '-';
};

function agreementLines(label: string, agreement: ShardAgreement | undefined, merge: MergeRecord | null): string[] {
  if (!agreement) return [`${label}: no reference cell`];
  const lines = agreement.readings.map((reading) => {
    const load = merge?.shards.find((shard) => shard.shard.index === reading.shard)?.load;
    return `  shard ${reading.shard}: W ${reading.widthMs?.toFixed(3) ?? '-'} [${reading.widthMsCi95?.map((v) => v.toFixed(3)).join(', ') ?? '-'}], ${reading.failures}/${reading.trials} failed` +
      `${reading.disturbed ? ', disturbed' : ''}${reading.flagged ? ', STANDS OUT' : ''}; machine busy ${load?.machineBusyShare ?? '-'}, stolen ${load?.machineStealShare ?? '-'}`;
  });
  const verdict = agreement.agree === null ? 'too little to tell' : agreement.agree ? 'agree' : 'DISAGREE';
  return [`${label}: ${verdict} (W: Q ${agreement.width?.q ?? '-'} on ${agreement.width?.df ?? '-'} df, p ${agreement.width?.pValue ?? '-'}, pooled ${agreement.width ? `${agreement.width.pooledMs} [${agreement.width.pooledMsCi95.join(', ')}]` : '-'} ms; ` +
    `rates: chi-square ${agreement.rate?.chiSquare ?? '-'}, p ${agreement.rate?.pValue ?? '-'})`, ...lines];
}

async function main(): Promise<void> {
  const shardArgs = (index: number | 'auto') => ['--shard', `${index}/${count}`, '--reference-cell', values.reference!];
  const wholeSeconds = await cli(['sweep', ...MATRIX, '--out', path.join(out, 'whole')]);
  const sequentialSeconds: number[] = [];
  for (let index = 1; index <= count; index++) sequentialSeconds.push(await cli(['sweep', ...MATRIX, ...shardArgs(index), '--out', path.join(out, `shard-${index}`)]));
  const started = performance.now();
  await Promise.all(Array.from({ length: count }, (_, index) => cli(['sweep', ...MATRIX, ...shardArgs('auto'), '--out', path.join(out, `pod-${index}`)], { JOB_COMPLETION_INDEX: String(index) })));
  const sideBySideSeconds = (performance.now() - started) / 1000;
  await cli(['merge', ...Array.from({ length: count }, (_, i) => path.join(out, `shard-${i + 1}`)), '--out', path.join(out, 'merged-sequential')]);
  await cli(['merge', ...Array.from({ length: count }, (_, i) => path.join(out, `pod-${i}`)), '--out', path.join(out, 'merged-side-by-side')]);

  const whole = analysisOf(path.join(out, 'whole'));
  const sequential = analysisOf(path.join(out, 'merged-sequential'));
  const sideBySide = analysisOf(path.join(out, 'merged-side-by-side'));
  const lines = [
    `bench:shards: ${count} shards, --trials ${values.trials}, --seed ${values.seed}, reference ${values.reference}; run directories in ${out}`,
    `whole: ${wholeSeconds.toFixed(1)} s; ${count} shards one after another: ${sequentialSeconds.map((s) => s.toFixed(1)).join(' + ')} = ${sequentialSeconds.reduce((a, b) => a + b, 0).toFixed(1)} s; side by side: ${sideBySideSeconds.toFixed(1)} s`,
    'cell: W whole | W sharded (one after another) | W sharded (side by side)',
    ...whole.cells.map((cell) => `  ${cell.id}: ${widthOf(cell)} | ${widthOf(sequential.cells.find((c) => c.id === cell.id))} (shard ${sequential.cells.find((c) => c.id === cell.id)?.shard}) | ${widthOf(sideBySide.cells.find((c) => c.id === cell.id))}`),
    ...agreementLines('reference, shards one after another', shardAgreements(sequential.cells)[0], sequential.merge),
    ...agreementLines('reference, shards side by side', shardAgreements(sideBySide.cells)[0], sideBySide.merge),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`bench:shards: ${error.message}\n`);
  process.exitCode = 1;
});
