// Claims about faults between nginx and the upstream (docs/race.md#toxiproxy, Toxiproxy 2.x semantics), on
// each runtime's Toxiproxy (local: the embedded server unless a real one is installed;
// containers: the Toxiproxy image, or its offline stand-in). Every cell passes Toxiproxy, so "none" is the fault-free baseline on the same path.
// K = 100 ms exact, nginx P = 60 s, POST with retry off: nothing masks a failure.
import { beforeAll, describe, expect, it } from 'vitest';
import { binTrials, findCell, localRuntime, poolBins, sweep, type CellAnalysis, type SweepResult } from '../src/index.js';
import { describeOnRuntimes } from './support/runtimes.js';
import { cellTrials, mostlyDisturbed, quietBins } from './support/quiet.js';

const L = 10;
const D = 20;
const OFFSETS = Array.from({ length: 47 }, (_, i) => -18 + i);

describeOnRuntimes('faults between nginx and the upstream', (runtime) => {
  let result: SweepResult;
  const cell = (label: string): CellAnalysis => {
    const found = result.cells.find((c) => c.id.endsWith(`-toxiproxy-${label}`));
    if (!found) throw new Error(`no cell for ${label}`);
    return found;
  };
  // The claims are the faults', so they are made on the blocks the machine left quiet (a block
  // in which the harness missed its aims fails wherever the stall put its requests).
  const rate = (c: CellAnalysis, from: number, to: number) => poolBins(quietBins(result, c), 'upstream', from, to);
  /** Bins by the receipt clock: the gap as nginx's idle clock sees it. */
  const receiptRate = (c: CellAnalysis, from: number, to: number) =>
    poolBins(binTrials(cellTrials(result, c).quiet, 0.95, undefined, (t) => t.receiptGapMs - c.effectiveCloseMs), 'upstream', from, to);
  // When the harness says most of a cell's blocks were disturbed (the hypervisor took a quarter
  // of the CPU in a CI run here: the few "quiet" blocks left held 63 trials where 240 were
  // aimed, and even those read the band at 68%), the levels below are the machine's, not the
  // fault's. Then the claim is the fault's signature against the fault-free cell over all
  // trials, and that the harness said it was disturbed.
  const disturbed = (...cells: CellAnalysis[]) => {
    const said = cells.filter(mostlyDisturbed);
    if (said.length > 0) console.log(`most blocks disturbed in ${said.map((c) => c.id).join(', ')}: the claim is made against the fault-free cell`);
    return said.length > 0;
  };
  const allRate = (c: CellAnalysis, from: number, to: number) => poolBins(c.bins, 'upstream', from, to);
  const evidenceOf = (...cells: CellAnalysis[]) => JSON.stringify(cells.map((c) => ({ cell: c.id, load: c.load, widths: c.windowWidth.map((w) => ({ disturbed: w.disturbed, excludedBlocks: w.excludedBlocks.length })) })));

  beforeAll(async () => {
    result = await sweep({
      proxyTimeout: ['60s'],
      upstreamTimeout: ['100ms'],
      methods: ['POST'],
      retry: ['off'],
      faults: [[], [`latency:upstream:${L}ms`], [`slow_close:downstream:${D}ms`], [`latency:downstream:${L}ms`]],
      toxiproxy: 'always',
      offsets: OFFSETS,
      trials: 30,
      // 32 lanes, not 64: at 64 the 2 cores saturate and the request's transit tail, not the
      // fault, sets the band's edges (latency 10 ms upstream, transit p50/p99: local 12.5/29 ms,
      // containers 14.0/62 ms at 64 lanes; 11.4/17.0 and 11.6/18.4 ms at 32).
      lanes: 32,
    }, { runtime: await runtime() });
  });

  it('the fault layer is named in the results', () => {
    expect(result.versions.toxiproxy).toMatch(/embedded|toxiproxy-server/);
    expect(result.cells.every((c) => c.path === 'toxiproxy')).toBe(true);
    expect(cell('none').faults).toEqual([]);
  });

  it(`latency ${L} ms on upstream: requests sent in the last ~${L} ms before the close fail almost surely`, () => {
    const faulty = cell(`latency:upstream:${L}`);
    const none = cell('none');
    if (disturbed(faulty, none)) {
      // Disturbed: the band still fails far more often than the same gaps without the fault.
      const band = allRate(faulty, -(L - 1), -1);
      const evidence = JSON.stringify({ band, none: allRate(none, -(L - 1), -1), cells: evidenceOf(faulty, none) });
      expect(band.failureRateCi95[0], evidence).toBeGreaterThan(allRate(none, -(L - 1), -1).failureRateCi95[1]);
      expect(band.failureRateCi95[0], evidence).toBeGreaterThan(0.3);
      return;
    }
    const band = rate(faulty, -(L - 1), -1);
    // Measured: 97-100% per bin in [-L, -1) on a quiet machine, 89% pooled (215 of 242) in one
    // CI run; the edges spread over ~2 ms (toxic overshoot, timers).
    expect(band.failureRateCi95[0], JSON.stringify(band)).toBeGreaterThan(0.8);
    // The same gaps without the fault fail far less: the band is the fault's.
    expect(band.failureRateCi95[0]).toBeGreaterThan(rate(none, -(L - 1), -1).failureRateCi95[1]);
    // Before the band the rate falls off: only requests delayed beyond the toxic by the transit
    // tail still fail there. How many depends on the machine's load, not on the fault: measured
    // 10-30% at -16..-13 ms here, 55% (60 of 109) in one CI run whose host was busier. So the
    // claim is the fall, not a level: the rate there sits below the band's.
    const before = rate(faulty, -(L + 6), -(L + 3));
    expect(before.failureRateCi95[1], JSON.stringify(before)).toBeLessThan(band.failureRateCi95[0]);
  });

  it(`slow_close ${D} ms on downstream: the window extends after the close by about ${D} ms`, () => {
    const slow = cell(`slow_close:downstream:${D}`);
    const none = cell('none');
    if (disturbed(slow, none)) {
      // Disturbed (84% held, 28% just before D in one CI run, where a quiet machine holds 100%):
      // the held gaps still fail far more often than without the fault, and far less a few ms
      // after D than before it.
      const held = allRate(slow, 2, D - 2);
      const after = allRate(slow, D + 3, D + 7);
      const evidence = JSON.stringify({ held, none: allRate(none, 2, D - 2), after, cells: evidenceOf(slow, none) });
      expect(held.failureRateCi95[0], evidence).toBeGreaterThan(0.5);
      expect(held.failureRateCi95[0], evidence).toBeGreaterThan(allRate(none, 2, D - 2).failureRateCi95[1]);
      expect(after.failureRateCi95[1], evidence).toBeLessThan(held.failureRateCi95[0]);
      return;
    }
    const held = rate(slow, 2, D - 2);
    expect(held.failureRateCi95[0], JSON.stringify(held)).toBeGreaterThan(0.9);
    expect(rate(none, 2, D - 2).failureRateCi95[1]).toBeLessThan(0.3);
    // "About D": still mostly failing a few ms before D, mostly not a few ms after it. The edge
    // itself spreads over ~3 ms (the toxic's timer, the transit): D-3..D-1 measured a lower bound
    // of 0.38 in one CI run where the held gaps failed 90%+, so the claim stops 3 ms short of D.
    const edge = rate(slow, D - 5, D - 3);
    expect(edge.failureRateCi95[0], JSON.stringify(edge)).toBeGreaterThan(0.5);
    expect(rate(slow, D + 3, D + 7).failureRateCi95[1]).toBeLessThan(0.5);
  });

  it(`latency ${L} ms on downstream: the window moves ~${L} ms earlier on nginx's idle clock, and is no wider`, () => {
    const down = cell(`latency:downstream:${L}`);
    const none = cell('none');
    // ... and is no wider: over the whole sweep it fails about as often as without the fault
    // (measured 7.5% vs 6.4%); a window widened by L would fail about twice as often.
    expect(down.failureRateCi95[0], evidenceOf(down, none)).toBeLessThan(1.5 * none.failureRateCi95[1]);
    if (disturbed(down, none)) {
      // Disturbed, the receipt clock is the first to go: it starts when the harness's stalled
      // event loop gets round to the answer (0 of 42 quiet trials failed in the shifted band in
      // one CI run with a quarter of the CPU stolen). Only the claim on the upstream's clock is made:
      // failures at the close are likelier than L ms earlier.
      const atClose = allRate(down, -3, 1);
      const earlier = allRate(down, -(L + 4), -(L - 1));
      expect(atClose.failureRateCi95[0], JSON.stringify({ atClose, earlier, cells: evidenceOf(down, none) })).toBeGreaterThan(earlier.failureRateCi95[1]);
      return;
    }
    // On the receipt clock (nginx's idle time starts when the delayed answer arrives).
    const shifted = receiptRate(down, -(L + 4), -(L - 1));
    expect(shifted.failureRateCi95[0], JSON.stringify(shifted)).toBeGreaterThan(receiptRate(none, -(L + 4), -(L - 1)).failureRateCi95[1]);
    // On the upstream's clock the window stays where it was: failures at the close are far
    // likelier than L ms earlier (where a window moved on this clock would be) or after it.
    // (Not "as likely as without the fault": cells run one after another, and the window's
    // height drifts between them more than binomially: 15% vs 36% at the close in one CI run.)
    const atClose = rate(down, -3, 1);
    const evidence = JSON.stringify({ atClose, earlier: rate(down, -(L + 4), -(L - 1)), after: rate(down, 5, Infinity) });
    expect(atClose.failureRateCi95[0], evidence).toBeGreaterThan(rate(down, -(L + 4), -(L - 1)).failureRateCi95[1]);
    expect(atClose.failureRateCi95[0], evidence).toBeGreaterThan(rate(down, 5, Infinity).failureRateCi95[1]);
  });
});

