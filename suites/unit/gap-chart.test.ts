// report.html's gap chart: a bin's 95% interval is drawn as a band only where the bin holds
// enough trials, so that a thin bin (0 of 1 is [0%, 79%]) neither draws a band nor stretches
// the rate axis. Rendered to SVG with the report's own renderer.
import { describe, expect, it } from 'vitest';
import type { GapBin, WindowEdges } from '../../src/analysis/bins.js';
import { BAND_LEGEND, BAND_MIN_TRIALS, gapRateRows, gapRateSpec } from '../../src/report/html/chart-specs.js';
import { renderSvg } from '../../src/report/html/vega-svg.js';
import { wilsonInterval } from '../../src/util/stats.js';

const bin = (gapOffsetMs: number, trials: number, failures: number): GapBin => ({
  boundary: 'upstream', gapOffsetMs, trials, failures, status502: failures, failedAttempts: failures,
  failureRate: failures / trials, failureRateCi95: wilsonInterval(failures, trials),
});
// No window: nothing shaded, only the bins.
const noWindow: WindowEdges[] = [];

/** The top of the rate axis, from the axis' own description in the SVG ("... values from 0% to 8%"). */
function rateAxisTop(svg: string): number {
  const match = /aria-label="Y-axis titled 'failure rate' for a linear scale with values from [^"]* to ([\d.]+)%"/.exec(svg);
  if (!match) throw new Error('no rate axis in the SVG');
  return Number(match[1]) / 100;
}

describe('gap chart bands', () => {
  it('a bin below the threshold gets no band; one at it does', () => {
    const rows = gapRateRows([bin(-4.5, 1, 0), bin(-1, BAND_MIN_TRIALS - 1, 0), bin(-0.5, BAND_MIN_TRIALS, 3)]);
    expect(rows.map((row) => [row.banded, row.bandHigh === null])).toEqual([[false, true], [false, true], [true, false]]);
    // The table's interval is kept for every bin.
    expect(rows[0]!.ciHigh).toBeGreaterThan(0.79);
  });

  it('thin edge bins with no failure do not stretch the rate axis to their wide intervals', async () => {
    const bins = [bin(-4.5, 1, 0), bin(-1, 100, 0), bin(-0.5, 100, 2), bin(0, 100, 0), bin(4.5, 2, 0)];
    const svg = await renderSvg(gapRateSpec(noWindow, gapRateRows(bins)));
    // The widest drawn band is 2 of 100 ([0.55%, 7.0%]); 0 of 1 would reach 79%.
    expect(rateAxisTop(svg)).toBeLessThanOrEqual(0.1);
    expect(svg).toContain(BAND_LEGEND);
  });

  it('a thin bin with failures still shows its rate as a point', async () => {
    const svg = await renderSvg(gapRateSpec(noWindow, gapRateRows([bin(-1, 100, 0), bin(-0.5, 4, 2)])));
    // Its 50% rate is drawn (the axis reaches it), its interval [15%, 85%] is not.
    expect(rateAxisTop(svg)).toBeGreaterThanOrEqual(0.5);
    expect(rateAxisTop(svg)).toBeLessThan(0.85);
  });
});
