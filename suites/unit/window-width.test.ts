// The window's width W and its interval, checked on simulated trials where the true window is
// known: aimed evenly within strata, W does not depend on where the window falls against the
// offsets (aimed at the offsets themselves, it did), its interval covers the truth as often as
// it says, and the blocks' spread widens it when the blocks differ.
import { describe, expect, it } from 'vitest';
import { windowWidths } from '../../src/analysis/window-width.js';
import { blockWidths } from '../../src/analysis/block-widths.js';
import type { TrialRecord } from '../../src/history/records.js';
import { widthsAgree } from '../../src/matchers/window-claims.js';
import type { CellAnalysis } from '../../src/analysis/analyze-history.js';
import { aimWithin, stratumWidthMs } from '../../src/scenario/strata.js';
import { overdispersion } from '../../src/util/stats.js';
import { seededRandom } from '../../src/util/random.js';
import { splitIntoBlocks } from '../../src/workload/boundary-trials.js';

const OFFSETS = Array.from({ length: 13 }, (_, i) => -3 + i * 0.5);

interface Simulation {
  /** Where the window starts and how wide it is (ms of gap); each block may move it. */
  windowStart: number;
  windowWidth: (block: number) => number;
  trialsPerOffset: number;
  blocks: number;
  strata: boolean;
  seed: number;
  /** Blocks in which the machine stalls: trials land up to 2 ms late, and the window is 1 ms wide. */
  stalled?: ReadonlySet<number>;
}

/** Trials of one cell: a trial fails when its landed gap (aim plus a small lateness) is in the window. */
function simulate(sim: Simulation): TrialRecord[] {
  const random = seededRandom(sim.seed);
  const width = stratumWidthMs(OFFSETS);
  const trials: TrialRecord[] = [];
  for (const offset of OFFSETS) {
    for (let i = 0; i < sim.trialsPerOffset; i++) {
      const block = i % sim.blocks;
      const aim = sim.strata ? aimWithin(offset, width, random) : offset;
      const stalled = sim.stalled?.has(block) ?? false;
      const landed = aim + (stalled ? random() * 2 : 0.05 + random() * 0.1);
      const failed = landed >= sim.windowStart && landed < sim.windowStart + (stalled ? 1 : sim.windowWidth(block));
      trials.push({
        type: 'trial', cell: 'c', id: `c0.${trials.length}`, lane: 0, method: 'POST', boundary: 'upstream', intendedOffsetMs: offset,
        ...(sim.strata ? { aimOffsetMs: aim } : {}), block, gapMs: 100 + landed, gapOffsetMs: landed, gapClock: 'upstream', receiptGapMs: 100 + landed,
        status: failed ? 502 : 200, errorClass: failed ? '502' : 'ok', latencyMs: 1, sentAt: 0, endedAt: 1,
      });
    }
  }
  return trials;
}

const widthOf = (trials: TrialRecord[]) => windowWidths(trials, stratumWidthMs(OFFSETS))[0]!;
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

