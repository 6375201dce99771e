// report.html from a crafted history: a run directory is data, so every value from it is text
// in the page (escaped), and the page carries a CSP that lets nothing run even if one slipped.
import { describe, expect, it } from 'vitest';
import { analyzeHistory } from '../../src/analysis/analyze-history.js';
import type { CellRecord, HistoryRecord, RunRecord, TrialRecord } from '../../src/history/records.js';
import { htmlReport } from '../../src/report/html/html-report.js';

const IMG = '<img src=x onerror=alert(1)>';
const SCRIPT = '<script>alert(2)</script>';

const run: RunRecord = { type: 'run', startedAt: '2026-11-29T00:00:00.000Z', monotonicAtStart: 0, runtime: 'local', proxy: 'nginx', versions: { nginx: IMG }, settings: {} };
// The history is JSON: a crafted one may put markup where the types say a number or an enum.
const cell = {
  type: 'cell', id: 'P60000-K100-exact-POST-off', trialPrefix: 'c0', proxyTimeoutMs: 60_000, upstreamTimeoutMs: 100,
  upstreamClose: IMG, closeStyle: 'fin', method: SCRIPT, retry: IMG, faults: [], path: 'direct', effectiveCloseMs: 100.5,
  probe: { samples: IMG, medianCloseMs: SCRIPT, p5CloseMs: 100, p95CloseMs: 101, closedBy: { fin: 3 }, advertisedKeepAlive: IMG },
  boundaries: [{ kind: 'upstream', atMs: 100.5 }], lanes: 1,
} as unknown as CellRecord;
const trial = (index: number, failed: boolean): TrialRecord => ({
  type: 'trial', cell: cell.id, id: `c0.${index}`, lane: 0, method: SCRIPT, boundary: 'upstream', intendedOffsetMs: 0,
  gapMs: 100.5, gapOffsetMs: 0, gapClock: 'upstream', receiptGapMs: 100.5, status: failed ? 502 : 200,
  errorClass: failed ? '502' : 'ok', latencyMs: 1, sentAt: index * 10, endedAt: index * 10 + 1,
});

describe('report.html from a crafted history', () => {
  it('shows the markup as text and carries a strict Content-Security-Policy', async () => {
    const history: HistoryRecord[] = [run, cell, trial(0, true), trial(1, false), trial(2, false)];
    const html = await htmlReport(analyzeHistory(history), history);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('&lt;script&gt;');
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">/);
  });
});
