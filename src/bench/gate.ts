// `npm run bench:gate`: how long the gate takes to a verdict on cases shaped like real
// deployments (gate-cases.ts), against the goals of the gate's rebuild. Not a test: it reports
// what this machine reaches.
//   npm run bench:gate [-- --json --case NAME]
import { parseArgs } from 'node:util';
import { gate } from '../api.js';
import { cleanupAll } from '../util/cleanup.js';
import { verdictLabel } from '../gate/gate-report.js';
import { budgetSeconds, GATE_CASES as CASES } from './gate-cases.js';

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, case: { type: 'string', multiple: true } } });
const chosen = values.case ? CASES.filter((c) => values.case!.includes(c.name)) : CASES;
if (chosen.length === 0) {
  process.stderr.write(`bench:gate: no such case: use ${CASES.map((c) => c.name).join(', ')}\n`);
  process.exit(2);
}

const rows = [];
try {
  for (const c of chosen) {
    process.stderr.write(`bench:gate: ${c.name} ...\n`);
    const result = await gate({ ...c.input, maxSeconds: budgetSeconds(c) });
    const verdict = verdictLabel(result);
    rows.push({
      case: c.name, verdict, seconds: Number(result.seconds.toFixed(1)), trials: result.trials,
      trialsPerSecond: result.trials > 0 ? Number((result.trials / result.seconds).toFixed(1)) : 0,
      goal: `${c.expect.toUpperCase()} <= ${c.goalSeconds} s`,
      met: result.outcome === c.expect && result.seconds <= c.goalSeconds,
      reason: result.reason,
    });
  }
} finally {
  await cleanupAll();
}
if (values.json) {
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
} else {
  process.stdout.write('| case | verdict | s to verdict | trials | trials/s | goal | met |\n| --- | --- | --- | --- | --- | --- | --- |\n');
  for (const row of rows) process.stdout.write(`| ${row.case} | ${row.verdict} | ${row.seconds} | ${row.trials} | ${row.trialsPerSecond} | ${row.goal} | ${row.met ? 'yes' : 'no'} |\n`);
}