describe('strata', () => {
  it('are the offsets\' closest spacing, at most 0.5 ms, and aims stay inside them', () => {
    expect(stratumWidthMs([-20, -10, ...OFFSETS, 10, 20])).toBe(0.5);
    expect(stratumWidthMs([0, 0.1, 0.2, 0.3])).toBe(0.1);
    expect(stratumWidthMs([5])).toBe(0.5);
    const random = seededRandom(3);
    const aims = Array.from({ length: 2000 }, () => aimWithin(-1, 0.5, random));
    expect(Math.min(...aims)).toBeGreaterThanOrEqual(-1.25);
    expect(Math.max(...aims)).toBeLessThan(-0.75);
    // Evenly: each half of the stratum gets about half the aims.
    expect(aims.filter((aim) => aim < -1).length / aims.length).toBeGreaterThan(0.45);
    expect(aims.filter((aim) => aim < -1).length / aims.length).toBeLessThan(0.55);
  });

  it('deal a cell\'s trials into blocks that add up, no block more than one trial bigger per pair', () => {
    const due = { 'upstream:-1': 25, 'upstream:0': 7, 'proxy:0': 0 };
    const shares = splitIntoBlocks(due, 4);
    for (const [key, count] of Object.entries(due)) {
      const counts = shares.map((share) => share[key]!);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(count);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
    // The remainders fall in different blocks for different pairs.
    expect(shares.map((share) => share['upstream:-1']! + share['upstream:0']!)).not.toEqual([9, 9, 7, 7]);
  });
});

describe('the window width W', () => {
  it('does not depend on where the window falls against the offsets when aims are spread over strata', () => {
    // A 0.4 ms window, narrower than the 0.5 ms between offsets, at two phases against the comb.
    for (const windowStart of [-1.2, -0.95]) {
      const estimates = Array.from({ length: 60 }, (_, seed) => widthOf(simulate({ windowStart, windowWidth: () => 0.4, trialsPerOffset: 100, blocks: 5, strata: true, seed })).widthMs);
      expect(mean(estimates)).toBeGreaterThan(0.38);
      expect(mean(estimates)).toBeLessThan(0.42);
    }
  });

  it('depended on it when every trial aimed at the offset itself (runs made before strata)', () => {
    // Aims at -1 land in [-0.95, -0.85), aims at -0.5 in [-0.45, -0.35): a 0.4 ms window at
    // [-0.95, -0.55) takes every trial of one offset and reads 0.5 ms; the same window at
    // [-0.85, -0.45) falls between the two combs' teeth and reads 0.
    const read = (windowStart: number) => widthOf(simulate({ windowStart, windowWidth: () => 0.4, trialsPerOffset: 50, blocks: 1, strata: false, seed: 1 }));
    expect(read(-0.95).widthMs).toBeCloseTo(0.5, 5);
    expect(read(-0.85).widthMs).toBe(0);
    expect(read(-0.85).aim).toBe('points');
  });

  it('has a 95% interval that covers the true width in about 95% of runs', () => {
    const runs = 300;
    let covered = 0;
    for (let seed = 0; seed < runs; seed++) {
      const [low, high] = widthOf(simulate({ windowStart: -1.1, windowWidth: () => 0.3, trialsPerOffset: 60, blocks: 6, strata: true, seed })).widthMsCi95;
      if (low <= 0.3 && 0.3 <= high) covered++;
    }
    expect(covered / runs).toBeGreaterThan(0.92);
  });

  it('widens its interval by the blocks\' spread when the window moves between blocks', () => {
    const drifting = (seed: number) => simulate({ windowStart: -1.1, windowWidth: (block) => (block % 2 === 0 ? 0.15 : 0.55), trialsPerOffset: 120, blocks: 6, strata: true, seed });
    const steady = (seed: number) => simulate({ windowStart: -1.1, windowWidth: () => 0.35, trialsPerOffset: 120, blocks: 6, strata: true, seed });
    const dispersions = (make: (seed: number) => TrialRecord[]) => Array.from({ length: 40 }, (_, seed) => widthOf(make(seed)).dispersion);
    expect(mean(dispersions(drifting))).toBeGreaterThan(3);
    expect(mean(dispersions(steady))).toBeLessThan(1.5);
    const drift = widthOf(drifting(1));
    const plain = windowWidths(drifting(1).map(({ block: _block, ...trial }) => trial), 0.5)[0]!;
    expect(drift.widthMsCi95[1] - drift.widthMsCi95[0]).toBeGreaterThan(1.5 * (plain.widthMsCi95[1] - plain.widthMsCi95[0]));
  });

  it('gives an upper bound, not a point, when nothing failed', () => {
    const width = widthOf(simulate({ windowStart: 50, windowWidth: () => 0.4, trialsPerOffset: 100, blocks: 4, strata: true, seed: 1 }));
    expect(width.widthMs).toBe(0);
    expect(width.widthMsCi95[0]).toBe(0);
    expect(width.widthMsCi95[1]).toBeGreaterThan(0);
    expect(width.widthMsCi95[1]).toBeLessThan(0.03);
  });
});

describe('blocks the machine disturbed', () => {
  it('are left out of W, which then reads the quiet blocks\' window, and are named', () => {
    const trials = simulate({ windowStart: -1.1, windowWidth: () => 0.3, trialsPerOffset: 100, blocks: 10, strata: true, seed: 4, stalled: new Set([2, 7]) });
    const width = widthOf(trials);
    expect(width.excludedBlocks.map((block) => block.block)).toEqual([2, 7]);
    expect(width.excludedBlocks.every((block) => block.offTarget > 0.5)).toBe(true);
    expect(width.blocks).toBe(8);
    expect(width.disturbed).toBe(false);
    expect(width.widthMs).toBeGreaterThan(0.24);
    expect(width.widthMs).toBeLessThan(0.36);
    // Kept in, the two blocks would have moved W well past the quiet window.
    const kept = windowWidths(trials.map(({ block: _block, ...trial }) => trial), 0.5)[0]!;
    expect(kept.widthMs).toBeGreaterThan(0.4);
  });

  it('when every block was disturbed, none is left out and W says it is the machine\'s', () => {
    const width = widthOf(simulate({ windowStart: -1.1, windowWidth: () => 0.3, trialsPerOffset: 60, blocks: 4, strata: true, seed: 5, stalled: new Set([0, 1, 2, 3]) }));
    expect(width.disturbed).toBe(true);
    expect(width.excludedBlocks).toEqual([]);
    expect(width.blocks).toBe(4);
  });
});

describe('overdispersion', () => {
  it('is 1 for blocks that agree within their counts, and their chi-square per degree of freedom beyond', () => {
    expect(overdispersion([{ estimate: 0.3, variance: 0.01 }, { estimate: 0.32, variance: 0.01 }], 0.31)).toBe(1);
    expect(overdispersion([{ estimate: 0.1, variance: 0.001 }, { estimate: 0.5, variance: 0.001 }], 0.3)).toBeCloseTo(80, 5);
    expect(overdispersion([{ estimate: 0, variance: 0 }], 0)).toBe(1);
  });
});

describe('toHaveWindowLike (two cells agree)', () => {
  const asCell = (trials: TrialRecord[]) => ({ id: 'c', boundaries: [{ kind: 'upstream', atMs: 100 }], windowWidth: windowWidths(trials, 0.5) }) as unknown as CellAnalysis;
  it('calls two cells that measure one window alike in at least 99% of runs, and tells a wider window apart', () => {
    let agreed = 0;
    for (let seed = 0; seed < 200; seed++) {
      const a = asCell(simulate({ windowStart: -1.1, windowWidth: () => 0.3, trialsPerOffset: 60, blocks: 5, strata: true, seed }));
      const b = asCell(simulate({ windowStart: -1.1, windowWidth: () => 0.3, trialsPerOffset: 60, blocks: 5, strata: true, seed: seed + 10_000 }));
      if (widthsAgree(a, b).agree) agreed++;
    }
    expect(agreed).toBeGreaterThanOrEqual(198);
    const narrow = asCell(simulate({ windowStart: -1.1, windowWidth: () => 0.2, trialsPerOffset: 100, blocks: 5, strata: true, seed: 1 }));
    const wide = asCell(simulate({ windowStart: -1.1, windowWidth: () => 0.8, trialsPerOffset: 100, blocks: 5, strata: true, seed: 2 }));
    expect(widthsAgree(narrow, wide).agree).toBe(false);
    expect(widthsAgree(narrow, wide).describe).toMatch(/difference -0\.\d+ ms, allowed/);
  });
});

describe('blockWidths (W against load, block by block)', () => {
  it('gives each block its own W and its share off target: stalled blocks stand apart, quiet ones near the truth', () => {
    const trials = simulate({ windowStart: -1.1, windowWidth: () => 0.3, trialsPerOffset: 100, blocks: 10, strata: true, seed: 4, stalled: new Set([2, 7]) });
    const blocks = blockWidths(trials, 'upstream', stratumWidthMs(OFFSETS), [{ type: 'block', block: 2, cells: ['c'], seconds: 1, trials: 130, offTarget: 0.9, machineBusyShare: 0.8, machineStealShare: 0.2 }]);
    expect(blocks.map((b) => b.block)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(blocks.filter((b) => b.disturbed).map((b) => b.block)).toEqual([2, 7]);
    expect(blocks.reduce((n, b) => n + b.trials, 0)).toBe(trials.length);
    // The stalled blocks' window is 1 ms wide and smeared by 2 ms of lateness; the quiet ones', 0.3 ms.
    for (const block of blocks.filter((b) => !b.disturbed)) expect(Math.abs(block.widthMs - 0.3)).toBeLessThan(0.2);
    for (const block of blocks.filter((b) => b.disturbed)) expect(block.widthMs).toBeGreaterThan(0.6);
    expect(blocks[2]).toMatchObject({ machineBusyShare: 0.8, machineStealShare: 0.2 });
    expect(blocks[3]!.machineBusyShare).toBeUndefined();
  });
  it('is empty for a run aimed at points (before strata)', () => {
    expect(blockWidths(simulate({ windowStart: -1.1, windowWidth: () => 0.3, trialsPerOffset: 10, blocks: 2, strata: false, seed: 1 }), 'upstream', 0.5, [])).toEqual([]);
  });
});
