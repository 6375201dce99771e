import { describe, expect, it } from 'vitest';
import type { CellAnalysis } from '../../src/analysis/analyze-history.js';
import { shardAgreements } from '../../src/analysis/shard-agreement.js';
import { shardManifest } from '../../src/analysis/shard-manifest.js';
import type { HistoryRecord } from '../../src/history/records.js';
import { expandTopologyGroups } from '../../src/scenario/cells.js';
import { plannedGroups, unitSeed } from '../../src/scenario/shard-plan.js';
import { matrixHash, parseShard, shardSlice } from '../../src/scenario/shards.js';
import { parseSweepConfig } from '../../src/scenario/sweep-config.js';
import { seededRandom } from '../../src/util/random.js';
import { chiSquareSurvival } from '../../src/util/stats.js';

const matrix = {
  proxyTimeout: ['60s', '50ms', '500ms', '5s'], upstreamTimeout: ['100ms', '1s'], upstreamClose: ['exact', 'stock'],
  retry: ['default', 'off'], methods: ['GET', 'POST'], faults: [[], ['latency:upstream:1ms']],
};
const reordered = {
  proxyTimeout: ['5s', '500ms', '60s', '50ms'], upstreamTimeout: ['1s', '100ms'], upstreamClose: ['stock', 'exact'],
  retry: ['off', 'default'], methods: ['POST', 'GET'], faults: [['latency:upstream:1ms'], []],
};

