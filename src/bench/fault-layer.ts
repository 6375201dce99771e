// `npm run bench:toxiproxy`: does the fault layer distort what it carries? The same cell
// (K = 100 ms exact, nginx P = 60 s, POST, retry off), straight and through Toxiproxy with no
// toxics: window edges, failure rate, trial latency and CPU side by side, at ~1,000 trials/s
// by default. `--runtime containers` compares the same on the containers runtime.
//
// The two runs' windows are compared from the upstream's own idle close (its record of each
// connection's idle time at close), not from each run's probed close: the probe watches the
// close from a client, so through the fault layer it sees it one hop later and every offset of
// that run moves earlier by the hop (measured: probed 101.75 vs 101.08 ms, the upstream's own
// 100.14 vs 100.22 ms). The probed axis is printed too.
import { parseArgs } from 'node:util';
import { sweep } from '../api.js';
import { runtimeChoice, selectRuntime } from '../runtime/select-runtime.js';
import { binTrials, windowEdges } from '../analysis/bins.js';
import type { TrialRecord } from '../history/records.js';
import { quantile } from '../util/stats.js';
import { sampleProcessCpu } from './process-cpu.js';

// Who is who among the topology's processes, by command line.
const CPU_ROLES = {
  nginx: /^nginx: /,
  upstream: /upstream-server\.mjs/,
  faultLayer: /toxiproxy\/main\.js|cli\/main\.js toxiproxy|toxiproxy-server/,
};

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '150' },
    lanes: { type: 'string', default: '128' },
    'spin-ms': { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
    runtime: { type: 'string', default: 'local' },
  },
});
const { runtime } = await selectRuntime(runtimeChoice(values.runtime));

const rows = [];
let cpuMs: Record<string, number> = {};
for (const toxiproxy of ['auto', 'always'] as const) {
  const started = performance.now();
  const harnessCpu = process.cpuUsage();
  const cpu = sampleProcessCpu(CPU_ROLES);
  const result = await sweep({
    proxyTimeout: ['60s'],
    upstreamTimeout: ['100ms'],
    methods: ['POST'],
    retry: ['off'],
    toxiproxy,
    offsets: Array.from({ length: 21 }, (_, i) => -6 + i * 0.5),
    trials: Number(values.trials),
    lanes: Number(values.lanes),
  }, { spinMs: Number(values['spin-ms']), runtime }).finally(() => cpuMs = cpu.stop());
  const harness = process.cpuUsage(harnessCpu);
  const cell = result.cells[0]!;
  const trials = result.history.filter((r): r is TrialRecord => r.type === 'trial');
  const latencies = trials.filter((t) => t.errorClass === 'ok').map((t) => t.latencyMs);
  const span = (trials[trials.length - 1]!.endedAt - trials[0]!.sentAt) / 1000;
  const window = cell.window.find((w) => w.boundary === 'upstream');
  const upstreamCloseMs = cell.upstreamIdleCloseMs ?? cell.upstreamTimeoutMs;
  const ownCloseWindow = windowEdges(binTrials(trials, 0.95, undefined, (trial) => trial.gapMs - upstreamCloseMs))
    .find((w) => w.boundary === 'upstream');
  rows.push({
    path: cell.path,
    toxiproxy: result.versions.toxiproxy ?? null,
    trials: cell.trials,
    trialsPerSecond: Math.round(trials.length / span),
    failureRate: Math.round(cell.failureRate * 10_000) / 10_000,
    failureRateCi95: cell.failureRateCi95.map((v) => Math.round(v * 10_000) / 10_000),
    probedCloseMs: cell.effectiveCloseMs,
    upstreamCloseMs,
    /** Core window from the upstream's own close: what the two paths are compared on. */
    coreMs: ownCloseWindow?.coreMs ?? null,
    anyMs: ownCloseWindow?.anyMs ?? null,
    peak: ownCloseWindow?.peak ?? null,
    /** Core window from the run's probed close (the sweep's own axis). */
    coreFromProbedCloseMs: window?.coreMs ?? null,
    latencyMs: { p50: round(quantile(latencies, 0.5)), p99: round(quantile(latencies, 0.99)) },
    // CPU per 1,000 trials, over the whole run (topology start, probe and cells included).
    cpuMsPer1000Trials: Object.fromEntries(Object.entries({ ...cpuMs, harness: (harness.user + harness.system) / 1000 })
      .map(([role, ms]) => [role, Math.round((ms / trials.length) * 1000)])),
    seconds: Math.round((performance.now() - started) / 100) / 10,
  });
}
const [direct, through] = rows;
const added = { p50: round(through!.latencyMs.p50 - direct!.latencyMs.p50), p99: round(through!.latencyMs.p99 - direct!.latencyMs.p99) };
// The issue's transparency bar: each edge of the core window within 0.5 ms of the straight run's
// (from the upstream's own close in both runs).
const edgeShiftMs = through!.coreMs && direct!.coreMs
  ? [through!.coreMs[0] - direct!.coreMs[0], through!.coreMs[1] - direct!.coreMs[1]] as const : null;
const transparent = edgeShiftMs !== null && edgeShiftMs.every((shift) => Math.abs(shift) <= 0.5);
if (values.json) {
  process.stdout.write(JSON.stringify({ direct, through, addedLatencyMs: added, coreEdgeShiftMs: edgeShiftMs, withinHalfMsAtBothEdges: transparent }) + '\n');
} else {
  for (const row of rows) {
    process.stdout.write(`${row.path.padEnd(9)} ${row.trials} trials (${row.trialsPerSecond}/s): failures ${(row.failureRate * 100).toFixed(2)}% ` +
      `[${row.failureRateCi95.map((v) => (v * 100).toFixed(2)).join(', ')}]; from the upstream's own close (${row.upstreamCloseMs} ms): core ${JSON.stringify(row.coreMs)}, any ${JSON.stringify(row.anyMs)}, ` +
      `peak ${row.peak ? `${(row.peak.failureRate * 100).toFixed(0)}% at ${row.peak.gapOffsetMs}` : '-'}; ` +
      `from the probed close (${row.probedCloseMs} ms): core ${JSON.stringify(row.coreFromProbedCloseMs)}; latency p50 ${row.latencyMs.p50} p99 ${row.latencyMs.p99} ms; ` +
      `CPU ms per 1,000 trials ${Object.entries(row.cpuMsPer1000Trials).map(([role, ms]) => `${role} ${ms}`).join(', ')}\n`);
  }
  process.stdout.write(`added by ${through!.toxiproxy}: latency p50 ${added.p50} ms, p99 ${added.p99} ms; ` +
    `core edges moved ${edgeShiftMs ? edgeShiftMs.map((shift) => `${shift > 0 ? '+' : ''}${shift}`).join(' / ') : '(no core window)'} ms: ` +
    `${transparent ? 'within' : 'NOT within'} 0.5 ms at both edges\n`);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