// The margin search fires up to 35,000 trials; it runs on the local runtime only, to keep CI
// well under its time limit. The containers runtime's fault path is covered by the band claims
// above, which run on both.
describe(`the margin rule, latency ${L} ms on upstream, K = 100 ms exact [local]`, () => {
  const runtime = async () => localRuntime();
  const K = 100;
  const MIN_TRIALS = 5000;
  const measureAt = async (margins: number[], trials: number) => sweep({
    proxyTimeout: margins.map((m) => K - m),
    upstreamTimeout: [K],
    methods: ['POST'],
    retry: ['off'],
    faults: [[`latency:upstream:${L}ms`]],
    boundaries: 'proxy',
    // The gaps nginx still reuses a connection at: just below its own P.
    offsets: [-3, -2.5, -2, -1.5, -1, -0.5, -0.25],
    trials,
    lanes: 32,
  }, { runtime: await runtime() });

  it(`P = K - L is not safe; the smallest margin with zero failures in >= ${MIN_TRIALS} trials is found and bounded`, async () => {
    const atL = findCell(await measureAt([L], 40), { method: 'POST' });
    expect(atL).toShowRace();
    let found: number | null = null;
    const tried: string[] = [];
    // A prototype with the real Toxiproxy needed ~L + 5 ms here; the tail of the request's transit (nginx,
    // the fault layer and the upstream sharing 2 cores) decides it: measured 25 ms in one run,
    // 30 ms in another, with bursts rather than a smooth tail. Search up to L + 40.
    // Each margin is screened with a fifth of the trials first: one that fails there is unsafe
    // without the rest (in one CI run 5 of the 7 margins failed 9-1,435 times in 7,506 trials),
    // and only a margin that passes the screen is measured in full. (Saves about 70 s of 170.)
    for (const margin of [L + 2, L + 6, L + 10, L + 15, L + 20, L + 30, L + 40]) {
      const screen = findCell(await measureAt([margin], Math.ceil(MIN_TRIALS / 7 / 5)), { method: 'POST' });
      if (screen.failures > 0) {
        tried.push(`margin ${margin} ms: ${screen.failures}/${screen.trials} (screen)`);
        continue;
      }
      const c = findCell(await measureAt([margin], Math.ceil(MIN_TRIALS / 7)), { method: 'POST' });
      tried.push(`margin ${margin} ms: 0/${screen.trials} (screen), ${c.failures}/${c.trials}`);
      if (c.failures === 0 && c.trials >= MIN_TRIALS) {
        expect(c).toHaveFailureRateBelow(0.001);
        found = margin;
        break;
      }
    }
    console.log(`margin rule (L=${L} ms upstream, K=${K} ms): ${tried.join('; ')}; smallest safe margin ${found} ms`);
    expect(found, tried.join('; ')).not.toBeNull();
  });
});
