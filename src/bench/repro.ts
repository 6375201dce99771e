// `npm run bench:repro`: does a number hold from run to run? N runs of one fixed sweep (nginx
// 60 s in front of an upstream closing at exactly 100 ms; POST with retry default and off;
// offsets -4..+2 ms, the window with room for a probe 2 ms off, 160 trials each), one after another on a quiet
// machine. POST/default and POST/off measure one pairing (nginx retries no POST under either
// policy): two physically identical cells, each with about 100 failures a run.
//
// Per cell it prints W (the window's width, ms) and the rate per aimed request across runs:
// mean, spread, max/min, how many runs' 95% intervals cover the pooled value (all runs' trials
// together), and per run the ratio of the identical cells' W. With --lanes a,b,c it measures
// every load in turn (W against load). Not a test: it reports what this machine does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sweep } from '../api.js';
import { analyzeHistory, type CellAnalysis } from '../analysis/analyze-history.js';
import type { HistoryRecord } from '../history/records.js';
import { localRuntime } from '../runtime/local-runtime.js';
import { cleanupAll } from '../util/cleanup.js';
import { tagRun, upstreamWidth } from './pooled-runs.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    lanes: { type: 'string' },
    trials: { type: 'string', default: '160' },
    methods: { type: 'string', default: 'POST' },
    offsets: { type: 'string', default: '-4,-3.5,-3,-2.5,-2,-1.5,-1,-0.5,0,0.5,1,1.5,2' },
    seed: { type: 'string', default: '1' },
    json: { type: 'string' },
    out: { type: 'string' },
    // on, off, or alternate (odd runs capture, even runs do not): what --capture does to W.
    capture: { type: 'string', default: 'off' },
  },
});
const runs = Number(values.runs);
const loads = values.lanes === undefined ? [undefined] : values.lanes.split(',').map(Number);
const IDENTICAL = ['P60000-K100-exact-POST-default', 'P60000-K100-exact-POST-off'] as const;
const RATIO_BOUNDS = [0.8, 1.25] as const;

interface RunFigures {
  run: number;
  lanes: number;
  seconds: number;
  trialsPerSecond: number;
  cells: { id: string; widthMs: number; widthMsCi95: [number, number]; dispersion: number; disturbed: boolean; blocksLeftOut: number; failureRate: number; failureRateCi95: [number, number];
    proxyCpuShare?: number; machineBusyShare?: number; machineStealShare?: number; latenessP99Ms?: number; offTarget?: number }[];
}

const round = (value: number, digits = 4) => Math.round(value * 10 ** digits) / 10 ** digits;

const captures = (run: number) => values.capture === 'on' || (values.capture === 'alternate' && run % 2 === 1);

async function oneRun(run: number, lanes: number | undefined): Promise<{ figures: RunFigures; history: HistoryRecord[] }> {
  const started = performance.now();
  const captureDir = captures(run) ? fs.mkdtempSync(path.join(os.tmpdir(), 'keepalive-lab-repro-capture-')) : null;
  const result = await sweep({
    ...(captureDir ? { capture: true, out: captureDir } : {}),
    proxyTimeout: ['60s'], upstreamTimeout: ['100ms'], methods: values.methods!.split(',') as ('GET' | 'POST')[], retry: ['default', 'off'],
    offsets: values.offsets!.split(',').map(Number),
    trials: Number(values.trials), seed: Number(values.seed) + run, ...(lanes !== undefined ? { lanes } : {}),
  }, { runtime: localRuntime(), ...(values.out ? { historyFile: `${values.out}/lanes${lanes ?? 'default'}-run${run}.jsonl` } : {}) });
  const seconds = (performance.now() - started) / 1000;
  if (captureDir) fs.rmSync(captureDir, { recursive: true, force: true });
  const trials = result.cells.reduce((sum, cell) => sum + cell.trials, 0);
  // The methods of one topology fire together: each topology's seconds appear on each of its cells.
  const methods = new Set(result.cells.map((cell) => cell.method)).size;
  const firing = result.cells.reduce((sum, cell) => sum + (cell.load?.seconds ?? 0), 0) / methods;
  return {
    history: result.history,
    figures: {
      run, lanes: result.cells[0]?.load?.lanes ?? lanes ?? 0, seconds: round(seconds, 1), trialsPerSecond: round(trials / firing, 0),
      cells: result.cells.map((cell) => ({
        id: cell.id,
        widthMs: round(upstreamWidth(cell).widthMs), widthMsCi95: upstreamWidth(cell).widthMsCi95.map((v) => round(v)) as [number, number],
        dispersion: round(upstreamWidth(cell).dispersion, 2),
        // The sweep's own word that the machine disturbed most blocks: W then rests on the few left.
        disturbed: upstreamWidth(cell).disturbed, blocksLeftOut: upstreamWidth(cell).excludedBlocks.length,
        failureRate: round(cell.failureRate), failureRateCi95: cell.failureRateCi95.map((v) => round(v)) as [number, number],
        ...(cell.load?.proxyCpuShare !== undefined ? { proxyCpuShare: cell.load.proxyCpuShare } : {}),
        ...(cell.load?.machineBusyShare !== undefined ? { machineBusyShare: cell.load.machineBusyShare, machineStealShare: cell.load.machineStealShare ?? 0 } : {}),
        ...(cell.lateness ? { latenessP99Ms: cell.lateness.p99Ms, offTarget: cell.lateness.offTarget } : {}),
      })),
    },
  };
}

