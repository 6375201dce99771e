import { describe, expect, it } from 'vitest';
import { analyzeHistory } from '../../src/analysis/analyze-history.js';
import { binStart, binTrials, windowEdges } from '../../src/analysis/bins.js';
import type { CellRecord, HistoryRecord, TrialRecord } from '../../src/history/records.js';
import type { ErrorClass } from '../../src/vocabulary.js';

const cell: CellRecord = {
  type: 'cell', id: 'P60000-K100-exact-POST-off', trialPrefix: 'c0', proxyTimeoutMs: 60_000, upstreamTimeoutMs: 100,
  upstreamClose: 'exact', closeStyle: 'fin', method: 'POST', retry: 'off', faults: [], path: 'direct', effectiveCloseMs: 100.5,
  probe: { samples: 3, medianCloseMs: 100.5, p5CloseMs: 100, p95CloseMs: 101, closedBy: { fin: 3 }, advertisedKeepAlive: null },
  boundaries: [{ kind: 'upstream', atMs: 100.5 }], lanes: 1,
};

let sequence = 0;
function trial(gapOffsetMs: number, errorClass: ErrorClass): TrialRecord {
  const id = `c0.${sequence++}`;
  return {
    type: 'trial', cell: cell.id, id, lane: 0, method: 'POST', boundary: 'upstream', intendedOffsetMs: gapOffsetMs,
    gapMs: 100.5 + gapOffsetMs, gapOffsetMs, gapClock: 'upstream', receiptGapMs: 100.5 + gapOffsetMs, status: errorClass === '502' ? 502 : errorClass === 'ok' ? 200 : null,
    errorClass, latencyMs: 1, sentAt: 0, endedAt: 1,
  };
}

describe('bins', () => {
  it('puts a gap offset in the 0.5 ms bin that starts at or below it', () => {
    expect(binStart(-0.01)).toBe(-0.5);
    expect(binStart(0)).toBe(0);
    expect(binStart(0.4999999999)).toBe(0.5);
    expect(binStart(0.49)).toBe(0);
    expect(binStart(-1.5)).toBe(-1.5);
  });
  it('counts failures and 502s per bin and finds the core window and the tails', () => {
    const trials = [
      ...Array.from({ length: 20 }, () => trial(-2.2, 'ok')),
      trial(-2.1, '502'), // 1 of 21: a tail, not core
      ...Array.from({ length: 10 }, () => trial(-1.2, 'ok')),
      ...Array.from({ length: 10 }, () => trial(-1.1, '502')),
      ...Array.from({ length: 15 }, () => trial(0.2, 'ok')),
      ...Array.from({ length: 5 }, () => trial(0.3, 'eof')),
      ...Array.from({ length: 20 }, () => trial(3.1, 'ok')),
    ];
    const bins = binTrials(trials);
    expect(bins.map((b) => [b.gapOffsetMs, b.trials, b.failures, b.status502])).toEqual([
      [-2.5, 21, 1, 1], [-1.5, 20, 10, 10], [0, 20, 5, 0], [3, 20, 0, 0],
    ]);
    const [edges] = windowEdges(bins);
    expect(edges!.coreMs).toEqual([-1.5, 0.5]);
    expect(edges!.anyMs).toEqual([-2.5, 0.5]);
    expect(edges!.peak).toEqual({ gapOffsetMs: -1.5, failureRate: 0.5, trials: 20 });
  });
});

describe('analyzeHistory', () => {
  it('derives a cell from trials, proxy log and upstream events alone', () => {
    sequence = 0;
    const trials = [trial(-1, '502'), trial(-1, 'reset'), trial(-1, 'ok'), trial(5, 'ok')];
    const history: HistoryRecord[] = [
      { type: 'run', startedAt: 'x', monotonicAtStart: 0, runtime: 'local', proxy: 'nginx', versions: { nginx: '1.22.1' }, settings: {} },
      cell,
      ...trials,
      { type: 'proxy-log', at: 0, level: 'error', reason: 'prematurely_closed', trial: 'c0.0', message: '' },
      { type: 'proxy-log', at: 0, level: 'error', reason: 'reset_by_peer', trial: 'c0.1', message: '' },
      { type: 'proxy-log', at: 0, level: 'error', reason: 'reset_by_peer', trial: 'c9.1', message: '' },
      { type: 'upstream', t: 0, ev: 'request', conn: 1, trial: 'c0.1' },
      { type: 'cell-end', cell: cell.id, completed: true, seconds: 1 },
    ];
    const [analysis] = analyzeHistory(history).cells;
    expect(analysis).toMatchObject({
      trials: 4, ok: 2, status502: 1, failures: 2, failureRate: 0.5, rate502: 0.25, completed: true,
      errorClasses: { '502': 1, reset: 1, ok: 2 },
      proxyLog: { attempts: 2, reasons: { prematurely_closed: 1, reset_by_peer: 1 } },
      failedReachedUpstream: 1,
    });
    expect(analysis!.failureRateCi95[0]).toBeGreaterThan(0);
    // The bin at -1 ms holds the two trials whose attempts nginx logged (c9.1 is another cell's).
    expect(analysis!.bins.map((bin) => [bin.gapOffsetMs, bin.trials, bin.failedAttempts])).toEqual([[-1, 3, 2], [5, 1, 0]]);
  });
  it('marks a cell without its end record as incomplete (an interrupted run)', () => {
    expect(analyzeHistory([cell, trial(0, 'ok')]).cells[0]!.completed).toBe(false);
  });
});
