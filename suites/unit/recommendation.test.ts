import { describe, expect, it } from 'vitest';
import type { CellAnalysis } from '../../src/analysis/analyze-history.js';
import { pairingAdvice } from '../../src/report/recommendation.js';
import { heatmapRows, nearRows, gapRateRows } from '../../src/report/html/chart-specs.js';
import { wilsonInterval } from '../../src/util/stats.js';

function cell(over: Partial<CellAnalysis> & { failures: number; trials: number }): CellAnalysis {
  return {
    id: `P${over.proxyTimeoutMs ?? 60000}-${over.method ?? 'POST'}-${over.retry ?? 'off'}`,
    proxyTimeoutMs: 60_000, upstreamTimeoutMs: 5000, upstreamClose: 'stock', closeStyle: 'fin', effectiveCloseMs: 6001.2,
    method: 'POST', retry: 'off', faults: [], path: 'direct', boundaries: [], completed: true, ok: over.trials - over.failures,
    status502: over.failures, failureRate: over.failures / over.trials, rate502: over.failures / over.trials,
    failureRateCi95: wilsonInterval(over.failures, over.trials), rate502Ci95: wilsonInterval(over.failures, over.trials),
    errorClasses: {}, bins: [], window: [], proxyLog: { attempts: over.failures, reasons: {} }, failedReachedUpstream: 0,
    probe: { samples: 40, medianCloseMs: 6001.2, p5CloseMs: 6000, p95CloseMs: 6003, closedBy: {}, advertisedKeepAlive: 'timeout=5' },
    ...over,
  } as CellAnalysis;
}

describe('pairing advice', () => {
  it('an upstream that closes first and races: unsafe, with the Node setting computed from the proxy timeout', () => {
    const [advice] = pairingAdvice([cell({ failures: 30, trials: 1000 }), cell({ method: 'GET', retry: 'default', failures: 0, trials: 1000 })]);
    expect(advice!.verdict).toBe('unsafe');
    expect(advice!.summary).toContain('closes idle connections at 6001.2 ms (measured)');
    expect(advice!.recommendation).toContain('server.keepAliveTimeout >= 61s');
  });

  it('retries that hid every failure: masked, and still the same fix', () => {
    const [advice] = pairingAdvice([cell({ retry: 'default', failures: 0, trials: 1000, proxyLog: { attempts: 12, reasons: {} } })]);
    expect(advice!.verdict).toBe('masked');
    expect(advice!.recommendation).toMatch(/hidden by retries.*keepAliveTimeout >= 61s/);
  });

  it('a proxy that closes first with no failure: safe, stating the measured margin', () => {
    const [advice] = pairingAdvice([cell({ proxyTimeoutMs: 4000, failures: 0, trials: 3000 })]);
    expect(advice!.verdict).toBe('safe');
    expect(advice!.recommendation).toContain('margin now 2001.2 ms');
  });

  it('an ordering that is unsafe but measured no failure is not called safe', () => {
    const [advice] = pairingAdvice([cell({ failures: 0, trials: 50 })]);
    expect(advice!.verdict).not.toBe('unsafe');
    expect(advice!.recommendation).toContain('the ordering is unsafe');
  });

  it('groups cells by pairing, one advice each', () => {
    const advice = pairingAdvice([cell({ failures: 3, trials: 100 }), cell({ proxyTimeoutMs: 50, failures: 0, trials: 100 }), cell({ method: 'GET', failures: 1, trials: 100 })]);
    expect(advice.map((a) => a.cells.length)).toEqual([2, 1]);
  });
});

describe('chart rows', () => {
  it('heatmap rows mark rates whose interval includes 0', () => {
    const rows = heatmapRows([cell({ failures: 0, trials: 100 }), cell({ method: 'GET', failures: 10, trials: 100 })]);
    expect(rows.map((r) => r.label)).toEqual(['0.00% (ns)', '10.00%']);
  });

  it('the gap chart draws the near bins and leaves the far ones to the table', () => {
    const bin = (gapOffsetMs: number) => ({ boundary: 'upstream' as const, gapOffsetMs, trials: 10, failures: 1, status502: 1, failedAttempts: 1, failureRate: 0.1, failureRateCi95: [0.01, 0.4] as [number, number] });
    const rows = gapRateRows([bin(-20), bin(-1), bin(0.5), bin(20)]);
    expect(nearRows(rows).map((r) => r.binMiddleMs)).toEqual([-0.75, 0.75]);
    expect(nearRows(gapRateRows([bin(-20), bin(20)]))).toHaveLength(2);
  });
});
