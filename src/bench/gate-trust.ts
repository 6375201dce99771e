// `npm run bench:gate-trust`: how often the gate is wrong. Runs every case of gate-cases.ts many
// times (rounds: each case once per round, so that the machine's state spreads over all cases)
// with a new seed each time, and counts false alarms (a safe case that did not pass) and misses
// (an unsafe case that did not fail). Every run is appended to a JSON-lines file as it ends.
//   npm run bench:gate-trust [-- --runs 20 --case NAME --out FILE]
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { gate } from '../api.js';
import { cleanupAll } from '../util/cleanup.js';
import { quantile } from '../util/stats.js';
import { verdictLabel } from '../gate/gate-report.js';
import { budgetSeconds, GATE_CASES } from './gate-cases.js';

const { values } = parseArgs({ options: {
  runs: { type: 'string', default: '20' }, case: { type: 'string', multiple: true }, out: { type: 'string', default: 'gate-trust.jsonl' },
} });
const runs = Number(values.runs);
const chosen = values.case ? GATE_CASES.filter((c) => values.case!.includes(c.name)) : GATE_CASES;
if (!Number.isInteger(runs) || runs < 1 || chosen.length === 0) {
  process.stderr.write(`bench:gate-trust: --runs must be a whole number >= 1 and --case one of ${GATE_CASES.map((c) => c.name).join(', ')}\n`);
  process.exit(2);
}

interface TrustRun { case: string; run: number; expect: 'pass' | 'fail'; verdict: string; right: boolean; seconds: number; trials: number; reason: string }
const results: TrustRun[] = [];
try {
  for (let run = 1; run <= runs; run++) {
    for (const c of chosen) {
      const started = Date.now();
      // A run that ends in an error is a wrong answer too (the CLI would exit 1 with one line).
      const row: TrustRun = await gate({ ...c.input, seed: run, maxSeconds: budgetSeconds(c) }).then(
        (result) => ({ case: c.name, run, expect: c.expect, verdict: verdictLabel(result), right: result.outcome === c.expect,
          seconds: Number(result.seconds.toFixed(1)), trials: result.trials, reason: result.reason }),
        (error: Error) => ({ case: c.name, run, expect: c.expect, verdict: 'ERROR', right: false,
          seconds: Number(((Date.now() - started) / 1000).toFixed(1)), trials: 0, reason: error.message }));
      results.push(row);
      fs.appendFileSync(values.out, `${JSON.stringify(row)}\n`);
      process.stderr.write(`bench:gate-trust: round ${run}/${runs} ${c.name}: ${row.verdict} in ${row.seconds} s${row.right ? '' : '  <-- WRONG'}\n`);
    }
  }
} finally {
  await cleanupAll();
}
process.stdout.write('| case | should | runs | right | wrong | verdicts | median s | max s |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n');
for (const c of chosen) {
  const mine = results.filter((row) => row.case === c.name);
  const verdicts: Record<string, number> = {};
  for (const row of mine) verdicts[row.verdict] = (verdicts[row.verdict] ?? 0) + 1;
  const seconds = mine.map((row) => row.seconds);
  process.stdout.write(`| ${c.name} | ${c.expect.toUpperCase()} | ${mine.length} | ${mine.filter((row) => row.right).length} | ${mine.filter((row) => !row.right).length} | ` +
    `${Object.entries(verdicts).map(([verdict, count]) => `${verdict} ${count}`).join(', ')} | ${quantile(seconds, 0.5).toFixed(1)} | ${Math.max(...seconds).toFixed(1)} |\n`);
}
