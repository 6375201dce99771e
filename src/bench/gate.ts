// `npm run bench:gate`: how long the gate takes to a verdict on cases shaped like real
// deployments, against the goals of the gate's rebuild (issue 14). Not a test: it reports what
// this machine reaches. The upstream is the harness's own upstream program: `stock` is Node's
// own keep-alive handling (it closes about keepAliveTimeout + 1 s), `exact` closes at K.
//   npm run bench:gate [-- --json --case NAME]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gate, type GateInput } from '../api.js';
import { cleanupAll } from '../util/cleanup.js';

const UPSTREAM = fileURLToPath(new URL('../../containers/upstream/upstream-server.mjs', import.meta.url));

interface GateCase {
  name: string;
  /** What the verdict must be, and within how many seconds (the rebuild's goal on 2 cores). */
  expect: 'pass' | 'fail';
  goalSeconds: number;
  input: GateInput;
}

const upstream = (close: 'stock' | 'exact', keepAliveMs: number) =>
  `node ${path.relative(process.cwd(), UPSTREAM)} --close-mode ${close} --keep-alive-timeout ${keepAliveMs}`;

const CASES: GateCase[] = [
  ...(['GET', 'POST'] as const).map((method): GateCase => ({
    name: `node-defaults-behind-60s-${method}`, expect: 'fail', goalSeconds: 20,
    input: { proxyTimeoutMs: 60_000, upstreamCmd: upstream('stock', 5000), method },
  })),
  { name: 'keepalive-3s-behind-2s', expect: 'pass', goalSeconds: 120, input: { proxyTimeoutMs: 2000, upstreamCmd: upstream('stock', 3000) } },
  ...(['GET', 'POST'] as const).map((method): GateCase => ({
    name: `close-200ms-behind-60s-${method}`, expect: 'fail', goalSeconds: 10,
    input: { proxyTimeoutMs: 60_000, upstreamCmd: upstream('exact', 200), method },
  })),
  { name: 'close-1.5s-behind-500ms', expect: 'pass', goalSeconds: 60, input: { proxyTimeoutMs: 500, upstreamCmd: upstream('exact', 1500) } },
  { name: 'keepalive-65s-behind-60s', expect: 'pass', goalSeconds: 30, input: { proxyTimeoutMs: 60_000, upstreamCmd: upstream('stock', 65_000) } },
];

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
    const result = await gate({ ...c.input, maxSeconds: Math.max(120, c.goalSeconds * 3) });
    const verdict = result.outcome === 'pass' ? 'PASS' : result.failureKind === 'masked' ? 'FAIL (masked)' : result.outcome === 'fail' ? 'FAIL (unsafe)' : 'FAIL (undecided)';
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
