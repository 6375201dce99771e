// report.html's chart of expected failures a day against the request rate, per racing cell, on
// log scales, with the traffic the run was given marked.
import type { RunPrediction } from '../../predict/predict-run.js';
import { formatRate } from '../../scenario/traffic.js';
import { escapeHtml, figure, table } from './html-parts.js';
import { trafficSentences } from '../traffic-text.js';
import { countText, MODEL_ASSUMPTIONS } from '../prediction-text.js';
import { renderSvg, type ChartSpec } from './vega-svg.js';

interface CurveRow {
  cell: string;
  ratePerSecond: number;
  failuresPerDay: number;
  failuresPerMillion: number;
}

function curveRows(prediction: RunPrediction): CurveRow[] {
  return prediction.cells.flatMap((cell) => (cell.curve?.points ?? []).map((point) => ({
    cell: cell.cell, ratePerSecond: point.ratePerSecond, failuresPerDay: point.failuresPerDay, failuresPerMillion: point.failuresPerMillion,
  })));
}

export function trafficCurveSpec(rows: readonly CurveRow[], trafficRates: readonly number[]): ChartSpec {
  // Log scales cannot draw 0: a rate with no failure expected is left off the line (the table keeps it).
  const drawn = rows.filter((row) => row.failuresPerDay > 0);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 480,
    height: 240,
    layer: [
      { data: { values: trafficRates.map((x) => ({ x })) }, mark: { type: 'rule', strokeDash: [4, 3], color: '#555' }, encoding: { x: { field: 'x', type: 'quantitative', scale: { type: 'log' } } } },
      {
        data: { values: drawn },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'ratePerSecond', type: 'quantitative', title: 'requests per second at the proxy', scale: { type: 'log' } },
          y: { field: 'failuresPerDay', type: 'quantitative', title: 'expected failures a day', scale: { type: 'log' } },
          color: { field: 'cell', type: 'nominal', title: 'cell', legend: { labelLimit: 320, orient: 'bottom', columns: 1 } },
        },
      },
    ],
  } as ChartSpec;
}

export async function trafficBlock(prediction: RunPrediction | null): Promise<string> {
  if (!prediction) return '';
  const rows = curveRows(prediction);
  const rates = prediction.cells[0]?.segments.map((segment) => segment.ratePerSecond) ?? [];
  return `<h2>At your traffic</h2>
<ul>${trafficSentences(prediction).map((sentence) => `<li>${escapeHtml(sentence)}</li>`).join('')}</ul>
<p class="note">${escapeHtml(MODEL_ASSUMPTIONS)} The dashed line marks the traffic given.</p>
${rows.length === 0 ? '' : figure('traffic-curve', 'Expected failures a day against the request rate', await renderSvg(trafficCurveSpec(rows, rates)),
    table(['cell', 'requests/s', 'failures per million', 'a day'], rows.map((row) => [row.cell, formatRate(row.ratePerSecond), countText(row.failuresPerMillion), countText(row.failuresPerDay)])))}`;
}
