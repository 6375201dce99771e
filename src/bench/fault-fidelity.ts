// `npm run bench:fidelity -- --reference PATH`: does the embedded Toxiproxy-compatible server
// make the same windows as a real toxiproxy-server? Per fault cell (K = 100 ms exact behind
// nginx 60 s, POST, retry off, every cell through the fault layer), W (the window's width, ms)
// through each server, N runs each, the two servers' sweeps alternating so that the machine's
// drift meets both alike. It prints per cell the pooled W of each server with its interval, the
// ratio of the pooled W, and the geometric mean of the run-by-run ratios with its 95% interval
// (a t-interval over runs: it covers what varies between runs, not only the counts).
//
// The reference is never a dependency: build it in a temp dir (docs/benchmarks.md says how).
// Each fault gets offsets that hold its whole window with room on both sides, so that W is
// measured, not cut (a cut W is a lower bound, and the report says so).
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { sweep } from '../api.js';
import { analyzeHistory } from '../analysis/analyze-history.js';
import type { HistoryRecord } from '../history/records.js';
import { localRuntime } from '../runtime/local-runtime.js';
import { cleanupAll } from '../util/cleanup.js';
import { tagRun, upstreamWidth } from './pooled-runs.js';
import { geometricMeanInterval } from '../util/stats.js';
import { sampleProcessCpu } from './process-cpu.js';

const { values } = parseArgs({
  options: {
    reference: { type: 'string' },
    runs: { type: 'string', default: '4' },
    lanes: { type: 'string', default: '16' },
    scale: { type: 'string', default: '1' },
    json: { type: 'string' },
    out: { type: 'string' },
    cells: { type: 'string' },
  },
});
if (!values.reference) {
  process.stderr.write('bench:fidelity needs --reference PATH: a real toxiproxy-server (docs/benchmarks.md says how to build one)\n');
  process.exit(2);
}

const step = (from: number, to: number) => Array.from({ length: Math.round((to - from) / 0.5) + 1 }, (_, i) => from + i * 0.5);
/** Each fault, its offsets (the window and room around it) and its trials per offset (about 100 failures a run or more). */
const FAULTS = [
  // Through the fault layer the probe sees the close one hop late, so the window sits 0.5-2.5 ms
  // before the probed close, and a slow hop's tail spreads failures over several ms.
  { label: 'none', faults: [], offsets: step(-6, 3), trials: 100 },
  { label: 'latency:upstream:5ms', faults: ['latency:upstream:5ms'], offsets: step(-12, 4), trials: 30 },
  { label: 'latency:downstream:5ms', faults: ['latency:downstream:5ms'], offsets: step(-8, 5), trials: 60 },
  { label: 'slow_close:downstream:20ms', faults: ['slow_close:downstream:20ms'], offsets: step(-5, 26), trials: 15 },
] as const;
const SERVERS = ['embedded', 'reference'] as const;
type Server = typeof SERVERS[number];
const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;

async function oneSweep(fault: typeof FAULTS[number], server: Server, run: number) {
  // The fault layer's own CPU: a layer that needs more of the 2 cores leaves less to the harness.
  const cpu = sampleProcessCpu({ faultLayer: /toxiproxy\/main\.js|toxiproxy-server/ });
  let cpuMs: Record<string, number> = {};
  const result = await sweep({
    proxyTimeout: ['60s'], upstreamTimeout: ['100ms'], methods: ['POST'], retry: ['off'], toxiproxy: 'always',
    faults: [[...fault.faults]], offsets: [...fault.offsets], trials: Math.round(fault.trials * Number(values.scale)),
    lanes: Number(values.lanes), seed: run,
  }, {
    runtime: localRuntime(server === 'reference' ? { toxiproxyBinary: values.reference! } : {}),
    ...(values.out ? { historyFile: `${values.out}/${fault.label.replaceAll(':', '-')}-${server}-run${run}.jsonl` } : {}),
  }).finally(() => cpuMs = cpu.stop());
  const trials = result.history.filter((record) => record.type === 'trial').length;
  const version = result.versions.toxiproxy ?? '?';
  // The embedded server unless asked for the reference: a toxiproxy-server on PATH would be picked up silently.
  if ((server === 'embedded') !== /embedded/.test(version)) throw new Error(`asked for the ${server} server, got ${version}`);
  const width = upstreamWidth(result.cells[0]!);
  const history = tagRun(result.history, run);
  return {
    history, version, widthMs: width.widthMs, cut: width.cutAt.length > 0,
    excluded: width.excludedBlocks.length, blocks: width.blocks + width.excludedBlocks.length,
    faultLayerCpuMsPer1000Trials: Math.round(((cpuMs.faultLayer ?? 0) / trials) * 1000),
  };
}