function summarize(figures: RunFigures[], pooled: CellAnalysis[]) {
  return pooled.map((cell) => {
    const own = figures.map((run) => run.cells.find((c) => c.id === cell.id)!);
    const widths = own.map((c) => c.widthMs);
    const mean = widths.reduce((a, b) => a + b, 0) / widths.length;
    const sd = Math.sqrt(widths.reduce((sum, w) => sum + (w - mean) ** 2, 0) / Math.max(1, widths.length - 1));
    const pooledW = upstreamWidth(cell).widthMs;
    return {
      id: cell.id,
      pooledWidthMs: round(pooledW),
      widthMs: widths,
      meanWidthMs: round(mean),
      cv: mean === 0 ? 0 : round(sd / mean, 3),
      maxOverMin: Math.min(...widths) === 0 ? null : round(Math.max(...widths) / Math.min(...widths), 2),
      widthCoversPooled: own.filter((c) => c.widthMsCi95[0] <= pooledW && pooledW <= c.widthMsCi95[1]).length,
      rates: own.map((c) => c.failureRate),
      rateCoversPooled: own.filter((c) => c.failureRateCi95[0] <= cell.failureRate && cell.failureRate <= c.failureRateCi95[1]).length,
    };
  });
}

const report: unknown[] = [];
if (values.out) fs.mkdirSync(values.out, { recursive: true });
try {
  for (const lanes of loads) {
    const figures: RunFigures[] = [];
    const histories: HistoryRecord[][] = [];
    for (let run = 1; run <= runs; run++) {
      const { figures: one, history } = await oneRun(run, lanes);
      figures.push(one);
      histories.push(tagRun(history, run));
      const line = one.cells.map((c) => `${c.id.replace('P60000-K100-exact-', '')} W ${c.widthMs.toFixed(3)} [${c.widthMsCi95.map((v) => v.toFixed(3)).join(', ')}]` +
        `${c.disturbed ? ' (disturbed)' : ''}, ${c.blocksLeftOut} blocks left out`).join('; ');
      process.stderr.write(`lanes ${one.lanes} run ${run}${captures(run) ? ' (captured)' : ''}: ${one.seconds} s, ${one.trialsPerSecond} trials/s; ${line}\n`);
    }
    // Pooled: every run's trials as one cell (each run's blocks its own blocks).
    const pooled = analyzeHistory(histories.flat().filter((record) => record.type === 'cell' || record.type === 'trial')).cells;
    const cells = summarize(figures, pooled);
    if (values.capture === 'alternate') {
      // Each half pooled on its own: W with tcpdump capturing, and without.
      for (const [label, keep] of [['captured', true], ['not captured', false]] as const) {
        const half = histories.filter((_, i) => captures(i + 1) === keep).flat().filter((record) => record.type === 'cell' || record.type === 'trial');
        for (const cell of analyzeHistory(half).cells) {
          const width = upstreamWidth(cell);
          process.stdout.write(`  ${label}: ${cell.id} pooled W ${round(width.widthMs)} [${width.widthMsCi95.map((v) => round(v)).join(', ')}] ms over ${cell.trials} trials\n`);
        }
      }
    }
    const ratios = figures.map((run) => {
      const [a, b] = IDENTICAL.map((id) => run.cells.find((c) => c.id === id)!.widthMs);
      return b === 0 ? null : round(a! / b!, 3);
    });
    const within = (ratio: number | null) => ratio !== null && ratio >= RATIO_BOUNDS[0] && ratio <= RATIO_BOUNDS[1];
    const inBounds = ratios.filter(within).length;
    // Runs in which the sweep said neither identical cell was disturbed: the ones it vouches for.
    const vouched = figures.flatMap((run, i) => (IDENTICAL.some((id) => run.cells.find((c) => c.id === id)!.disturbed) ? [] : [ratios[i]!]));
    const lanesUsed = figures[0]!.lanes;
    report.push({ lanes: lanesUsed, runs, cells, identicalRatios: ratios, identicalRatiosInBounds: inBounds,
      runsNotDisturbed: vouched.length, identicalRatiosInBoundsNotDisturbed: vouched.filter(within).length, runsFigures: figures });
    process.stdout.write(`\nlanes ${lanesUsed}, ${runs} runs, median ${figures.map((f) => f.trialsPerSecond).sort((a, b) => a - b)[Math.floor(runs / 2)]} trials/s while firing\n`);
    for (const cell of cells) {
      process.stdout.write(`  ${cell.id}: pooled W ${cell.pooledWidthMs} ms; runs ${cell.widthMs.map((w) => w.toFixed(3)).join(' ')}; cv ${cell.cv}; max/min ${cell.maxOverMin}; ` +
        `W's interval covers pooled in ${cell.widthCoversPooled}/${runs}; rate's in ${cell.rateCoversPooled}/${runs}\n`);
    }
    process.stdout.write(`  identical cells (POST default / POST off) W ratio per run: ${ratios.join(' ')}; within [${RATIO_BOUNDS.join(', ')}] in ${inBounds}/${runs}; ` +
      `in the ${vouched.length} runs the sweep did not mark disturbed: ${vouched.filter(within).length}/${vouched.length}\n`);
  }
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(report, null, 1) + '\n');
} finally {
  await cleanupAll();
}
