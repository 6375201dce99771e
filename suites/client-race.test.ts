// Claims (docs/race.md#nodejs; node issues 52649, 20256): the same race one hop earlier, with no proxy: a
// client that reuses an idle keep-alive socket at the moment the server closes it gets
// ECONNRESET / "socket hang up". Which Node clients do, on this Node version:
// - against a stock Node server, which advertises `Keep-Alive: timeout=K/1000` and closes a
//   second after K: http.Agent (with or without `timeout`) and undici let the socket go by the
//   hint, before the close, and nothing races;
// - against a server that sends no hint (exact close here; any non-Node server, or one behind a
//   proxy that drops the header): every client reuses the socket at the close and races, unless
//   its own idle timeout is below the server's (http.Agent `timeout` 500 ms < K).
// Local runtime only: the clients run in the harness, next to the upstream.
import { beforeAll, describe, expect, it } from 'vitest';
import { localRuntime, poolBins, sweep, type CellAnalysis, type SweepResult } from '../src/index.js';
import type { TrialRecord } from '../src/history/records.js';

const NEAR = [-2, -1.5, -1, -0.5, 0, 0.5];
// The exact close's window is sharp (measured: 35 of 40 fail in one 0.5 ms bin for http.Agent,
// undici ~0.5 ms earlier, as it writes a moment after it is called) and sits within a ms of the
// probe's median: fine steps across it, so that every client meets its peak.
const ACROSS = [-20, ...Array.from({ length: 15 }, (_, i) => -2.5 + i * 0.25), 20];
const runtime = () => localRuntime({ proxy: 'none' });
const cellOf = (result: SweepResult, client: string): CellAnalysis => {
  const found = result.cells.find((c) => c.client === client);
  if (!found) throw new Error(`no cell for client ${client}`);
  return found;
};
const trialsOf = (result: SweepResult, cell: CellAnalysis) => result.history.filter((r): r is TrialRecord => r.type === 'trial' && r.cell === cell.id);

describe('the client-side race, no proxy [local]', () => {
  let hinted: SweepResult;
  let unhinted: SweepResult;
  let shortTimeout: SweepResult;
  beforeAll(async () => {
    const common = { proxy: 'none' as const, methods: ['POST' as const], upstreamTimeout: ['1000ms'], lanes: 96 };
    hinted = await sweep({ ...common, trials: 15, upstreamClose: ['stock'], clients: ['node-agent', 'node-agent-timeout', 'undici'], offsets: NEAR }, { runtime: runtime() });
    unhinted = await sweep({ ...common, trials: 15, upstreamClose: ['exact'], offsets: ACROSS }, { runtime: runtime() });
    shortTimeout = await sweep({ ...common, trials: 15, upstreamClose: ['exact'], proxyTimeout: ['500ms'], clients: ['node-agent-timeout'], offsets: ACROSS }, { runtime: runtime() });
  });

  it.each(['raw', 'node-agent', 'node-agent-timeout', 'undici'])('with no Keep-Alive hint, %s reuses the socket at the close and fails there, with no response', (client) => {
    const cell = cellOf(unhinted, client);
    expect(cell.probe.advertisedKeepAlive).toBeNull();
    // Measured 6-18% over -3..+1 ms (330 trials per client), up to 90% in the peak bin.
    const near = poolBins(cell.bins, 'upstream', -2.75, 1.25);
    expect(near.failureRateCi95[0], `${near.failures}/${near.trials}`).toBeGreaterThan(0);
    expect(cell.status502).toBe(0);
    expect(cell.closedWithoutResponse).toBe(cell.failures);
  });

  it.each(['node-agent', 'node-agent-timeout', 'undici'])('a stock Node server\'s hint (timeout=1, close at ~2 s) makes %s open a new connection for every request at the close: nothing fails', (client) => {
    const cell = cellOf(hinted, client);
    expect(cell.probe.advertisedKeepAlive).toBe('timeout=1');
    expect(cell.effectiveCloseMs).toBeGreaterThan(1990);
    // The upstream's record: the first request on each connection. Every trial was the first
    // on its connection: the client had let the idle socket go (by the hint) before the close.
    const firstOnConnection = new Map<number, string>();
    for (const r of hinted.history) if (r.type === 'upstream' && r.ev === 'request' && r.trial && !firstOnConnection.has(r.conn)) firstOnConnection.set(r.conn, r.trial);
    const firstOnes = new Set(firstOnConnection.values());
    const trials = trialsOf(hinted, cell);
    // Every planned trial, and more only where the sweep fired a disturbed block's share again.
    const refired = hinted.history.filter((r) => r.type === 'block' && r.replaces !== undefined && r.cells.includes(cell.id));
    expect(trials.length).toBeGreaterThanOrEqual(NEAR.length * 15);
    if (refired.length === 0) expect(trials).toHaveLength(NEAR.length * 15);
    expect(trials.filter((t) => !firstOnes.has(t.id)).map((t) => t.id)).toEqual([]);
    expect(cell.failures).toBe(0);
    // http.Agent says so itself.
    if (client !== 'undici') expect(trials.filter((t) => t.reusedSocket !== false)).toEqual([]);
  });

  it('with no hint, an http.Agent timeout below the server\'s (500 ms < K) keeps it out of the race', () => {
    const cell = cellOf(shortTimeout, 'node-agent-timeout');
    const racing = poolBins(cellOf(unhinted, 'node-agent-timeout').bins, 'upstream', -2.75, 1.25);
    expect(cell.failureRateCi95[1], `${cell.failures}/${cell.trials} vs 60 s timeout ${racing.failures}/${racing.trials}`).toBeLessThan(racing.failureRateCi95[0]);
    expect(trialsOf(shortTimeout, cell).filter((t) => t.reusedSocket !== false)).toEqual([]);
  });

  it('the clients\' versions are on record', () => {
    expect(unhinted.versions.node).toBe(process.version);
    expect(unhinted.versions.undici).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
