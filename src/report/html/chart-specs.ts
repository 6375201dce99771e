// The report's charts as Vega-Lite specs, each built from the same rows its data table shows.
import type { CellAnalysis } from '../../analysis/analyze-history.js';
import { BIN_MS, type GapBin, type WindowEdges } from '../../analysis/bins.js';
import type { BlockWidth } from '../../analysis/block-widths.js';
import { DISTURBED_OFF_TARGET } from '../../analysis/disturbance.js';
import { faultsLabel } from '../../faults/fault.js';
import { pairingLabel } from '../recommendation.js';
import type { ChartSpec } from './vega-svg.js';

/** The gap chart shows bins in this range of offsets (ms); wider ones (the far points) stay in the table. */
export const NEAR_RANGE_MS: readonly [number, number] = [-5, 5];

/**
 * A bin's 95% interval is drawn as a band only from this many trials up. Below it the interval
 * is too wide to read as a rate: 0 failures in 3 trials is a band up to 56%, which made
 * empty spill-over bins at the chart's edges look like failures. With 30 trials, 0 failures
 * reach at most 11%. Thinner bins are drawn as faded points with no band, and the table keeps
 * every bin's interval.
 */
export const BAND_MIN_TRIALS = 30;

export interface GapRateRow {
  boundary: string;
  gapOffsetMs: number;
  /** The bin's middle: where its point is drawn. */
  binMiddleMs: number;
  trials: number;
  failures: number;
  failureRate: number;
  ciLow: number;
  ciHigh: number;
  /** Whether the bin holds BAND_MIN_TRIALS or more, so that its interval is drawn. */
  banded: boolean;
  /** The interval as the band draws it: null (a break in the band) for a thin bin. */
  bandLow: number | null;
  bandHigh: number | null;
}

export function gapRateRows(bins: readonly GapBin[]): GapRateRow[] {
  return bins.map((bin) => {
    const banded = bin.trials >= BAND_MIN_TRIALS;
    return {
      boundary: bin.boundary,
      gapOffsetMs: bin.gapOffsetMs,
      binMiddleMs: bin.gapOffsetMs + BIN_MS / 2,
      trials: bin.trials,
      failures: bin.failures,
      failureRate: bin.failureRate,
      ciLow: bin.failureRateCi95[0],
      ciHigh: bin.failureRateCi95[1],
      banded,
      bandLow: banded ? bin.failureRateCi95[0] : null,
      bandHigh: banded ? bin.failureRateCi95[1] : null,
    };
  });
}

/** The gap chart's legend line for the band and the faded points. */
export const BAND_LEGEND = `band: 95% interval, drawn where a bin holds ${BAND_MIN_TRIALS} or more trials; faded points: fewer trials, no band`;

/** Rows drawn in the gap chart: the near range when it holds bins, else all. */
export function nearRows(rows: readonly GapRateRow[]): GapRateRow[] {
  const near = rows.filter((row) => row.gapOffsetMs >= NEAR_RANGE_MS[0] && row.gapOffsetMs < NEAR_RANGE_MS[1]);
  return near.length > 0 ? near : [...rows];
}

const BOUNDARY_COLOURS = { upstream: '#c0392b', proxy: '#2c6fbb' } as const;

const axisRate = { field: 'failureRate', type: 'quantitative', title: 'failure rate', axis: { format: '.0%' } } as const;

/**
 * Failure rate against the measured idle gap, one line per boundary, with 95% interval bands
 * where bins hold enough trials (BAND_MIN_TRIALS) and the core window shaded.
 */
export function gapRateSpec(window: readonly WindowEdges[], rows: readonly GapRateRow[]): ChartSpec {
  const cores = window.filter((w) => w.coreMs).map((w) => ({ boundary: w.boundary, from: w.coreMs![0], to: w.coreMs![1] }))
    .filter((core) => core.from >= NEAR_RANGE_MS[0] && core.to <= NEAR_RANGE_MS[1]);
  const x = { field: 'binMiddleMs', type: 'quantitative', title: 'idle gap − boundary (ms), 0.5 ms bins' } as const;
  // Each boundary keeps its colour from chart to chart; the legend lists only those present.
  const present = (['upstream', 'proxy'] as const).filter((boundary) => rows.some((row) => row.boundary === boundary));
  const color = { field: 'boundary', type: 'nominal', title: 'boundary', scale: { domain: present, range: present.map((b) => BOUNDARY_COLOURS[b]) } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 560,
    height: 220,
    title: { text: BAND_LEGEND, anchor: 'start', fontSize: 11, fontWeight: 'normal', color: '#555' },
    layer: [
      ...(cores.length > 0 ? [{
        data: { values: cores },
        mark: { type: 'rect', opacity: 0.12, color: '#c0392b' },
        encoding: { x: { field: 'from', type: 'quantitative' }, x2: { field: 'to' } },
      } as const] : []),
      {
        data: { values: [{ x: 0 }] },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#555' },
        encoding: { x: { field: 'x', type: 'quantitative' } },
      },
      {
        data: { values: rows },
        layer: [
          // A null band (a thin bin) breaks the area and stays out of the y scale's domain.
          { mark: { type: 'area', opacity: 0.25, invalid: 'break-paths-filter-domains' },
            encoding: { x, y: { field: 'bandLow', type: 'quantitative', title: 'failure rate' }, y2: { field: 'bandHigh' }, color } },
          { mark: { type: 'line' }, encoding: { x, y: axisRate, color } },
          { mark: { type: 'point', filled: true, size: 36 },
            encoding: { x, y: axisRate, color, opacity: { condition: { test: 'datum.banded', value: 1 }, value: 0.3 } } },
        ],
      },
    ],
  } as ChartSpec;
}