describe('shard assignment', () => {
  it('puts every key in exactly one shard, the shards within one key of each other in size, for random matrices and N', () => {
    const random = seededRandom(42);
    for (let round = 0; round < 200; round++) {
      const keys = Array.from({ length: Math.floor(random() * 60) }, (_, i) => `P${Math.floor(random() * 1e6)}-K${i}`);
      for (const count of [1, 4, 7, keys.length + 3]) {
        const slices = Array.from({ length: count }, (_, i) => shardSlice(keys, { index: i + 1, count }));
        const all = slices.flat();
        expect(all.length).toBe(keys.length);
        expect(new Set(all)).toEqual(new Set(keys));
        const sizes = slices.map((slice) => slice.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('gives a shard past the keys none, and one shard everything', () => {
    expect(shardSlice(['a', 'b'], { index: 3, count: 5 })).toEqual([]);
    expect(new Set(shardSlice(['a', 'b', 'c'], { index: 1, count: 1 }))).toEqual(new Set(['a', 'b', 'c']));
  });

  it('takes the same topologies, cell numbers and seeds with the flags\' values in another order', () => {
    for (let index = 1; index <= 4; index++) {
      const shape = (input: object) => plannedGroups(parseSweepConfig({ ...input, shard: `${index}/4` })).map((planned) => ({
        key: planned.group.key, firstIndex: planned.firstIndex, cells: planned.group.cells.map((cell) => cell.id).sort(), seed: unitSeed(1, planned.seedKey, undefined),
      })).sort((a, b) => a.key.localeCompare(b.key));
      expect(shape(reordered)).toEqual(shape(matrix));
    }
  });

  it('deals the whole matrix over the shards, each topology once, and seeds a topology the same whatever N', () => {
    const groups = expandTopologyGroups(parseSweepConfig(matrix)).map((group) => group.key);
    expect(groups.length).toBe(64);
    for (const count of [1, 2, 4, 5, 64, 70]) {
      const taken = Array.from({ length: count }, (_, i) => plannedGroups(parseSweepConfig({ ...matrix, shard: `${i + 1}/${count}` })).map((planned) => planned.group.key)).flat();
      expect(taken.sort()).toEqual([...groups].sort());
    }
    // Each topology is seeded from its key, whichever N dealt it.
    const seedsWith = (count: number) => new Map(Array.from({ length: count }, (_, i) => plannedGroups(parseSweepConfig({ ...matrix, seed: 7, shard: `${i + 1}/${count}` })))
      .flat().map((planned) => [planned.group.key, unitSeed(7, planned.seedKey, undefined)]));
    const whole = new Map(plannedGroups(parseSweepConfig({ ...matrix, seed: 7 })).map((planned) => [planned.group.key, unitSeed(7, planned.seedKey, undefined)]));
    for (const count of [2, 5, 70]) expect(seedsWith(count)).toEqual(whole);
    expect(new Set(whole.values()).size).toBe(whole.size);
    const key = groups[5]!;
    expect(unitSeed(7, key, 'undici')).not.toBe(unitSeed(7, key, 'raw'));
  });

  it('adds the reference cell to every shard as a copy named for the shard, seeded like the cell itself', () => {
    const reference = 'P60000-K100-exact-POST-default';
    for (let index = 1; index <= 3; index++) {
      const planned = plannedGroups(parseSweepConfig({ shard: `${index}/3`, referenceCell: reference }));
      const copy = planned.find((group) => group.reference)!;
      expect(copy.group.cells.map((cell) => cell.id)).toEqual([`${reference}@shard${index}`]);
      expect(copy.reference!.trialPrefix).toMatch(new RegExp(`^s${index}c\\d+$`));
      expect(copy.seedKey).toBe('P60000-K100-exact-default');
    }
    expect(() => plannedGroups(parseSweepConfig({ shard: '1/2', referenceCell: 'nope' }))).toThrow(/not a cell of this matrix: give one of P60000-K100-exact-GET-default/);
    expect(() => parseSweepConfig({ referenceCell: reference })).toThrow(/add --shard I\/N/);
  });
});

describe('parseShard', () => {
  it('reads I/N and auto/N (JOB_COMPLETION_INDEX from 0), and names what is wrong', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(parseShard('auto/4', { JOB_COMPLETION_INDEX: '0' })).toEqual({ index: 1, count: 4 });
    expect(parseShard('auto/4', { JOB_COMPLETION_INDEX: '3' })).toEqual({ index: 4, count: 4 });
    expect(() => parseShard('auto/4', { JOB_COMPLETION_INDEX: '4' })).toThrow(/I must be from 1 to 4 \(JOB_COMPLETION_INDEX from 0 to 3\)/);
    expect(() => parseShard('auto/4', {})).toThrow(/JOB_COMPLETION_INDEX .* which is not set/);
    expect(() => parseShard('0/4')).toThrow(/I must be from 1 to 4/);
    expect(() => parseShard('5/4')).toThrow(/I must be from 1 to 4/);
    expect(() => parseShard('1of4')).toThrow(/is not a shard: give I\/N/);
    expect(parseSweepConfig({ shard: { index: 3, count: 4 } }).shard).toEqual({ index: 3, count: 4 });
  });
});

describe('matrixHash', () => {
  it('is one value for one matrix, whatever the order of its values, its run directory or its shard', () => {
    const base = parseSweepConfig(matrix) as Record<string, unknown>;
    const again = parseSweepConfig({ ...reordered, out: 'elsewhere', shard: '3/4', capture: true }) as Record<string, unknown>;
    expect(matrixHash(again)).toBe(matrixHash(base));
    expect(matrixHash(parseSweepConfig({ ...matrix, trials: 23 }) as Record<string, unknown>)).not.toBe(matrixHash(base));
    expect(matrixHash(parseSweepConfig({ ...matrix, methods: ['GET'] }) as Record<string, unknown>)).not.toBe(matrixHash(base));
  });
});

describe('chiSquareSurvival', () => {
  it('matches the tables', () => {
    expect(chiSquareSurvival(3.841459, 1)).toBeCloseTo(0.05, 5);
    expect(chiSquareSurvival(7.814728, 3)).toBeCloseTo(0.05, 5);
    expect(chiSquareSurvival(11.34487, 3)).toBeCloseTo(0.01, 5);
    expect(chiSquareSurvival(2, 2)).toBeCloseTo(Math.exp(-1), 10);
    expect(chiSquareSurvival(0.5, 4)).toBeCloseTo(0.973501, 5);
    expect(chiSquareSurvival(0, 3)).toBe(1);
  });
});

describe('shardAgreements', () => {
  const copy = (shard: number, widthMs: number, standardErrorMs: number, failures: number) => ({
    id: `X@shard${shard}`, referenceOf: 'X', shard, trials: 1000, failures, rateDispersion: 1, failureRateCi95: [0, 1],
    windowWidth: [{ boundary: 'upstream', widthMs, widthMsCi95: [widthMs - 2 * standardErrorMs, widthMs + 2 * standardErrorMs], standardErrorMs, disturbed: false }],
  }) as unknown as CellAnalysis;

  it('says the shards agree when their W differ by their errors, and names the one that stands out when not', () => {
    const alike = shardAgreements([copy(1, 0.20, 0.03, 40), copy(2, 0.22, 0.03, 44), copy(3, 0.19, 0.03, 38), copy(4, 0.21, 0.03, 42)])[0]!;
    expect(alike.agree).toBe(true);
    expect(alike.width!.df).toBe(3);
    expect(alike.readings.some((reading) => reading.flagged)).toBe(false);
    const apart = shardAgreements([copy(1, 0.20, 0.02, 40), copy(2, 0.21, 0.02, 42), copy(3, 0.60, 0.04, 120), copy(4, 0.19, 0.02, 38)])[0]!;
    expect(apart.agree).toBe(false);
    expect(apart.width!.pValue).toBeLessThan(0.001);
    expect(apart.readings.filter((reading) => reading.flagged).map((reading) => reading.shard)).toEqual([3]);
    expect(apart.rate!.pValue).toBeLessThan(0.001);
  });

  it('cannot tell with fewer than two W that vary', () => {
    expect(shardAgreements([copy(1, 0, 0, 0), copy(2, 0, 0, 0)])[0]!.agree).toBeNull();
    expect(shardAgreements([copy(1, 0.2, 0.03, 40)])[0]!.agree).toBeNull();
    expect(shardAgreements([{ ...copy(1, 0.2, 0.03, 40), referenceOf: undefined } as CellAnalysis])).toEqual([]);
  });
});

describe('shardManifest', () => {
  const run = { type: 'run', startedAt: 'x', monotonicAtStart: 0, runtime: 'local', proxy: 'nginx', harness: '9.9.9', versions: { nginx: '1.22.1' },
    machine: { host: 'a', cores: 2, cpu: 'c', kernel: 'k', node: 'v20', memoryGiB: 1 } };

  it('says what the shard planned, measured and completed, and the machine\'s load over its blocks', () => {
    const settings = parseSweepConfig({ shard: '1/2', proxyTimeout: ['60s'], retry: ['off'] });
    const cells = plannedGroups(settings).flatMap((planned) => planned.group.cells.map((cell) => cell.id));
    const history = [
      { ...run, settings }, { type: 'versions', group: 'G', versions: { upstreamNode: 'v20' } },
      ...cells.map((id) => ({ type: 'cell', id })),
      { type: 'block', block: 0, cells, seconds: 1, trials: 10, offTarget: 0, machineBusyShare: 0.5, machineStealShare: 0.1 },
      { type: 'block', block: 1, cells, seconds: 3, trials: 10, offTarget: 0, machineBusyShare: 0.3, machineStealShare: 0 },
      { type: 'cell-end', cell: cells[0], completed: true, seconds: 4 },
    ] as unknown as HistoryRecord[];
    const manifest = shardManifest(history)!;
    expect(manifest.shard).toEqual({ index: 1, count: 2 });
    expect(manifest.harness).toBe('9.9.9');
    expect(manifest.matrixHash).toBe(matrixHash(settings as Record<string, unknown>));
    expect(manifest.load).toEqual({ seconds: 4, blocks: 2, machineBusyShare: 0.35, machineStealShare: 0.025, maxStealShare: 0.1 });
    expect(manifest.versions).toEqual({ nginx: '1.22.1', upstreamNode: 'v20' });
    expect(manifest.completed).toBe(cells.length === 1);
    const ended = [...history, ...cells.slice(1).map((cell) => ({ type: 'cell-end', cell, completed: true, seconds: 4 }))] as unknown as HistoryRecord[];
    expect(shardManifest(ended)!.completed).toBe(true);
    // A shard stopped before a planned cell began is not complete.
    expect(shardManifest(history.filter((record) => record.type !== 'cell' && record.type !== 'cell-end'))!.completed).toBe(cells.length === 0);
    expect(shardManifest([{ ...run, settings: parseSweepConfig({}) }] as unknown as HistoryRecord[])).toBeNull();
    // A crafted record is no shard.
    for (const shard of [{ index: 'x', count: 2 }, { index: 3, count: 2 }, { index: 0, count: 2 }, '1/2']) {
      expect(shardManifest([{ ...run, settings: { ...settings, shard } }] as unknown as HistoryRecord[])).toBeNull();
    }
  });
});
