// The topologies a sweep (or one shard of it) measures, each with its place in the whole
// matrix: its cells' trial ids and seeds come from that place and key, never from N, so a cell
// is fired the same way whether the matrix runs whole or in any number of shards.
import { UsageError } from '../util/errors.js';
import { expandTopologyGroups, type TopologyGroup } from './cells.js';
import { groupsOfShard, keyHash } from './shards.js';
import type { SweepConfig } from './sweep-config.js';

export interface PlannedGroup {
  group: TopologyGroup;
  /** The place of its first cell in the whole matrix (trial ids c<index>). */
  firstIndex: number;
  /** The key its cells' seeds derive from: the group's own, also for a reference copy. */
  seedKey: string;
  /** Set on the reference cell's copy that every shard measures (`--reference-cell`). */
  reference?: { of: string; trialPrefix: string };
}

/** Every topology this run measures, in the matrix's order; the reference copy last. */
export function plannedGroups(config: SweepConfig): PlannedGroup[] {
  const all = expandTopologyGroups(config);
  const firstIndex = new Map<string, number>();
  let index = 0;
  // A shard numbers the cells in the keys' order, not the flags': shards started with the
  // values listed in another order still give every cell one id across the merge.
  const numbered = config.shard ? [...all].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) : all;
  for (const group of numbered) {
    firstIndex.set(group.key, index);
    index += group.cells.length;
  }
  const planned: PlannedGroup[] = groupsOfShard(all, config.shard).map((group) => ({ group, firstIndex: firstIndex.get(group.key)!, seedKey: group.key }));
  if (config.referenceCell !== undefined && config.shard) {
    const owner = all.find((group) => group.cells.some((cell) => cell.id === config.referenceCell));
    if (!owner) {
      const ids = all.flatMap((group) => group.cells.map((cell) => cell.id));
      throw new UsageError(`--reference-cell: "${config.referenceCell}" is not a cell of this matrix: give one of ${ids.slice(0, 6).join(', ')}${ids.length > 6 ? `, ... (${ids.length} in all)` : ''}`);
    }
    const cellIndex = firstIndex.get(owner.key)! + owner.cells.findIndex((cell) => cell.id === config.referenceCell);
    const cell = owner.cells.find((candidate) => candidate.id === config.referenceCell)!;
    const tag = `@shard${config.shard.index}`;
    planned.push({
      group: { ...owner, key: `${owner.key}${tag}`, cells: [{ ...cell, id: `${cell.id}${tag}` }] },
      firstIndex: cellIndex,
      seedKey: owner.key,
      reference: { of: cell.id, trialPrefix: `s${config.shard.index}c${cellIndex}` },
    });
  }
  return planned;
}

/** The seed of a firing unit's trial order in block 0: the run's seed and the unit's key. */
export function unitSeed(runSeed: number, seedKey: string, client: string | undefined): number {
  return runSeed + (keyHash(client === undefined ? seedKey : `${seedKey}-client-${client}`) % 1_000_000_007);
}
