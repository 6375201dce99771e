// Claims (docs/race.md#caddy, measured on Debian's Caddy 2.6.2): Caddy's reverse_proxy holds
// idle upstream connections for its http transport's `keepalive` (Go's IdleConnTimeout). When
// the upstream closes one as Caddy reuses it:
// - a POST fails with a 502, and Caddy's error log names the round trip's error (a broken pipe,
//   a reset, an EOF, a closed connection, or Go's "server closed idle connection", which CI met
//   once: the transport saw the close as it wrote), on the request's URI;
// - a GET does not fail: Go's transport resends an idempotent request whose reused connection
//   broke before any answer, and nothing is logged;
// - `lb_retries` (with `lb_retry_match` on every method) does not save the POST: Caddy's retry
//   finds the request body already read ("invalid Read on closed Body") and answers 502.
// With its keepalive below the upstream's, Caddy closes first and nothing races.
// Local runtime only: no Caddy image is set up for the containers runtime.
import { beforeAll, describe, expect, it } from 'vitest';
import { cellTrials, leftOutBlocks, mostlyDisturbed, quietBins } from './support/quiet.js';
import { findCell, localRuntime, poolBins, sweep, wilsonInterval, type SweepResult } from '../src/index.js';

describe('Caddy 2.6 in front of K=100ms exact, transport keepalive 60s [local]', () => {
  let result: SweepResult;
  beforeAll(async () => {
    result = await sweep({
      proxy: 'caddy',
      proxyTimeout: ['60s'],
      upstreamTimeout: ['100ms'],
      methods: ['GET', 'POST'],
      retry: ['default', 'lb_retries'],
      offsets: [-20, -15, -10, ...Array.from({ length: 13 }, (_, i) => -3 + i * 0.5), 10, 15, 20],
      trials: 60,
      lanes: 64,
    }, { runtime: localRuntime({ proxy: 'caddy' }) });
  });

  it.each(['default', 'lb_retries'] as const)('a POST races with retry %s: 502s at the upstream\'s close, none 10-20 ms away', (retry) => {
    const cell = findCell(result, { method: 'POST', retry });
    // Measured 3.5-5.3% of 340 per cell here; at 1,020 a cell, all failures between -2.9 and
    // +1.6 ms of the close, the core window [-1, 0) ms.
    expect(cell.failureRateCi95[0], `${cell.failures}/${cell.trials}`).toBeGreaterThan(0);
    expect(cell.status502).toBe(cell.failures);
    // Where the race is, on the blocks the machine left quiet (a disturbed one fails anywhere).
    const bins = quietBins(result, cell);
    const near = poolBins(bins, 'upstream', -3, 3.5);
    const far = { failures: 0, trials: 0 };
    for (const side of [poolBins(bins, 'upstream', -Infinity, -9), poolBins(bins, 'upstream', 9, Infinity)]) {
      far.failures += side.failures;
      far.trials += side.trials;
    }
    // Disjoint intervals rather than none at all: on a host that steals 20-30% of the CPU, a
    // far trial failed now and then even in blocks the harness kept (1 of 358 once).
    expect(wilsonInterval(far.failures, far.trials)[1], `far ${far.failures}/${far.trials}, near ${near.failures}/${near.trials}`).toBeLessThan(near.failureRateCi95[0]);
    expect(near.failureRateCi95[0]).toBeGreaterThan(0);
  });

  it('Caddy\'s error log names every failed POST: the round trip\'s broken pipe, reset or EOF, or the retry that found the body read', () => {
    const failed = new Set(result.history.flatMap((r) => (r.type === 'trial' && r.method === 'POST' && r.errorClass !== 'ok' ? [r.id] : [])));
    const logged = new Map(result.history.flatMap((r) => (r.type === 'proxy-log' && r.trial !== null ? [[r.trial, r] as const] : [])));
    expect(failed.size).toBeGreaterThan(0);
    expect([...failed].filter((id) => !logged.has(id))).toEqual([]);
    for (const [retry, says] of [['default', /broken pipe|connection reset by peer|"msg":"EOF"|use of closed network connection|server closed idle connection/], ['lb_retries', /invalid Read on closed Body/]] as const) {
      const ofPolicy = [...failed].filter((id) => result.history.some((r) => r.type === 'trial' && r.id === id && r.cell.endsWith(`-${retry}`)));
      expect(ofPolicy.length, retry).toBeGreaterThan(0);
      for (const id of ofPolicy) expect(logged.get(id)!.message, `${retry} ${id}`).toMatch(says);
    }
  });

  it.each(['default', 'lb_retries'] as const)('a GET does not fail at the same close (retry %s): Go\'s transport resends it', (retry) => {
    const get = findCell(result, { method: 'GET', retry });
    const post = findCell(result, { method: 'POST', retry });
    const nearGet = poolBins(get.bins, 'upstream', -1, 0.5);
    // As many GETs as POSTs were fired at the close, where the POSTs fail.
    expect(nearGet.trials).toBeGreaterThanOrEqual(30);
    expect(nearGet.failures).toBe(0);
    expect(get.failureRateCi95[1], `GET ${get.failures}/${get.trials}, POST ${post.failures}/${post.trials}`).toBeLessThan(post.failureRateCi95[0]);
  });
});

