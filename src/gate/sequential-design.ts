// The gate's sequential test: when to look at the tally, and how many failures at each look
// pass or fail the setup, so that the whole run keeps the confidence the user asked for.
//
// Each look is a chance to be wrong, and the chances add up. Splitting the allowed error evenly
// over the looks (Bonferroni) wastes most of it on early looks, where a pass is impossible
// anyway: a pass at 0.1% / 95% then needed 12,800 failure-free trials. Here the error is
// *spent* over the looks (Lan-DeMets alpha spending) and the boundaries are computed exactly
// from the binomial distribution of failures under a true rate at the limit, so no error is
// wasted on looks that cannot use it:
// - a pass spends little early and most by the horizon (alpha * t^3, O'Brien-Fleming-like,
//   t = trials / horizon): a failure-free run passes at 0.1% / 95% after 3,600 trials;
// - a fail spends early (alpha * sqrt(t)): an unsafe setup fails at the first look whose tally
//   shows it (at 0.1%, two failures in the first 100 trials).
// At a true rate exactly at the limit, the design passes in at most (1 - confidence) of runs
// and fails in at most (1 - confidence) of runs (computed exactly below, and checked by
// simulation in suites/unit/sequential-design.test.ts).

import { binomialPmf, NEGLIGIBLE } from '../util/stats.js';
import type { GateOutcome } from './gate-decision.js';

export interface Look {
  /** The trial count at which this look happens. */
  trials: number;
  /** A tally with at most this many failures passes here (-1: no pass is possible yet). */
  passAtMost: number;
  /** A tally with at least this many failures fails here. */
  failAtLeast: number;
}

export interface SequentialDesign {
  maxFailureRate: number;
  confidence: number;
  looks: Look[];
  /** Exact probabilities, at a true failure rate equal to the limit, that a run passes / fails. */
  passProbabilityAtLimit: number;
  failProbabilityAtLimit: number;
  /** The fewest trials a failure-free run needs to pass. */
  trialsToPass: number;
}

/** A look's outcome: the gate's own words for it. */
export type SequentialOutcome = GateOutcome;

const spendPass = (t: number) => Math.min(1, t) ** 3;
const spendFail = (t: number) => Math.sqrt(Math.min(1, t));

/**
 * The horizon over which the error is spent: the trials a failure-free run needs at the full
 * error (ln(alpha) / ln(1 - limit)) with 30% room, in hundreds.
 */
export function spendingHorizon(maxFailureRate: number, confidence: number): number {
  const zeroFailureTrials = Math.ceil(Math.log(1 - confidence) / Math.log1p(-maxFailureRate));
  return Math.max(100, Math.ceil((1.3 * zeroFailureTrials) / 100) * 100);
}

/**
 * The looks: doubling from 100 to half the horizon, then in tenths of it up to twice the
 * horizon. Looks past the horizon spend what the earlier ones left (the binomial's steps leave
 * some): there a run with a failure or two can still pass, once enough trials show its rate
 * below the limit.
 */
export function lookSchedule(maxFailureRate: number, confidence: number): number[] {
  const horizon = spendingHorizon(maxFailureRate, confidence);
  const looks: number[] = [];
  for (let trials = 100; trials < horizon / 2; trials *= 2) looks.push(trials);
  const step = Math.max(100, Math.ceil(horizon / 10 / 100) * 100);
  let next = looks.length > 0 ? Math.ceil((looks[looks.length - 1]! + 1) / step) * step : step;
  for (; next < horizon; next += step) looks.push(next);
  for (next = horizon; next <= 2 * horizon; next += step) looks.push(next);
  return looks;
}

/** The distribution of a sum: a over counts, b over counts (a discrete convolution). */
function convolve(a: Float64Array, b: Float64Array): Float64Array {
  let length = a.length + b.length - 1;
  const out = new Float64Array(length);
  for (let i = 0; i < a.length; i++) {
    const ai = a[i]!;
    if (ai === 0) continue;
    for (let j = 0; j < b.length; j++) out[i + j]! += ai * b[j]!;
  }
  while (length > 1 && out[length - 1]! < NEGLIGIBLE * NEGLIGIBLE) length--;
  return out.subarray(0, length);
}

/**
 * The design for a limit and confidence: at each look, the largest pass count and the smallest
 * fail count whose probability (on the runs still going, at a true rate equal to the limit)
 * keeps the error spent so far within the spending function.
 */
export function sequentialDesign(maxFailureRate: number, confidence: number): SequentialDesign {
  if (!(maxFailureRate > 0 && maxFailureRate < 1)) throw new RangeError(`maxFailureRate must be in (0, 1): ${maxFailureRate}`);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1): ${confidence}`);
  const alpha = 1 - confidence;
  const schedule = lookSchedule(maxFailureRate, confidence);
  const horizon = spendingHorizon(maxFailureRate, confidence);
  // The distribution of failures among runs that have not stopped yet (not normalised).
  let going: Float64Array = Float64Array.of(1);
  let spentPass = 0;
  let spentFail = 0;
  let previous = 0;
  const looks: Look[] = [];
  for (const trials of schedule) {
    going = convolve(going, binomialPmf(trials - previous, maxFailureRate));
    previous = trials;
    const t = trials / horizon;
    let passAtMost = -1;
    let below = 0;
    while (passAtMost + 1 < going.length && spentPass + below + going[passAtMost + 1]! <= alpha * spendPass(t)) below += going[++passAtMost]!;
    // Counts past the computed tail have no probability to speak of: failing them spends nothing.
    let failAtLeast = going.length;
    let above = 0;
    while (failAtLeast - 1 > passAtMost && spentFail + above + going[failAtLeast - 1]! <= alpha * spendFail(t)) above += going[--failAtLeast]!;
    looks.push({ trials, passAtMost, failAtLeast });
    spentPass += below;
    spentFail += above;
    const kept = new Float64Array(going.length);
    for (let k = passAtMost + 1; k < Math.min(failAtLeast, going.length); k++) kept[k] = going[k]!;
    going = kept;
  }
  const trialsToPass = looks.find((look) => look.passAtMost >= 0)?.trials ?? Infinity;
  return { maxFailureRate, confidence, looks, passProbabilityAtLimit: spentPass, failProbabilityAtLimit: spentFail, trialsToPass };
}

/** The decision for a tally at a look of the design; between looks (or past the last), undecided. */
export function decideAt(design: SequentialDesign, tally: { trials: number; failures: number }): { outcome: SequentialOutcome; look: Look | null } {
  const look = design.looks.find((candidate) => candidate.trials === tally.trials) ?? null;
  if (!look) return { outcome: 'undecided', look: null };
  if (tally.failures <= look.passAtMost) return { outcome: 'pass', look };
  if (tally.failures >= look.failAtLeast) return { outcome: 'fail', look };
  return { outcome: 'undecided', look };
}
