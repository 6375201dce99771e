// Predictions in words and tables: the sentence the reports and the gate print, and predict's
// table and curve.
import { formatDuration, markdownTable } from './format.js';
import type { CellPrediction, RunPrediction } from '../predict/predict-run.js';
import type { FailureCurve, Prediction } from '../predict/prediction.js';
import { formatRate } from '../scenario/traffic.js';

/** Two or three significant digits, whole numbers from 100 on. */
export function countText(value: number): string {
  if (value === 0) return '0';
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  if (value >= 0.01) return String(Number(value.toPrecision(2)));
  return value.toExponential(1);
}

const range = ([low, high]: readonly [number, number]) => `${countText(low)} to ${countText(high)}`;
const bracket = ([low, high]: readonly [number, number]) => `[${countText(low)}, ${countText(high)}]`;

/** "through a pool of 32 (1 worker; a request holds its connection 0.6 ms)" */
export function poolText(prediction: Pick<Prediction, 'pool' | 'workers' | 'answerMs'>): string {
  return `through a pool of ${prediction.pool} idle connections (${prediction.workers} worker${prediction.workers === 1 ? '' : 's'}; a request holds its connection ${prediction.answerMs} ms)`;
}

/** "at 50 requests/s through ...: about N failures per million (95% interval ...), about M a day" */
export function predictionSentence(prediction: Prediction, trafficLabel: string): string {
  return `at ${trafficLabel} ${poolText(prediction)}: about ${countText(prediction.failuresPerMillion)} failures per million requests ` +
    `(95% interval ${range(prediction.failuresPerMillionCi95)}), about ${countText(prediction.failuresPerDay)} a day (${range(prediction.failuresPerDayCi95)})`;
}

export function cellLabel(cell: Pick<CellPrediction, 'cell' | 'proxyTimeoutMs' | 'upstreamTimeoutMs' | 'method'>): string {
  return cell.proxyTimeoutMs === null ? `${cell.cell} (${cell.method})` : `${cell.cell} (proxy ${formatDuration(cell.proxyTimeoutMs)}, upstream ${formatDuration(cell.upstreamTimeoutMs!)})`;
}

export function predictionTable(run: RunPrediction): string {
  return markdownTable(
    ['cell', 'K (ms)', 'W (ms)', 'W 95% CI', 'W fired at (trials/s)', 'failures per million', '95% CI', 'a day', '95% CI', 'new connections'],
    run.cells.map((cell) => cell.noUpstreamClose !== null
      ? [cell.cell, '-', '-', '-', '-', '0', '-', '0', '-', '-']
      : [cell.cell, cell.closeMs.toFixed(1), cell.widthMs.toFixed(3), `[${cell.widthMsCi95.map((v) => v.toFixed(3)).join(', ')}]`, cell.firingRatePerSecond ?? '-',
        countText(cell.failuresPerMillion), bracket(cell.failuresPerMillionCi95),
        countText(cell.failuresPerDay), bracket(cell.failuresPerDayCi95),
        `${(cell.segments.reduce((sum, s) => sum + s.newConnectionShare * s.hours, 0) / 24 * 100).toFixed(1)}%`]),
  );
}

export function curveTable(curve: FailureCurve): string {
  return markdownTable(['requests/s', 'failures per million', '95% CI', 'a day'],
    curve.points.map((point) => [formatRate(point.ratePerSecond), countText(point.failuresPerMillion), bracket(point.failuresPerMillionCi95), countText(point.failuresPerDay)]));
}

export function peakText(curve: FailureCurve): string {
  if (curve.peakPerMillion.failuresPerMillion === 0) return 'No failure expected at any rate from what was measured: the intervals\' upper ends are the bounds.';
  const last = curve.points.at(-1)!;
  const perDay = curve.peakPerDay === last
    ? `a day they still rise at ${formatRate(last.ratePerSecond)} requests/s, the curve's end (${countText(last.failuresPerDay)} a day: deeper connections, reused only when requests overlap, reach K)`
    : `most a day at ${formatRate(curve.peakPerDay.ratePerSecond)} requests/s (${countText(curve.peakPerDay.failuresPerDay)} a day)`;
  return `Most failures per request at ${formatRate(curve.peakPerMillion.ratePerSecond)} requests/s (${countText(curve.peakPerMillion.failuresPerMillion)} per million); ${perDay}.`;
}

/** What the model assumes, in one paragraph (the CLI's and the reports' footnote). */
export const MODEL_ASSUMPTIONS = 'The model: Poisson arrivals spread evenly over the workers; each worker keeps its own pool and reuses the most recently '
  + 'used idle connection (nginx\'s keepalive cache); every request holds its connection for the same time; the window is the one this run measured, '
  + 'on this machine. It leaves out other traffic on the same upstream, retries by clients, bursts, and anything that moves K or W in production '
  + '(another kernel, a network between the proxy and the upstream). W moves with the proxy\'s load ("W fired at": take it from a sweep that fires about as fast '
  + 'as your proxy serves) and with where the proxy and the upstream run (--pin): against soaks here, observed over predicted ran 0.43-1.8 with the layout pinned, 0.33-2.6 unpinned (docs/predict.md).';