describe('Caddy with transport keepalive 50ms < K [local]', () => {
  let result: SweepResult;
  beforeAll(async () => {
    result = await sweep({
      proxy: 'caddy',
      proxyTimeout: ['50ms'],
      upstreamTimeout: ['100ms'],
      methods: ['POST'],
      retry: ['default'],
      offsets: [-20, ...Array.from({ length: 7 }, (_, i) => -1 + i * 0.5), 20],
      trials: 60,
      boundaries: 'both',
      // 16 lanes, not 64: at 64 most blocks are disturbed here even on a quiet host (8% of the CPU
      // stolen), and a claim of none needs quiet ones.
      lanes: 16,
    }, { runtime: localRuntime({ proxy: 'caddy' }) });
  });

  it('nothing races: Caddy lets its idle connections go before the upstream closes them, and its own close meets no request', () => {
    const cell = findCell(result, { method: 'POST' });
    // Measured here: 0 of 1,080 at both boundaries (and 0 of 680 in a first run, 20 trials an
    // offset; 0 of 2,160 with two CPU hogs beside it). One CI run on a host stealing 27% of the
    // CPU failed 8 of 2,160 (where, it did not say; not reproduced here). The margin is Caddy's
    // own idle timer, 50 ms before the upstream's close, which a VM paused for longer than that
    // would hold past it. So the claim is on the blocks the machine left quiet, and every
    // failure is listed with its block.
    expect(cell.trials).toBeGreaterThanOrEqual(900);
    const leftOut = leftOutBlocks(cell);
    const { all, quiet } = cellTrials(result, cell);
    const failed = all.filter((trial) => trial.errorClass !== 'ok')
      .map((trial) => `${trial.boundary} ${trial.gapOffsetMs.toFixed(1)} ms ${trial.errorClass} block ${trial.block}${leftOut.has(trial.block ?? 0) ? ' (disturbed)' : ''}`);
    const evidence = `${cell.failures}/${cell.trials}; load ${JSON.stringify(cell.load)}; failed: ${failed.join(', ')}`;
    if (mostlyDisturbed(cell)) {
      // Too few quiet blocks to rest a claim of none on (or every block disturbed, none left
      // out): the harness says so, and failures stay rare.
      console.log(`most blocks disturbed in ${cell.id}: ${evidence}`);
      expect(cell.failureRateCi95[1], evidence).toBeLessThan(0.01);
      return;
    }
    expect(quiet.length, evidence).toBeGreaterThanOrEqual(450);
    expect(quiet.filter((trial) => trial.errorClass !== 'ok').length, evidence).toBe(0);
    expect(wilsonInterval(0, quiet.length)[1]).toBeLessThan(0.01);
  });
});