/** Pooled W of one server over all its runs, with its standard error. */
function pooled(histories: HistoryRecord[][]) {
  const cell = analyzeHistory(histories.flat().filter((record) => record.type === 'cell' || record.type === 'trial')).cells[0]!;
  const width = upstreamWidth(cell);
  return { widthMs: width.widthMs, ci95: width.widthMsCi95, standardErrorMs: width.standardErrorMs, cutAt: width.cutAt, excludedBlocks: width.excludedBlocks.length, blocks: width.blocks };
}

const runs = Number(values.runs);
const report = [];
if (values.out) fs.mkdirSync(values.out, { recursive: true });
const versions = new Set<string>();
try {
  for (const fault of FAULTS.filter((f) => values.cells === undefined || values.cells.split(',').includes(f.label))) {
    const histories: Record<Server, HistoryRecord[][]> = { embedded: [], reference: [] };
    const perRun: Record<Server, number[]> = { embedded: [], reference: [] };
    const cpuPerRun: Record<Server, number[]> = { embedded: [], reference: [] };
    for (let run = 1; run <= runs; run++) {
      // Alternate which server goes first, so that neither always meets the machine's warmer moments.
      for (const server of run % 2 ? SERVERS : [...SERVERS].reverse()) {
        const one = await oneSweep(fault, server, run);
        versions.add(one.version);
        histories[server].push(one.history);
        perRun[server].push(round(one.widthMs));
        cpuPerRun[server].push(one.faultLayerCpuMsPer1000Trials);
        process.stderr.write(`${fault.label} run ${run} ${server} (${one.version}): W ${one.widthMs.toFixed(3)} ms${one.cut ? ' (cut: a lower bound)' : ''}; ` +
          `${one.excluded} of ${one.blocks} blocks disturbed; fault layer ${one.faultLayerCpuMsPer1000Trials} ms CPU per 1,000 trials\n`);
      }
    }
    const [embedded, reference] = SERVERS.map((server) => pooled(histories[server]));
    // Per run, the two servers' sweeps ran back to back: their ratio cancels the machine's drift
    // between runs, which moved W through either server by up to 4x in this bench's own runs.
    const paired = geometricMeanInterval(perRun.embedded.map((w, i) => w / perRun.reference[i]!));
    const row = {
      cell: fault.label, embedded, reference, perRun, faultLayerCpuMsPer1000Trials: cpuPerRun,
      pooledRatio: round(embedded!.widthMs / reference!.widthMs),
      ratio: paired ? round(paired.mean) : null, ratioCi95: paired ? paired.ci95.map((v) => round(v)) : null,
    };
    report.push(row);
    process.stdout.write(`${fault.label}: W embedded ${round(embedded!.widthMs)} [${embedded!.ci95.map((v) => round(v)).join(', ')}] (runs ${perRun.embedded.join(' ')}), ` +
      `reference ${round(reference!.widthMs)} [${reference!.ci95.map((v) => round(v)).join(', ')}] (runs ${perRun.reference.join(' ')}); ` +
      `ratio of pooled W ${row.pooledRatio}; run by run ${row.ratio ?? '-'} [${row.ratioCi95?.join(', ') ?? 'needs 2 runs'}]` +
      `${embedded!.cutAt.length + reference!.cutAt.length > 0 ? ' (a pooled W is cut: widen the offsets)' : ''}\n`);
  }
  process.stdout.write(`servers: ${[...versions].join(' vs ')}; ${runs} runs each, ${values.lanes} lanes\n`);
  if (values.json) fs.writeFileSync(values.json, JSON.stringify({ versions: [...versions], runs, lanes: Number(values.lanes), cells: report }, null, 1) + '\n');
} finally {
  await cleanupAll();
}
