// The gate's sequential design, checked two ways: its exact error probabilities, and many
// simulated gate runs (binomial draws, seeded) at a true rate at the limit, well below it and
// well above it.
import { describe, expect, it } from 'vitest';
import { decideAt, lookSchedule, sequentialDesign, type SequentialDesign, type SequentialOutcome } from '../../src/gate/sequential-design.js';
import { seededRandom } from '../../src/util/random.js';
import { binomialPmf, exactBounds, wilsonInterval } from '../../src/util/stats.js';

interface Simulated { outcome: SequentialOutcome; trials: number }

/** One gate run: trials fail with probability rate, looked at by the design until it decides. */
function simulateRun(design: SequentialDesign, rate: number, random: () => number): Simulated {
  let failures = 0;
  let trials = 0;
  for (const look of design.looks) {
    for (; trials < look.trials; trials++) if (random() < rate) failures++;
    const { outcome } = decideAt(design, { trials, failures });
    if (outcome !== 'undecided') return { outcome, trials };
  }
  return { outcome: 'undecided', trials };
}

function simulate(design: SequentialDesign, rate: number, runs: number, seed: number) {
  const random = seededRandom(seed);
  const results = Array.from({ length: runs }, () => simulateRun(design, rate, random));
  const count = (outcome: SequentialOutcome) => results.filter((result) => result.outcome === outcome).length;
  return { results, pass: count('pass'), fail: count('fail'), undecided: count('undecided') };
}

describe('binomial distribution', () => {
  it('sums to 1 and has the binomial mean, also where (1 - p)^n underflows a naive product', () => {
    for (const [n, p] of [[100, 0.001], [4000, 0.02], [20_000, 0.5]] as const) {
      const pmf = binomialPmf(n, p);
      const total = pmf.reduce((sum, value) => sum + value, 0);
      const mean = pmf.reduce((sum, value, k) => sum + value * k, 0);
      expect(total).toBeCloseTo(1, 10);
      expect(mean).toBeCloseTo(n * p, 6);
    }
    expect(binomialPmf(10, 0)[0]).toBe(1);
  });

  it('gives exact one-sided bounds (Clopper-Pearson): 0 of n is below 1 - alpha^(1/n)', () => {
    expect(exactBounds(0, 3600, 0.05)[1]).toBeCloseTo(1 - 0.05 ** (1 / 3600), 9);
    expect(exactBounds(0, 3600, 0.05)[0]).toBe(0);
    // 2 of 100: P(X >= 2 | p = lower) = 0.05 and P(X <= 2 | p = upper) = 0.05.
    const [lower, upper] = exactBounds(2, 100, 0.05);
    expect(1 - (1 - lower) ** 100 - 100 * lower * (1 - lower) ** 99).toBeCloseTo(0.05, 6);
    expect(lower).toBeCloseTo(0.00357, 4);
    expect(upper).toBeCloseTo(0.0616, 3);
  });
});

describe('the gate\'s sequential design', () => {
  const design = sequentialDesign(0.001, 0.95);

  it('at 0.1% / 95%: a failure-free run passes within about 4,000 trials (the Bonferroni looks needed 12,800)', () => {
    expect(design.trialsToPass).toBeLessThanOrEqual(4000);
    // Physics of the claim: no design at 5% error can pass a failure-free run before
    // ln(0.05) / ln(0.999) = 2,995 trials.
    expect(design.trialsToPass).toBeGreaterThanOrEqual(2995);
    const first = design.looks.find((look) => look.trials === design.trialsToPass)!;
    expect(first.passAtMost).toBe(0);
  });

  it('keeps both errors within 1 - confidence, exactly, at a true rate equal to the limit', () => {
    for (const [limit, confidence] of [[0.001, 0.95], [0.01, 0.95], [0.001, 0.99], [0.05, 0.9]] as const) {
      const exact = sequentialDesign(limit, confidence);
      expect(exact.passProbabilityAtLimit, `${limit} ${confidence}`).toBeLessThanOrEqual(1 - confidence);
      expect(exact.failProbabilityAtLimit, `${limit} ${confidence}`).toBeLessThanOrEqual(1 - confidence);
      // Each look's boundaries are ordered: no tally both passes and fails.
      for (const look of exact.looks) expect(look.failAtLeast).toBeGreaterThan(look.passAtMost);
    }
  });

  it('simulated at a true rate at the limit (4,000 runs): passes in at most 5% of runs', () => {
    const { pass, fail } = simulate(design, 0.001, 4000, 7);
    // The observed share must not be significantly above 5% (its interval's lower bound below it).
    expect(wilsonInterval(pass, 4000, 0.99)[0], `${pass} of 4000 passed`).toBeLessThan(0.05);
    expect(wilsonInterval(fail, 4000, 0.99)[0], `${fail} of 4000 failed`).toBeLessThan(0.05);
    // And it agrees with the exact figure.
    expect(Math.abs(pass / 4000 - design.passProbabilityAtLimit)).toBeLessThan(0.015);
  });

  it('simulated unsafe (2%, a race at the close; 2,000 runs): fails in every run, most at the first look, nearly all by the third (400 trials)', () => {
    const { results, fail } = simulate(design, 0.02, 2000, 11);
    expect(fail).toBe(2000);
    // At the first look 2 failures of 100 fail it (P = 60% at 2%); by 400 trials, 3.
    expect(design.looks[0]).toMatchObject({ trials: 100, failAtLeast: 2 });
    expect(results.filter((result) => result.trials === 100).length / 2000).toBeGreaterThan(0.5);
    expect(results.filter((result) => result.trials <= 400).length / 2000).toBeGreaterThan(0.95);
  });

  it('simulated safe (0.01%, a tenth of the limit; 2,000 runs): passes in most runs, and almost never fails', () => {
    const { pass, fail } = simulate(design, 0.0001, 2000, 13);
    expect(fail / 2000).toBeLessThan(0.005);
    // Failure-free runs (70% at 3,600 trials) pass there; one failure needs about 5,000 trials.
    expect(pass / 2000).toBeGreaterThan(0.85);
  });

  it('decides only at its looks', () => {
    expect(decideAt(design, { trials: 150, failures: 50 }).outcome).toBe('undecided');
    expect(decideAt(design, { trials: 100, failures: 50 }).outcome).toBe('fail');
    expect(decideAt(design, { trials: design.trialsToPass, failures: 0 }).outcome).toBe('pass');
  });

  it('schedules looks doubling from 100, then in tenths of the horizon up to twice the horizon', () => {
    const looks = lookSchedule(0.001, 0.95);
    expect(looks.slice(0, 6)).toEqual([100, 200, 400, 800, 1600, 2000]);
    expect(looks).toContain(3900);
    expect(looks[looks.length - 1]).toBe(7500);
    expect(lookSchedule(0.2, 0.95)).toEqual([100, 200]);
  });

  it('rejects limits and confidences outside (0, 1)', () => {
    expect(() => sequentialDesign(0, 0.95)).toThrow(RangeError);
    expect(() => sequentialDesign(0.001, 1)).toThrow(RangeError);
  });
});
