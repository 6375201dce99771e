import { describe, expect, it } from 'vitest';
import { formatTimeline, trialTimeline } from '../../src/explain/trial-timeline.js';
import type { HistoryRecord } from '../../src/history/records.js';

// A failed trial as the three records saw it: the previous answer left at t=1000, the upstream
// closed that connection at 1100.2, the client wrote at 1100.0 and got a 502 at 1101.3.
const history = [
  { type: 'cell', id: 'cellA', effectiveCloseMs: 101 },
  // An earlier topology's upstream process numbered its connections from 1 too.
  { type: 'upstream', t: 200, ev: 'close', conn: 7, by: 'server-idle', idleMs: 104.4 },
  { type: 'upstream', t: 990, ev: 'response', conn: 6, trial: 'c0.1' },
  { type: 'upstream', t: 1000.01, ev: 'response', conn: 7, trial: 'c0.2' },
  { type: 'upstream', t: 1100.2, ev: 'close', conn: 7, by: 'server-idle', idleMs: 100.19 },
  { type: 'proxy-log', at: 1100.9, level: 'error', reason: 'prematurely_closed', trial: 'c0.3', message: 'upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1' },
  { type: 'trial', cell: 'cellA', id: 'c0.3', lane: 2, method: 'POST', boundary: 'upstream', intendedOffsetMs: -1, gapMs: 100, gapOffsetMs: -1, gapClock: 'upstream', receiptGapMs: 99.6, status: 502, errorClass: '502', latencyMs: 1.3, sentAt: 1100, endedAt: 1101.3 },
] as unknown as HistoryRecord[];

describe('trial timeline', () => {
  it('joins the previous answer, the upstream close, the proxy log and the client in time order', () => {
    const timeline = trialTimeline(history, 'c0.3')!;
    expect(timeline.connection).toBe(7);
    expect(timeline.reachedUpstream).toBe(false);
    expect(timeline.events.map((e) => [e.atMs, e.who])).toEqual([
      [0, 'upstream'], [100, 'client'], [100.2, 'upstream'], [100.9, 'proxy'], [101.3, 'client'],
    ]);
    const text = formatTimeline(timeline);
    expect(text).toContain('connection 7 closed, as the upstream recorded it (server-idle, idle 100.19 ms)');
    expect(text).toContain('the request never reached the upstream');
    expect(text).not.toContain('client: 127.0.0.1');
  });

  it('a gate trial (no upstream events, gap from the client\'s receipt) claims nothing about the upstream', () => {
    const gateHistory = [
      { type: 'proxy-log', at: 1207.6, level: 'error', reason: 'prematurely_closed', trial: 'c0.b2.8', message: 'upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1' },
      { type: 'trial', cell: 'gate', id: 'c0.b2.8', lane: 8, method: 'POST', boundary: 'upstream', intendedOffsetMs: -3, gapMs: 1204.46, gapOffsetMs: 3.96, gapClock: 'client', receiptGapMs: 1204.46, status: 502, errorClass: '502', latencyMs: 3.35, sentAt: 1204.46, endedAt: 1207.81 },
    ] as unknown as HistoryRecord[];
    const timeline = trialTimeline(gateHistory, 'c0.b2.8')!;
    expect(timeline.upstreamRecorded).toBe(false);
    expect(timeline.events.map((e) => e.who)).toEqual(['client', 'client', 'proxy', 'client']);
    const text = formatTimeline(timeline);
    expect(text).toContain('previous answer on this connection received; the connection is idle from here (as the client reads it)');
    expect(text).toContain('(the upstream recorded no events: whether the request reached it is not known)');
    expect(text).not.toContain('never reached');
  });

  it('is null for an unknown trial', () => {
    expect(trialTimeline(history, 'c9.9')).toBeNull();
  });
});
