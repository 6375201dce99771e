// How much the gate's bursts disagree beyond their counts, and whether a look's decision still
// holds once that is taken into account. A burst's requests share one moment of the machine
// and one aimed gap, so they fail together or not at all (a burst at the close failed 32 of 32
// in a run where the next ones failed none): the tally's effective size is nearer the number of
// bursts than of requests, and a binomial bound over the requests is too narrow. Pure functions.
import { exactBounds, overdispersion } from '../util/stats.js';
import type { GateOutcome } from './gate-decision.js';

/** The burst a trial was fired in: its id less the request's number (`c0.b1.31` -> `c0.b1`). */
export function burstOf(trialId: string): string {
  const cut = trialId.lastIndexOf('.');
  return cut < 0 ? trialId : trialId.slice(0, cut);
}

/**
 * Pearson's chi-square of the bursts' failure rates around the pooled one, over its degrees of
 * freedom (at least 1), as the sweep computes it over its blocks (analysis/analyze-history.ts).
 */
export function burstDispersion<T extends { id: string }>(trials: readonly T[], raceFailures: (trials: readonly T[]) => number): number {
  const bursts = new Map<string, T[]>();
  for (const trial of trials) {
    const key = burstOf(trial.id);
    const list = bursts.get(key) ?? [];
    list.push(trial);
    bursts.set(key, list);
  }
  const counted = [...bursts.values()].map((burst) => ({ n: burst.length, f: raceFailures(burst) }));
  const n = counted.reduce((sum, burst) => sum + burst.n, 0);
  const pooled = n > 0 ? counted.reduce((sum, burst) => sum + burst.f, 0) / n : 0;
  if (pooled === 0 || pooled === 1) return 1;
  return overdispersion(counted.map((burst) => ({ estimate: burst.f / burst.n, variance: (pooled * (1 - pooled)) / burst.n })), pooled);
}

/**
 * The tally shrunk by the dispersion (trials / D, failures / D: what the tally is worth as
 * independent requests), and its one-sided exact bounds at the confidence asked. Failures are
 * rounded against the decision being checked: down for a fail, up for a pass.
 */
export function shrunkBounds(tally: { trials: number; failures: number }, dispersion: number, confidence: number): { trials: number; lowerForFail: number; upperForPass: number } {
  const trials = Math.max(1, Math.floor(tally.trials / dispersion));
  const alpha = 1 - confidence;
  const lowerForFail = exactBounds(Math.min(trials, Math.floor(tally.failures / dispersion)), trials, alpha)[0];
  const upperForPass = exactBounds(Math.min(trials, Math.ceil(tally.failures / dispersion)), trials, alpha)[1];
  return { trials, lowerForFail, upperForPass };
}

/**
 * Whether a look's pass or fail still holds when the bursts disagree beyond their counts
 * (D > 1): the shrunk tally's bound must lie on the same side of the limit. At D = 1 the
 * sequential design alone decides (its error is exact for independent requests); above, this
 * only ever holds a decision back, so the design's error rates can only fall.
 */
export function holdsUnderDispersion(outcome: GateOutcome, tally: { trials: number; failures: number }, dispersion: number, maxFailureRate: number, confidence: number): boolean {
  if (dispersion <= 1 || outcome === 'undecided') return true;
  const bounds = shrunkBounds(tally, dispersion, confidence);
  return outcome === 'fail' ? bounds.lowerForFail > maxFailureRate : bounds.upperForPass < maxFailureRate;
}
