// Rates per bin of measured idle gap: the shape of the race window.
import type { TrialRecord } from '../history/records.js';
import type { BoundaryKind } from '../vocabulary.js';
import { wilsonInterval } from '../util/stats.js';

export const BIN_MS = 0.5;

/** A bin covers gap offsets in [gapOffsetMs, gapOffsetMs + BIN_MS). */
export interface GapBin {
  boundary: BoundaryKind;
  gapOffsetMs: number;
  trials: number;
  failures: number;
  status502: number;
  /** Trials whose first upstream attempt failed in the proxy's log, retried or not: the
   *  window as the proxy sees it, which a retry hides from the client. */
  failedAttempts: number;
  failureRate: number;
  failureRateCi95: [number, number];
}

/** Failed as the client sees it: anything but a successful answer. */
export function isFailure(trial: TrialRecord): boolean {
  return trial.errorClass !== 'ok';
}

export function binStart(gapOffsetMs: number): number {
  // Snap before flooring so that 0.49999999 (float noise) lands in the bin a person expects.
  return Math.floor(Math.round(gapOffsetMs * 1e6) / 1e6 / BIN_MS) * BIN_MS;
}

export function binTrials(trials: readonly TrialRecord[], confidence = 0.95, failedAttempt: (trial: TrialRecord) => boolean = () => false,
  gapOffsetOf: (trial: TrialRecord) => number = (trial) => trial.gapOffsetMs): GapBin[] {
  const bins = new Map<string, Omit<GapBin, 'failureRate' | 'failureRateCi95'>>();
  for (const trial of trials) {
    const gapOffsetMs = binStart(gapOffsetOf(trial));
    const key = `${trial.boundary}:${gapOffsetMs}`;
    let bin = bins.get(key);
    if (!bin) bins.set(key, (bin = { boundary: trial.boundary, gapOffsetMs, trials: 0, failures: 0, status502: 0, failedAttempts: 0 }));
    bin.trials++;
    if (isFailure(trial)) bin.failures++;
    if (trial.errorClass === '502') bin.status502++;
    if (failedAttempt(trial)) bin.failedAttempts++;
  }
  return [...bins.values()]
    .sort((a, b) => a.boundary.localeCompare(b.boundary) || a.gapOffsetMs - b.gapOffsetMs)
    .map((bin) => ({ ...bin, failureRate: bin.failures / bin.trials, failureRateCi95: wilsonInterval(bin.failures, bin.trials, confidence) }));
}

export interface WindowEdges {
  boundary: BoundaryKind;
  /** [first, last) gap offset of bins failing at >= coreRate: where the race reliably bites. */
  coreMs: [number, number] | null;
  /** [first, last) gap offset of bins with any failure: the tails. */
  anyMs: [number, number] | null;
  /** The bin (of at least minTrials) with the highest failure rate (ties: the earliest). */
  peak: { gapOffsetMs: number; failureRate: number; trials: number } | null;
}

export const CORE_RATE = 0.1;

/**
 * Window edges per boundary. Bins with fewer than `minTrials` are too thin to call core; the
 * `any` edges count every bin, so a single stray failure shows up as a tail.
 */
export function windowEdges(bins: readonly GapBin[], minTrials = 10): WindowEdges[] {
  const boundaries = [...new Set(bins.map((bin) => bin.boundary))];
  return boundaries.map((boundary) => {
    const own = bins.filter((bin) => bin.boundary === boundary);
    const span = (selected: GapBin[]): [number, number] | null => selected.length === 0 ? null
      : [Math.min(...selected.map((b) => b.gapOffsetMs)), Math.max(...selected.map((b) => b.gapOffsetMs)) + BIN_MS];
    const core = own.filter((bin) => bin.trials >= minTrials && bin.failureRate >= CORE_RATE);
    const failing = own.filter((bin) => bin.failures > 0);
    const peakBin = failing.filter((bin) => bin.trials >= minTrials)
      .reduce<GapBin | null>((best, bin) => (!best || bin.failureRate > best.failureRate ? bin : best), null);
    return {
      boundary,
      coreMs: span(core),
      anyMs: span(failing),
      peak: peakBin ? { gapOffsetMs: peakBin.gapOffsetMs, failureRate: peakBin.failureRate, trials: peakBin.trials } : null,
    };
  });
}

export interface PooledRate {
  trials: number;
  failures: number;
  failureRate: number;
  failureRateCi95: [number, number];
}

/**
 * Pools the bins of one boundary whose start lies in [fromMs, toMs): a rate over a range of
 * gaps, of client failures by default or of whatever `count` takes from a bin.
 */
export function poolBins(bins: readonly GapBin[], boundary: BoundaryKind, fromMs: number, toMs: number,
  count: (bin: GapBin) => number = (bin) => bin.failures, confidence = 0.95): PooledRate {
  let trials = 0;
  let failures = 0;
  for (const bin of bins) {
    if (bin.boundary !== boundary || bin.gapOffsetMs < fromMs || bin.gapOffsetMs >= toMs) continue;
    trials += bin.trials;
    failures += count(bin);
  }
  return { trials, failures, failureRate: trials === 0 ? 0 : failures / trials, failureRateCi95: wilsonInterval(failures, trials, confidence) };
}
