// The prediction's pure parts (issue 28): the traffic's words, the pool's simulation against
// what can be worked out by hand, the interval carried from W's, the curve's peaks, the soak's
// reading of the upstream's events and the windows of a run's history.
import { describe, expect, it } from 'vitest';
import { parseTraffic } from '../../src/scenario/traffic.js';
import { simulatePool, type CurvePiece } from '../../src/predict/pool-model.js';
import { failureCurve, predictAtRate, predictFailures, type MeasuredWindow } from '../../src/predict/prediction.js';
import { soakConnections } from '../../src/soak/soak-connections.js';
import { runWindows } from '../../src/predict/run-windows.js';
import type { HistoryRecord } from '../../src/history/records.js';
import { UsageError } from '../../src/util/errors.js';

/** A window 0.2 ms wide: failing at 10% over 2 ms around the close. */
const FLAT: CurvePiece[] = [{ fromMs: -1, toMs: 1, rate: 0.1 }];
const window = (closeMs: number, widthMsCi95: [number, number] = [0.1, 0.4]): MeasuredWindow => ({ closeMs, curve: FLAT, widthMs: 0.2, widthMsCi95 });

/**
 * One connection and no overlap (a request holds it for a microsecond): the idle age a request
 * meets is the gap since the one before, exponential at the rate, so the failures per request
 * are the curve weighed by λe^(-λa): 0.1 x (e^(-λ(K-1)) - e^(-λ(K+1))).
 */
function oneConnection(ratePerSecond: number, closeMs: number): number {
  const perMs = ratePerSecond / 1000;
  return 0.1 * (Math.exp(-perMs * (closeMs - 1)) - Math.exp(-perMs * (closeMs + 1)));
}

describe('traffic', () => {
  it('reads rates per second, minute, hour and day, with k and M', () => {
    expect(parseTraffic('50/s').meanRatePerSecond).toBe(50);
    expect(parseTraffic('50').meanRatePerSecond).toBe(50);
    expect(parseTraffic('3000/min').meanRatePerSecond).toBeCloseTo(50, 9);
    expect(parseTraffic('1.7M/day').requestsPerDay).toBeCloseTo(1.7e6, 3);
    expect(parseTraffic('18k/h').meanRatePerSecond).toBeCloseTo(5, 9);
  });

  it('reads a day\'s profile, whose hours must make 24', () => {
    const profile = parseTraffic('20/s:8h,200/s:16h');
    expect(profile.segments).toEqual([{ ratePerSecond: 20, hours: 8 }, { ratePerSecond: 200, hours: 16 }]);
    expect(profile.requestsPerDay).toBe(20 * 8 * 3600 + 200 * 16 * 3600);
    expect(() => parseTraffic('20/s:8h,200/s:8h')).toThrow(/add up to 16, not 24/);
  });

  it('refuses what is not a rate, in one line naming the form', () => {
    for (const bad of ['fast', '0/s', '-5/s', '5/week', '', '5/s:8', '2000000/s']) {
      expect(() => parseTraffic(bad), bad).toThrow(UsageError);
    }
  });
});

describe('the pool\'s simulation', () => {
  it('matches the one-connection formula where requests never overlap', () => {
    for (const rate of [1, 5, 10, 20]) {
      const run = simulatePool({ ratePerSecond: rate, pool: 32, workers: 1, answerMs: 0.001, closeMs: 100, curve: FLAT });
      const expected = oneConnection(rate, 100);
      // The simulation's own error is reported; the formula must lie within 4 of them (and 3%).
      expect(Math.abs(run.failuresPerRequest - expected), `${rate}/s`).toBeLessThan(Math.max(4 * run.standardError, 0.03 * expected));
      // Every request finds the connection closed when the gap passed K: e^(-λK) open anew.
      expect(run.newConnectionShare, `${rate}/s`).toBeCloseTo(Math.exp(-(rate / 1000) * 100), 2);
    }
  });

  it('finds the deeper connections that overlapping requests open: more failures than one connection at high rates', () => {
    const run = simulatePool({ ratePerSecond: 100, pool: 32, workers: 1, answerMs: 0.6, closeMs: 100, curve: FLAT });
    // One connection alone: 0.1 x e^(-9.9) x 0.2 = 9e-7. A second connection, used only while the
    // first is busy (6% of the time), reaches K between overlaps: about 4e-5.
    expect(run.failuresPerRequest).toBeGreaterThan(10 * oneConnection(100, 100));
    expect(run.maxIdle).toBeGreaterThan(1);
  });

  it('a pool of one closes the connections overlaps open, so fewer reach K', () => {
    const wide = simulatePool({ ratePerSecond: 300, pool: 32, workers: 1, answerMs: 1, closeMs: 100, curve: FLAT });
    const one = simulatePool({ ratePerSecond: 300, pool: 1, workers: 1, answerMs: 1, closeMs: 100, curve: FLAT });
    expect(one.maxIdle).toBe(1);
    expect(one.failuresPerRequest).toBeLessThan(wide.failuresPerRequest);
  });

  it('spreads the traffic evenly over the workers: R over W workers is R/W through one', () => {
    const three = simulatePool({ ratePerSecond: 60, pool: 8, workers: 3, answerMs: 0.5, closeMs: 50, curve: FLAT });
    const one = simulatePool({ ratePerSecond: 20, pool: 8, workers: 1, answerMs: 0.5, closeMs: 50, curve: FLAT });
    expect(three.failuresPerRequest).toBe(one.failuresPerRequest);
  });
});

