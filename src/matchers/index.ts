// vitest matchers over a cell's analysis: assertions that read like the claim, and that print
// the evidence (counts, interval, worst bins, log reasons) when the claim does not hold.
//   import 'keepalive-lab/vitest';
//   expect(cell).toShowRace();                 // the 95% lower bound of the failure rate is above 0
//   expect(cell).toHaveFailureRateBelow(0.001) // the 95% upper bound is below 0.1%
//   expect(cell).toHaveWindowBelow(1)         // the 95% upper bound of W (ms of certain failure) is below 1 ms
//   expect(cell).toHaveWindowLike(other)      // the two cells' W differ by no more than chance (99.9%)
import { expect } from 'vitest';
import type { CellAnalysis } from '../analysis/analyze-history.js';
import { poolBins } from '../analysis/bins.js';
import { evidence } from './evidence.js';
import { boundaryWidth, widthsAgree, type WidthOptions } from './window-claims.js';
import { widthWithInterval } from '../report/window-text.js';

interface RaceOptions {
  /** The lower bound must exceed this rate (default 0: at least one failure, beyond chance). */
  atLeast?: number;
  /** Pool only the bins of this gap-offset range [from, to) at the cell's first boundary. */
  within?: [number, number];
}

export interface KeepaliveLabMatchers<R = unknown> {
  toShowRace(options?: RaceOptions): R;
  toHaveFailureRateBelow(rate: number): R;
  toHave502RateBelow(rate: number): R;
  /** No trial failed at the client, while the proxy's log shows failed upstream attempts. */
  toMaskFailuresByRetry(): R;
  /** The 95% upper bound of the window's width W (ms) is below `ms` (at the cell's first boundary, or `boundary`). */
  toHaveWindowBelow(ms: number, options?: WidthOptions): R;
  /** The 95% lower bound of W is above `ms`. */
  toHaveWindowAbove(ms: number, options?: WidthOptions): R;
  /** The two cells' W differ by no more than chance allows at `confidence` (default 0.999), with
   *  each W's error from its counts and its blocks' spread: two cells that measure one thing agree. */
  toHaveWindowLike(other: CellAnalysis, options?: WidthOptions & { confidence?: number }): R;
}

declare module 'vitest' {
  interface Matchers<T = any> extends KeepaliveLabMatchers<T> {}
}

const percent = (rate: number) => `${(rate * 100).toFixed(3)}%`;

expect.extend({
  toShowRace(cell: CellAnalysis, options: RaceOptions = {}) {
    const atLeast = options.atLeast ?? 0;
    const within = options.within;
    const pooled = within ? poolBins(cell.bins, cell.boundaries[0]?.kind ?? 'upstream', within[0], within[1]) : cell;
    const [low] = pooled.failureRateCi95;
    const where = within ? ` within [${within[0]}, ${within[1]}) ms: ${pooled.failures}/${pooled.trials}` : '';
    return {
      pass: low > atLeast,
      message: () => `expected ${cell.id} ${this.isNot ? 'not ' : ''}to show the race (95% lower bound of the failure rate${where} ${percent(low)} ${this.isNot ? '<=' : '>'} ${percent(atLeast)})\n${evidence(cell)}`,
    };
  },
  toHaveFailureRateBelow(cell: CellAnalysis, rate: number) {
    const [, high] = cell.failureRateCi95;
    return {
      pass: high < rate,
      message: () => `expected ${cell.id}'s failure rate ${this.isNot ? 'not ' : ''}to be below ${percent(rate)} (95% upper bound ${percent(high)})\n${evidence(cell)}`,
    };
  },
  toHave502RateBelow(cell: CellAnalysis, rate: number) {
    const [, high] = cell.rate502Ci95;
    return {
      pass: high < rate,
      message: () => `expected ${cell.id}'s 502 rate ${this.isNot ? 'not ' : ''}to be below ${percent(rate)} (95% upper bound ${percent(high)})\n${evidence(cell)}`,
    };
  },
  toMaskFailuresByRetry(cell: CellAnalysis) {
    return {
      pass: cell.failures === 0 && cell.proxyLog.attempts > 0,
      message: () => `expected ${cell.id} ${this.isNot ? 'not ' : ''}to mask the race: no failure at the client (saw ${cell.failures}) ` +
        `while the proxy logged failed upstream attempts (saw ${cell.proxyLog.attempts})\n${evidence(cell)}`,
    };
  },
  toHaveWindowBelow(cell: CellAnalysis, ms: number, options: WidthOptions = {}) {
    const width = boundaryWidth(cell, options);
    return {
      pass: width.widthMsCi95[1] < ms,
      message: () => `expected ${cell.id}'s window width W ${this.isNot ? 'not ' : ''}to be below ${ms} ms (W at the ${width.boundary} boundary ${widthWithInterval(width)} ms)\n${evidence(cell)}`,
    };
  },
  toHaveWindowAbove(cell: CellAnalysis, ms: number, options: WidthOptions = {}) {
    const width = boundaryWidth(cell, options);
    return {
      pass: width.widthMsCi95[0] > ms,
      message: () => `expected ${cell.id}'s window width W ${this.isNot ? 'not ' : ''}to be above ${ms} ms (W at the ${width.boundary} boundary ${widthWithInterval(width)} ms)\n${evidence(cell)}`,
    };
  },
  toHaveWindowLike(cell: CellAnalysis, other: CellAnalysis, options: WidthOptions & { confidence?: number } = {}) {
    const agreement = widthsAgree(cell, other, options);
    return {
      pass: agreement.agree,
      message: () => `expected ${cell.id}'s window width ${this.isNot ? 'not ' : ''}to agree with ${other.id}'s: ${agreement.describe}\n${evidence(cell)}\n${evidence(other)}`,
    };
  },
});
