// Claim (docs/race.md#the-failure and #nginx): an upstream that closes idle connections sooner than nginx
// keeps them (K = 100 ms < P = 60 s) makes requests that reuse a connection at the moment of
// the close fail. POST is not retried by nginx, so it reaches the client as a 502; GET shows
// it too once `proxy_next_upstream off` disables the retry. The upstream never sees the
// failed request.
import { beforeAll, expect, it } from 'vitest';
import { findCell, poolBins, sweep, type SweepResult } from '../src/index.js';
import { describeOnRuntimes } from './support/runtimes.js';
import { widthColumn, widthSentences } from '../src/report/window-text.js';
import { mostlyDisturbed, quietBins } from './support/quiet.js';

describeOnRuntimes('K=100ms exact upstream behind nginx P=60s', (runtime) => {
  let result: SweepResult;
  beforeAll(async () => {
    result = await sweep({
      proxyTimeout: ['60s'],
      upstreamTimeout: ['100ms'],
      upstreamClose: ['exact'],
      methods: ['GET', 'POST'],
      retry: ['default', 'off'],
      // Dense from -4.5 ms: the window sits 0.5-1.5 ms before the probed close (2-3.5 ms in one
      // CI run, whose probe read 1.1 ms past the upstream's own record with a 4 ms p5-p95
      // spread), and a probe up to 2.5 ms late is accepted, so the window stays inside the
      // aimed strata.
      offsets: [-20, -15, -10, ...Array.from({ length: 16 }, (_, i) => -4.5 + i * 0.5), 10, 15, 20],
      // Per-bin rates vary from run to run (peak 13-50% per 0.5 ms bin seen), so the claims
      // rest on pooled counts large enough to hold for the quietest window measured.
      trials: 100,
      // The calibrated load: above 16 lanes the harness's own load widens the window (W 0.26 ms
      // at 16, 0.33-0.39 at 32, 0.8 at 128), and the W claims below are about the pairing.
      lanes: 16,
    }, { runtime: await runtime() });
  });

  // "At the boundary": in the 4 ms before the probed close. The window is under 0.6 ms wide, but
  // where it lands depends on how late the probe saw the close (accepted up to 2.5 ms): one CI
  // run put POST/default's 38 failures at -3.5..-2 ms and none in [-2, 0). The far claim below
  // shows that 10 ms or more away nothing fails.
  const AT_THE_BOUNDARY: [number, number] = [-4, 0];

  it('POST with nginx default retry fails at the boundary, as 502s', () => {
    const cell = findCell(result, { method: 'POST', retry: 'default' });
    expect(cell).toShowRace({ within: AT_THE_BOUNDARY });
    expect(cell.status502).toBe(cell.failures);
  });

  it('GET with proxy_next_upstream off fails at the boundary', () => {
    expect(findCell(result, { method: 'GET', retry: 'off' })).toShowRace({ within: AT_THE_BOUNDARY });
  });

  it('POST with retry off fails too', () => {
    expect(findCell(result, { method: 'POST', retry: 'off' })).toShowRace({ within: AT_THE_BOUNDARY });
  });

  it('the race sits at the upstream close: in its densest 1.5 ms within 3 ms of it failures are far more likely than 10 ms or more away', () => {
    for (const cell of result.cells.filter((c) => c.failures > 0 && !mostlyDisturbed(c))) {
      const bins = quietBins(result, cell);
      // The window (W 0.15-0.56 ms) sits on the probed close, which lands 0.4-1.6 ms after the
      // upstream's own record (up to 2.5 ms is accepted), so its bins move from run to run: the
      // near side is the densest 1.5 ms (three 0.5 ms bins) of the fine range. Pooling the whole
      // 6.5 ms range dilutes the window to 3-4% (50/1263 in one CI run), too close to the few
      // failures a stalled machine leaves far from the close (4/304 in that run) to tell apart.
      const spans = Array.from({ length: 11 }, (_, i) => poolBins(bins, 'upstream', -3 + i * 0.5, -1.5 + i * 0.5));
      const near = spans.reduce((best, span) => (span.failureRate > best.failureRate ? span : best));
      const far = [poolBins(bins, 'upstream', -Infinity, -9.5), poolBins(bins, 'upstream', 9.5, Infinity)];
      const farFailures = bins.filter((bin) => bin.boundary === 'upstream' && Math.abs(bin.gapOffsetMs) >= 9.5 && bin.failures > 0)
        .map((bin) => `${bin.failures}/${bin.trials} at ${bin.gapOffsetMs} ms`).join(', ');
      for (const side of far) {
        // 3 far offsets x 100 trials a side, less the blocks the machine disturbed (at most half).
        expect(side.trials).toBeGreaterThan(130);
        // Disjoint 95% intervals: measured 6.5-25% in the core [-2, 0), 0 ten or more ms away.
        expect(side.failureRateCi95[1], `${cell.id}: far ${side.failures}/${side.trials} (${farFailures || 'none'}) vs near ${near.failures}/${near.trials}`).toBeLessThan(near.failureRateCi95[0]);
      }
    }
  });

  it('POST under nginx\'s default retry and under retry off measure one pairing: their windows agree', () => {
    // nginx retries no POST under either policy: two physically identical cells, measured in
    // interleaved blocks. bench:repro: W ratio 0.8-1.25 in most runs; the matcher allows the
    // difference 3.29 standard errors (each W's error from its counts and its blocks' spread),
    // so identical cells fail it once in 1,000 runs.
    const [viaDefault, viaOff] = (['default', 'off'] as const).map((retry) => findCell(result, { method: 'POST', retry }));
    // A cell most of whose blocks the machine disturbed (the hypervisor took 20-30% of the CPU
    // for minutes here, more than once) measures the machine: the harness must say so, not
    // compare it.
    const disturbed = [viaDefault!, viaOff!].filter(mostlyDisturbed);
    for (const cell of disturbed) expect(widthSentences(cell).join(' ')).toMatch(/(Every|Most) blocks? (was|were) disturbed/);
    if (disturbed.length > 0) return;
    // A window smeared past the aimed strata (seen under heavy steal) makes W a lower bound: the
    // harness must say so, and such a W is not compared.
    const cut = [viaDefault!, viaOff!].filter((cell) => cell.windowWidth[0]!.cutAt.length > 0);
    for (const cell of cut) expect(widthColumn(cell)).toMatch(/^>= /);
    if (cut.length > 0) return;
    expect(viaDefault).toHaveWindowLike(viaOff!);
  });

  it('the window is a fraction of a millisecond of idle gap (W), where the client sees failures', () => {
    // Measured W at 16 lanes: single runs of bench:repro 0.069-0.331 ms, and in one CI run GET/off
    // 0.080 [0.046, 0.138] ms on 16 failures. The lower bound says W is not 0 (its interval's low
    // end above 0.02 ms); the upper leaves room for the containers runtime's extra hops. A W of 0
    // or of several ms would be another phenomenon.
    for (const cell of result.cells.filter((c) => (c.method === 'POST' || c.retry === 'off') && !mostlyDisturbed(c))) {
      expect(cell).toHaveWindowAbove(0.02);
      expect(cell).toHaveWindowBelow(2);
    }
    // GET under the default retry: nginx retries the raced request, so the client sees no window.
    const masked = findCell(result, { method: 'GET', retry: 'default' })!;
    if (!mostlyDisturbed(masked)) {
      expect(masked).toHaveWindowBelow(0.1);
      return;
    }
    // Most of its blocks disturbed (20% of the CPU stolen in one run): W then rests on a block or
    // two and its bound is wide. The harness must say so, and over all its trials the client
    // still sees far fewer failures than POST on the same pairing, which nginx does not retry.
    expect(widthSentences(masked).join(' ')).toMatch(/(Every|Most) blocks? (was|were) disturbed/);
    expect(masked.failureRateCi95[1]).toBeLessThan(findCell(result, { method: 'POST', retry: 'default' })!.failureRateCi95[0]);
  });

  it('failed requests never reached the upstream, and nginx logged each failed attempt', () => {
    for (const cell of result.cells.filter((c) => c.retry === 'off' || c.method === 'POST')) {
      expect(cell.failedReachedUpstream).toBe(0);
      expect(cell.proxyLog.attempts).toBe(cell.failures);
      const known = (cell.proxyLog.reasons.prematurely_closed ?? 0) + (cell.proxyLog.reasons.reset_by_peer ?? 0) + (cell.proxyLog.reasons.broken_pipe ?? 0);
      expect(known).toBe(cell.proxyLog.attempts);
    }
  });

  it('the safe-pairing assertion rejects this pairing (the gate can fail)', () => {
    const cell = findCell(result, { method: 'POST', retry: 'off' });
    expect(() => expect(cell).toHaveFailureRateBelow(0.001)).toThrow(/upper bound/);
  });
});