describe('the prediction', () => {
  const shape = { pool: 32, workers: 1, answerMs: 0.001 };

  it('carries W\'s interval: the rate per request is W times the traffic\'s factor', () => {
    const at = predictAtRate(window(100), shape, 10);
    const perMs = at.failuresPerMillion / 0.2;
    expect(at.failuresPerMillionCi95[0]).toBeLessThanOrEqual(0.1 * perMs);
    expect(at.failuresPerMillionCi95[0]).toBeGreaterThan(0.9 * 0.1 * perMs);
    expect(at.failuresPerMillionCi95[1]).toBeGreaterThanOrEqual(0.4 * perMs);
    expect(at.failuresPerMillionCi95[1]).toBeLessThan(1.1 * 0.4 * perMs);
  });

  it('counts a day: per million times the day\'s requests, and a profile part by part', () => {
    const single = predictFailures(window(100), parseTraffic('10/s'), shape);
    expect(single.failuresPerDay).toBeCloseTo((single.failuresPerMillion / 1e6) * 10 * 86_400, 6);
    const profile = predictFailures(window(100), parseTraffic('10/s:12h,1/s:12h'), shape);
    const parts = profile.segments.reduce((sum, part) => sum + (part.failuresPerMillion / 1e6) * part.ratePerSecond * part.hours * 3600, 0);
    expect(profile.failuresPerDay).toBeCloseTo(parts, 6);
    expect(profile.failuresPerMillion).toBeCloseTo((parts / (11 * 12 * 3600)) * 1e6, 6);
  });

  it('with no failure measured (W = 0) still bounds the failures from above', () => {
    const none: MeasuredWindow = { closeMs: 100, curve: FLAT.map((piece) => ({ ...piece, rate: 0 })), widthMs: 0, widthMsCi95: [0, 0.05] };
    const at = predictAtRate(none, shape, 10);
    expect(at.failuresPerMillion).toBe(0);
    expect(at.failuresPerMillionCi95[0]).toBe(0);
    expect(at.failuresPerMillionCi95[1]).toBeGreaterThan(0);
  });

  it('a proxy that closes its idle connections before K meets no close: nothing, with no upper bound either', () => {
    const at = predictAtRate({ ...window(100), proxyCloseMs: 50 }, shape, 10);
    expect(at.failuresPerMillion).toBe(0);
    expect(at.failuresPerMillionCi95).toEqual([0, 0]);
    // Past the close (P above K), P changes nothing.
    expect(predictAtRate({ ...window(100), proxyCloseMs: 60_000 }, shape, 10).failuresPerMillion).toBe(predictAtRate(window(100), shape, 10).failuresPerMillion);
  });

  it('peaks per request near a rate of 1/K, and per day near 2/K, where requests do not overlap', () => {
    const curve = failureCurve(window(100), shape, [], 41);
    // λe^(-λK) is largest at λ = 1/K (10/s); λ²e^(-λK) at 2/K (20/s). The grid steps 17% a point.
    expect(curve.peakPerMillion.ratePerSecond).toBeGreaterThan(10 / 1.25);
    expect(curve.peakPerMillion.ratePerSecond).toBeLessThan(10 * 1.25);
    expect(curve.peakPerDay.ratePerSecond).toBeGreaterThan(20 / 1.25);
    expect(curve.peakPerDay.ratePerSecond).toBeLessThan(20 * 1.25);
  });
});

