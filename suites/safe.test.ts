// Claim (docs/race.md#the-failure, AWS ALB guide): when the upstream outlasts the proxy (nginx P = 500 ms, upstream
// K = 1000 ms exact) nothing races: nginx closes its idle connections itself before the
// upstream would. Asserted with >= 5,000 trials around both boundaries, POST without retry
// (nothing masks a failure), so a single failure breaks the 0.1% upper bound.
import { beforeAll, expect, it } from 'vitest';
import { findCell, sweep, type SweepResult } from '../src/index.js';
import { describeOnRuntimes } from './support/runtimes.js';
import { trialsToBoundZeroFailures } from '../src/util/stats.js';

const OFFSETS = Array.from({ length: 13 }, (_, i) => -3 + i * 0.5);
const TRIALS_PER_OFFSET = 200;

describeOnRuntimes('safe pairing: nginx P=500ms, upstream K=1000ms exact', (runtime) => {
  let result: SweepResult;
  beforeAll(async () => {
    result = await sweep({
      proxyTimeout: ['500ms'],
      upstreamTimeout: ['1s'],
      methods: ['POST'],
      retry: ['off'],
      boundaries: 'both',
      offsets: OFFSETS,
      trials: TRIALS_PER_OFFSET,
      lanes: 128,
    }, { runtime: await runtime() });
  });

  it('fires enough trials to bound a zero-failure rate below 0.1%', () => {
    const cell = findCell(result, { method: 'POST' });
    expect(cell.trials).toBeGreaterThanOrEqual(Math.max(5000, trialsToBoundZeroFailures(0.001)));
    expect(cell.boundaries.map((b) => b.kind).sort()).toEqual(['proxy', 'upstream']);
  });

  it('fails less than 0.1% of the time (95% upper bound), at both boundaries', () => {
    const cell = findCell(result, { method: 'POST' });
    expect(cell).toHaveFailureRateBelow(0.001);
    expect(cell.proxyLog.attempts).toBe(0);
  });

  it('has no window at either boundary: W under 0.1 ms (95% upper bound, even on the one quiet block a noisy machine may leave), where the racing pairing measures 0.15-0.56 ms', () => {
    const cell = findCell(result, { method: 'POST' });
    expect(cell).toHaveWindowBelow(0.1, { boundary: 'proxy' });
    expect(cell).toHaveWindowBelow(0.1, { boundary: 'upstream' });
  });
});
