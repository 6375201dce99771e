import { describe, expect, it } from 'vitest';
import { geometricMeanInterval, quantile, trialsToBoundZeroFailures, wilsonInterval, zForConfidence } from '../../src/util/stats.js';

describe('wilsonInterval', () => {
  it('matches published values', () => {
    // 10 of 100 at 95%: [0.0552, 0.1744] (Wilson 1927; Newcombe 1998 table I style check).
    const [low, high] = wilsonInterval(10, 100);
    expect(low).toBeCloseTo(0.0552, 3);
    expect(high).toBeCloseTo(0.1744, 3);
  });
  it('gives exactly 0 as the lower bound for zero failures and a rule-of-three-like upper bound', () => {
    const [low, high] = wilsonInterval(0, 5000);
    expect(low).toBe(0);
    expect(high).toBeCloseTo(3.8415 / (5000 + 3.8415), 6);
  });
  it('gives exactly 1 as the upper bound when all failed, and [0, 1] for no trials', () => {
    expect(wilsonInterval(7, 7)[1]).toBe(1);
    expect(wilsonInterval(0, 0)).toEqual([0, 1]);
  });
  it('uses the confidence level', () => {
    expect(zForConfidence(0.95)).toBeCloseTo(1.959964, 5);
    expect(zForConfidence(0.99)).toBeCloseTo(2.575829, 5);
    expect(wilsonInterval(10, 100, 0.99)[1]).toBeGreaterThan(wilsonInterval(10, 100, 0.95)[1]);
  });
});

describe('trialsToBoundZeroFailures', () => {
  it('is the smallest n whose zero-failure upper bound is below the rate', () => {
    const n = trialsToBoundZeroFailures(0.001);
    expect(wilsonInterval(0, n)[1]).toBeLessThan(0.001);
    expect(wilsonInterval(0, n - 1)[1]).toBeGreaterThanOrEqual(0.001);
  });
});

describe('quantile', () => {
  it('interpolates linearly and ignores input order', () => {
    expect(quantile([3, 1, 2, 4], 0.5)).toBe(2.5);
    expect(quantile([5], 0.95)).toBe(5);
    expect(Number.isNaN(quantile([], 0.5))).toBe(true);
  });
});

describe('geometricMeanInterval', () => {
  it('is the t-interval of the logs, back on the ratio scale', () => {
    // logs of 1, e and e^2: mean 1, sd 1, t(0.975, 2) = 4.303, half-width 4.303 / sqrt(3).
    const result = geometricMeanInterval([1, Math.E, Math.E ** 2])!;
    expect(result.mean).toBeCloseTo(Math.E, 9);
    expect(result.ci95[0]).toBeCloseTo(Math.exp(1 - 4.303 / Math.sqrt(3)), 6);
    expect(result.ci95[1]).toBeCloseTo(Math.exp(1 + 4.303 / Math.sqrt(3)), 6);
  });
  it('needs two usable ratios, and collapses to a point when they agree', () => {
    expect(geometricMeanInterval([1.2])).toBeNull();
    expect(geometricMeanInterval([0, 1.2])).toBeNull();
    const same = geometricMeanInterval([1.2, 1.2, 1.2])!;
    expect(same.ci95[0]).toBeCloseTo(1.2, 12);
    expect(same.ci95[1]).toBeCloseTo(1.2, 12);
  });
});