describe('the soak\'s connections, from the upstream\'s events', () => {
  const request = (id: string, sentAt: number, errorClass: 'ok' | '502' = 'ok'): HistoryRecord =>
    ({ type: 'soak-request', cell: 'c', id, status: errorClass === 'ok' ? 200 : 502, errorClass, latencyMs: 1, sentAt, endedAt: sentAt + 1 });
  const up = (t: number, ev: 'open' | 'request' | 'response', conn: number, trial?: string): HistoryRecord =>
    ({ type: 'upstream', t, ev, conn, ...(trial ? { trial } : {}) });

  it('tells reuse from a new connection, the age at reuse, and the requests the upstream never saw', () => {
    const records: HistoryRecord[] = [
      request('s0.0', 0), request('s0.1', 8), request('s0.2', 30), request('s0.3', 40, '502'),
      up(0.1, 'open', 1), up(0.2, 'request', 1, 's0.0'), up(0.5, 'response', 1, 's0.0'),
      // Reused 7.5 ms after its answer: 2.5 ms before a close at 10 ms.
      up(8.1, 'request', 1, 's0.1'), up(8.4, 'response', 1, 's0.1'),
      // Another topology's upstream numbers its connections anew: connection 1 again, new.
      up(29, 'open', 1), up(30.1, 'request', 1, 's0.2'), up(30.3, 'response', 1, 's0.2'),
    ];
    const seen = soakConnections(records, new Map([['c', 10]])).get('c')!;
    expect(seen).toEqual({ reused: 1, opened: 2, unseen: 1, medianAgeMs: 7.5, nearClose: 1 });
  });
});

describe('the windows of a run directory\'s history', () => {
  const trial = (cell: string, offset: number, failed: boolean, boundary: 'upstream' | 'proxy' = 'upstream'): HistoryRecord => ({
    type: 'trial', cell, id: `${cell}.${offset}.${failed}`, lane: 0, method: 'POST', boundary, intendedOffsetMs: offset, aimOffsetMs: offset, block: 0,
    gapMs: 100 + offset, gapOffsetMs: offset, gapClock: 'upstream', receiptGapMs: 100 + offset, status: failed ? 502 : 200, errorClass: failed ? '502' : 'ok',
    latencyMs: 0.8, sentAt: 0, endedAt: 1,
  });
  const probe = { samples: 1, medianCloseMs: 100, p5CloseMs: 100, p95CloseMs: 100, closedBy: {}, advertisedKeepAlive: null };

  it('a gate\'s: its one cell at the decisive close, through its config\'s pool and idle timeout', () => {
    const records = [
      { type: 'gate-setup', decisive: { boundary: 'upstream', atMs: 100, gapsMs: [99.5, 100, 100.5] }, proxy: { keepaliveConnections: 16, keepaliveTimeoutMs: 60_000 } },
      trial('gate', -0.5, false), trial('gate', 0, true), trial('gate', 0, false), trial('gate', 0.5, false),
    ];
    const [window] = runWindows(records);
    expect(window).toMatchObject({ cell: 'gate', closeMs: 100, pool: 16, proxyCloseMs: 60_000, noUpstreamClose: null, answerMs: 0.8 });
    // Points 0.5 ms apart: the one failing point at half its trials is 0.25 ms of certain failure.
    expect(window!.widthMs).toBeCloseTo(0.25, 9);
  });

  it('a sweep\'s: each cell, and none at the upstream\'s close where the proxy closes first', () => {
    const cell = (id: string, proxyTimeoutMs: number, kind: 'upstream' | 'proxy') => ({ type: 'cell', id, proxyTimeoutMs, upstreamTimeoutMs: 100, upstreamClose: 'exact', closeStyle: 'fin',
      method: 'POST', retry: 'off', faults: [], path: 'direct', trialPrefix: id, effectiveCloseMs: 100, probe, boundaries: [{ kind, atMs: kind === 'upstream' ? 100 : proxyTimeoutMs }], lanes: 1, stratumMs: 0.5 });
    const records = [cell('racing', 60_000, 'upstream'), cell('safe', 50, 'proxy'), trial('racing', 0, true), trial('racing', 0, false), trial('safe', 0, false, 'proxy'),
      { type: 'cell-end', cell: 'racing', completed: true, seconds: 0.5 }] as HistoryRecord[];
    const [racing, safe] = runWindows(records);
    expect(racing).toMatchObject({ cell: 'racing', closeMs: 100, proxyCloseMs: 60_000, noUpstreamClose: null, firingRatePerSecond: 4 });
    expect(racing!.widthMs).toBeCloseTo(0.25, 9);
    expect(safe).toMatchObject({ cell: 'safe', widthMs: 0, proxyCloseMs: 50 });
    expect(safe!.noUpstreamClose).toMatch(/the proxy closes its idle connections before the upstream does/);
  });
});
