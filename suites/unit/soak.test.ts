import { describe, expect, it } from 'vitest';
import { poissonGaps } from '../../src/soak/poisson.js';
import { parseSoakConfig } from '../../src/soak/soak-config.js';
import { seededRandom } from '../../src/util/random.js';

describe('Poisson arrivals', () => {
  it('have exponential gaps: mean 1/rate, standard deviation equal to the mean', () => {
    const next = poissonGaps(200, seededRandom(7));
    const gaps = Array.from({ length: 200_000 }, next);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, b) => a + (b - mean) ** 2, 0) / gaps.length);
    expect(mean).toBeCloseTo(5, 1);
    expect(sd / mean).toBeCloseTo(1, 1);
    expect(gaps.every((gap) => gap >= 0)).toBe(true);
  });
  it('are reproducible from the seed', () => {
    const a = poissonGaps(50, seededRandom(3));
    const b = poissonGaps(50, seededRandom(3));
    expect(Array.from({ length: 5 }, a)).toEqual(Array.from({ length: 5 }, b));
  });
});

describe('soak config', () => {
  it('takes the pairing settings of a sweep and its own', () => {
    const config = parseSoakConfig({ proxyTimeout: ['60s'], upstreamTimeout: ['5ms'], rate: 200, duration: '10s', pool: 8 });
    expect(config.soak).toEqual({ rate: [200], duration: 10_000, pool: 8, clientConnections: 256 });
    expect(config.sweep.proxyTimeout).toEqual([60_000]);
  });
  it('refuses what does not apply, in one line', () => {
    expect(() => parseSoakConfig({ trials: 10 })).toThrow(/^config: trials: not a soak setting/);
    expect(() => parseSoakConfig({ rate: 0 })).toThrow(/^config: rate: must be above 0/);
    expect(() => parseSoakConfig({ proxy: 'none' })).toThrow(/soak measures a proxy's shared pool/);
  });
});
