// `npm run bench`: how fast and how precisely the workload hits an intended idle gap, at
// K = 100 ms exact behind nginx P = 60 s. Not a test: it reports what this machine reaches.
//   trialsPerSecond   all trials / wall time of the trial phase
//   usefulPerSecond   trials whose measured gap is within +-0.25 ms of the intended one
//   lateness          p1/p50/p99 of (measured gap - intended gap), ms
//   binTableSeconds   wall time until every 0.5 ms bin in -3..+3 ms holds >= 400 trials
import { parseArgs } from 'node:util';
import { binStart } from '../analysis/bins.js';
import { memoryHistory } from '../history/history-file.js';
import type { TrialRecord } from '../history/records.js';
import { probeIdleClose } from '../probe/probe.js';
import { localRuntime } from '../runtime/local-runtime.js';
import { cellId } from '../scenario/cells.js';
import { cleanupAll } from '../util/cleanup.js';
import { quantile } from '../util/stats.js';
import { dueTrials, runBoundaryTrials } from '../workload/boundary-trials.js';

const { values } = parseArgs({
  options: {
    lanes: { type: 'string', default: '128' },
    'spin-ms': { type: 'string', default: '2' },
    'max-seconds': { type: 'string', default: '60' },
    'per-bin': { type: 'string', default: '400' },
    json: { type: 'boolean', default: false },
  },
});
const lanes = Number(values.lanes);
const spinMs = Number(values['spin-ms']);
const perBin = Number(values['per-bin']);
const K = 100;
// Aim at bin centres, so that a trial within +-0.25 ms of its aim stays in its bin.
const BIN_CENTRES = Array.from({ length: 12 }, (_, i) => -2.75 + i * 0.5);

const runtime = localRuntime();
const topology = await runtime.start({
  proxy: { flavour: 'nginx', lanes, keepaliveTimeoutMs: 60_000, keepaliveRequests: 1_000_000, keepaliveConnections: 1, retry: 'off', workerProcesses: 1 },
  upstream: { keepAliveTimeoutMs: K, closeMode: 'exact', closeStyle: 'fin' },
});
try {
  const probe = await probeIdleClose(topology.upstream, { samples: 40 });
  const counts = new Map<number, number>(BIN_CENTRES.map((centre) => [binStart(centre), 0]));
  const trials: TrialRecord[] = [];
  let filledAtMs: number | null = null;
  const started = performance.now();
  const cell = { proxyTimeoutMs: 60_000, upstreamTimeoutMs: K, upstreamClose: 'exact' as const, closeStyle: 'fin' as const, method: 'GET' as const, retry: 'off' as const, faults: [], path: 'direct' as const };
  await runBoundaryTrials(topology.proxy, {
    cells: [{ cell: { id: cellId(cell), ...cell }, trialPrefix: 'bench', counter: { next: 0 },
      due: dueTrials({ boundaries: [{ kind: 'upstream' }], offsetsMs: BIN_CENTRES, trialsPerOffset: 100_000 }) }],
    boundaries: [{ kind: 'upstream', atMs: probe.medianCloseMs }],
    offsetsMs: BIN_CENTRES,
    lanes,
    seed: 1,
    maxSeconds: Number(values['max-seconds']),
    spinMs,
    onTrial: (trial) => {
      trials.push(trial);
      const bin = binStart(trial.gapOffsetMs);
      if (counts.has(bin)) counts.set(bin, counts.get(bin)! + 1);
      if (filledAtMs === null && [...counts.values()].every((count) => count >= perBin)) filledAtMs = performance.now();
    },
    stopWhen: () => (filledAtMs !== null ? 'bin table filled' : null),
  }, memoryHistory());
  const seconds = ((filledAtMs ?? performance.now()) - started) / 1000;
  const lateness = trials.map((trial) => trial.gapOffsetMs - (trial.aimOffsetMs ?? trial.intendedOffsetMs));
  const useful = lateness.filter((late) => Math.abs(late) <= 0.25).length;
  const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;
  const result = {
    lanes,
    spinMs,
    effectiveCloseMs: probe.medianCloseMs,
    trials: trials.length,
    seconds: round(seconds, 2),
    trialsPerSecond: round(trials.length / seconds, 1),
    usefulPerSecond: round(useful / seconds, 1),
    usefulFraction: round(useful / trials.length),
    lateness: { p1: round(quantile(lateness, 0.01)), p50: round(quantile(lateness, 0.5)), p99: round(quantile(lateness, 0.99)) },
    binTableSeconds: filledAtMs === null ? null : round(seconds, 2),
    minTrialsPerBin: Math.min(...counts.values()),
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
  } else {
    process.stdout.write(`lanes ${lanes}, spin ${spinMs} ms, effective close ${probe.medianCloseMs} ms\n` +
      `${result.trials} trials in ${result.seconds} s: ${result.trialsPerSecond} trials/s, ${result.usefulPerSecond} useful/s (${(result.usefulFraction * 100).toFixed(1)}% within +-0.25 ms)\n` +
      `lateness p1 ${result.lateness.p1} ms, p50 ${result.lateness.p50} ms, p99 ${result.lateness.p99} ms\n` +
      `bin table (12 bins in -3..+3 ms, >= ${perBin} each): ${result.binTableSeconds === null ? `not filled (min ${result.minTrialsPerBin})` : `${result.binTableSeconds} s`}\n`);
  }
} finally {
  await topology.stop();
  await cleanupAll();
}
