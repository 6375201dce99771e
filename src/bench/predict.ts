// `npm run bench:predict`: the prediction checked against the real thing. Per round, sweeps of
// one pairing (POST through nginx, retry off, K short so that a soak's expected counts are tens)
// at several lane counts, then a soak of the same pairing at several rates; each soak cell's
// observed failures per 10,000 beside the prediction from each sweep's window, and the reuses
// near the close the upstream saw beside the model's. Not a test: it reports what this machine
// does (docs/predict.md, docs/benchmarks.md).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readHistoryFile } from '../history/history-file.js';
import { analyzeSoak } from '../soak/soak-analysis.js';
import { withPredictions } from '../soak/soak-prediction.js';
import { runWindows } from '../predict/run-windows.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    'upstream-timeout': { type: 'string', default: '10ms' },
    rates: { type: 'string', default: '30,100,300' },
    duration: { type: 'string', default: '60s' },
    lanes: { type: 'string', default: '1,4' },
    trials: { type: 'string', default: '150' },
    pool: { type: 'string', default: '32' },
    pin: { type: 'string' },
    out: { type: 'string' },
  },
});
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const PAIRING = ['--runtime', 'local', '--proxy-timeout', '60s', '--upstream-timeout', values['upstream-timeout']!, '--methods', 'POST', '--retry', 'off',
  ...(values.pin ? ['--pin', values.pin] : [])];
const out = values.out ?? fs.mkdtempSync(path.join(os.tmpdir(), 'keepalive-lab-bench-predict-'));

function cli(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`keepalive-lab ${args[0]} exited ${code}: ${stderr.trim()}`))));
  });
}

const f = (value: number, digits = 1) => value.toFixed(digits);

async function round(index: number): Promise<string[]> {
  const dir = path.join(out, `round-${index}`);
  const laneCounts = values.lanes!.split(',');
  for (const lanes of laneCounts) {
    await cli(['sweep', ...PAIRING, '--offsets=-4ms..3ms@0.5ms', '--trials', values.trials!, '--lanes', lanes, '--seed', String(index), '--no-progress', '--out', path.join(dir, `sweep-lanes-${lanes}`)]);
  }
  const soakDir = path.join(dir, 'soak');
  await cli(['soak', ...PAIRING, '--rate', values.rates!, '--duration', values.duration!, '--pool', values.pool!, '--seed', String(index), '--out', soakDir]);
  const soak = analyzeSoak(readHistoryFile(path.join(soakDir, 'trials.jsonl')));
  const lines = [`round ${index} (${dir})`];
  for (const lanes of laneCounts) {
    const windows = runWindows(readHistoryFile<{ type: string }>(path.join(dir, `sweep-lanes-${lanes}`, 'trials.jsonl')));
    const window = windows[0]!;
    lines.push(`  sweep --lanes ${lanes}: W ${window.widthMs.toFixed(3)} [${window.widthMsCi95.map((v) => v.toFixed(3)).join(', ')}] ms at ${window.firingRatePerSecond ?? '?'} trials/s, answer ${window.answerMs} ms`);
    for (const cell of withPredictions(soak, windows, { pool: Number(values.pool), workers: 1 }).cells) {
      const p = cell.prediction;
      if (!p) continue;
      lines.push(`    ${cell.plannedRatePerSecond}/s: observed ${cell.failures}/${cell.requests} = ${f(cell.perTenThousand)} [${f(cell.perTenThousandCi95[0])}, ${f(cell.perTenThousandCi95[1])}] per 10,000; ` +
        `predicted ${f(p.perTenThousand)} [${f(p.perTenThousandCi95[0])}, ${f(p.perTenThousandCi95[1])}]; z ${p.differenceZ.toFixed(2)} ${p.agrees ? 'agree' : 'DISAGREE'}; ` +
        `near close seen ${cell.connections.nearClose}, expected ${f(p.nearCloseExpected)} (z ${p.nearCloseZ?.toFixed(2) ?? '-'}); reused ${f((cell.connections.reused / cell.requests) * 100)}%`);
    }
  }
  return lines;
}

async function main(): Promise<void> {
  const lines = [`bench:predict: nginx, POST, retry off, P 60s, K ${values['upstream-timeout']}; soak at ${values.rates}/s for ${values.duration} each through a pool of ${values.pool}; sweeps at --lanes ${values.lanes}, --trials ${values.trials}; ${values.pin ? `--pin ${values.pin}` : 'not pinned'}; run directories in ${out}`];
  for (let index = 1; index <= Number(values.rounds); index++) {
    const roundLines = await round(index);
    process.stdout.write(`${roundLines.join('\n')}\n`);
    lines.push(...roundLines);
  }
  fs.writeFileSync(path.join(out, 'bench-predict.txt'), `${lines.join('\n')}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`bench:predict: ${error.message}\n`);
  process.exitCode = 1;
});