export interface HeatmapRow {
  pairing: string;
  scenario: string;
  failureRate: number;
  label: string;
  cell: string;
}

export function heatmapRows(cells: readonly CellAnalysis[]): HeatmapRow[] {
  return cells.map((cell) => ({
    pairing: pairingLabel(cell),
    scenario: cell.client !== undefined ? `${cell.method} · ${cell.client}`
      : `${cell.method} · retry ${cell.retry}${cell.path === 'direct' || cell.faults.length === 0 ? '' : ` · ${faultsLabel(cell.faults)}`}`,
    failureRate: cell.failureRate,
    label: `${(cell.failureRate * 100).toFixed(2)}%${cell.failureRateCi95[0] > 0 ? '' : ' (ns)'}`,
    cell: cell.id,
  }));
}

/** Failure rate over the timeout pairings (rows) and the request scenarios (columns). */
export function heatmapSpec(rows: readonly HeatmapRow[]): ChartSpec {
  const maxRate = Math.max(0.01, ...rows.map((row) => row.failureRate));
  const pairings = [...new Set(rows.map((row) => row.pairing))];
  const scenarios = [...new Set(rows.map((row) => row.scenario))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows },
    width: Math.max(240, scenarios.length * 120),
    height: Math.max(60, pairings.length * 40),
    encoding: {
      x: { field: 'scenario', type: 'nominal', title: 'request scenario', sort: scenarios, axis: { labelAngle: 0, labelLimit: 160 } },
      y: { field: 'pairing', type: 'nominal', title: 'timeout pairing', sort: pairings, axis: { labelLimit: 420 } },
    },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'failureRate', type: 'quantitative', title: 'failure rate', scale: { scheme: 'reds', domain: [0, maxRate] }, legend: { format: '.1%' } } } },
      { mark: { type: 'text', fontSize: 12 }, encoding: { text: { field: 'label' }, color: { condition: { test: `datum.failureRate > ${maxRate / 2}`, value: 'white' }, value: 'black' } } },
    ],
  } as ChartSpec;
}

/**
 * W block by block against the share of the block's trials that landed off their stratum (the
 * load the harness measured on itself), quiet and disturbed blocks apart, with the cell's W
 * and the limit past which a block is left out of it.
 */
export function blockWidthSpec(rows: readonly (BlockWidth & { leftOut: boolean })[], cellWidthMs: number): ChartSpec {
  // When every block was disturbed none is left out (the cell is marked disturbed instead).
  const values = rows.map((row) => ({ ...row, state: row.leftOut ? 'disturbed (left out)' : row.disturbed ? 'disturbed (kept: every block was)' : 'quiet' }));
  const colours: Record<string, string> = { 'quiet': '#2c6fbb', 'disturbed (left out)': '#e67e22', 'disturbed (kept: every block was)': '#8e44ad' };
  const states = Object.keys(colours).filter((state) => values.some((row) => row.state === state));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 420,
    height: 200,
    layer: [
      { data: { values: [{ x: DISTURBED_OFF_TARGET }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#555' }, encoding: { x: { field: 'x', type: 'quantitative' } } },
      { data: { values: [{ y: cellWidthMs }] }, mark: { type: 'rule', color: '#c0392b' }, encoding: { y: { field: 'y', type: 'quantitative' } } },
      {
        data: { values },
        mark: { type: 'point', filled: true, size: 40 },
        encoding: {
          x: { field: 'offTarget', type: 'quantitative', title: 'share of the block\'s trials off their stratum', axis: { format: '.0%' } },
          y: { field: 'widthMs', type: 'quantitative', title: 'W of the block (ms)' },
          color: { field: 'state', type: 'nominal', title: 'block', legend: { labelLimit: 240 }, scale: { domain: states, range: states.map((state) => colours[state]!) } },
        },
      },
    ],
  } as ChartSpec;
}
