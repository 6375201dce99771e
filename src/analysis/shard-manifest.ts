// A shard's manifest, read from its history alone: which part of which matrix it measured, on
// what machine, under what load. `report` writes it as shard.json; `merge` checks shards by it.
import type { BlockRecord, CellEndRecord, CellRecord, HistoryRecord, ResumeRecord, RunRecord, ShardManifest } from '../history/records.js';
import { matrixHash, type ShardSpec } from '../scenario/shards.js';
import { runVersions } from '../history/run-versions.js';
import { plannedGroups } from '../scenario/shard-plan.js';
import { parseSweepConfig } from '../scenario/sweep-config.js';

/** The shard's manifest, or null for a run that was not a shard (or holds no run record). */
export function shardManifest(history: readonly HistoryRecord[]): ShardManifest | null {
  const run = history.find((r): r is RunRecord => r.type === 'run');
  const shard = run?.settings.shard as ShardSpec | undefined;
  // A run directory is data: a shard is only what the sweep itself records, 1 <= index <= count.
  if (!run || !shard || typeof shard !== 'object' || !Number.isInteger(shard.index) || !Number.isInteger(shard.count) || shard.index < 1 || shard.index > shard.count) return null;
  const cells = history.filter((r): r is CellRecord => r.type === 'cell');
  const ends = history.filter((r): r is CellEndRecord => r.type === 'cell-end');
  const blocks = history.filter((r): r is BlockRecord => r.type === 'block');
  const versions = runVersions(history, run.versions);
  const ids = [...new Set(cells.map((cell) => cell.id))];
  const completed = new Set(ends.filter((end) => end.completed).map((end) => end.cell));
  // A resumed shard may have moved machines: the last segment's machine is the one shown.
  const lastResume = history.filter((r): r is ResumeRecord => r.type === 'resume').at(-1);
  const machine = lastResume?.machine ?? run.machine;
  return {
    harness: run.harness ?? 'unknown',
    matrixHash: matrixHash(run.settings),
    shard: { index: shard.index, count: shard.count },
    groups: [...new Set(history.filter((r) => r.type === 'versions').map((r) => (r as { group: string }).group))],
    cells: ids,
    ...(typeof run.settings.referenceCell === 'string' ? { referenceCell: run.settings.referenceCell } : {}),
    // Complete when every cell its plan holds ended complete: a shard stopped before a cell
    // began has no record of that cell at all.
    completed: plannedCells(run, ids).every((id) => completed.has(id)),
    runtime: run.runtime,
    ...(machine ? { machine } : {}),
    versions,
    load: loadOf(blocks),
  };
}

/** The cells the shard's settings plan (what it measured, if they cannot be read). */
function plannedCells(run: RunRecord, measured: readonly string[]): string[] {
  try {
    const settings = Object.fromEntries(Object.entries(run.settings).filter(([key]) => !key.endsWith('Bin')));
    return plannedGroups(parseSweepConfig(settings)).flatMap(({ group }) => group.cells.map((cell) => cell.id));
  } catch {
    return [...measured];
  }
}

/** The machine over the shard's blocks, weighted by their seconds. */
function loadOf(blocks: readonly BlockRecord[]): ShardManifest['load'] {
  const seconds = blocks.reduce((sum, block) => sum + block.seconds, 0);
  const measured = blocks.filter((block) => block.machineBusyShare !== undefined && block.seconds > 0);
  const weighted = (pick: (block: BlockRecord) => number) => {
    const total = measured.reduce((sum, block) => sum + block.seconds, 0);
    return total === 0 ? null : Math.round((measured.reduce((sum, block) => sum + pick(block) * block.seconds, 0) / total) * 1000) / 1000;
  };
  return {
    seconds: Math.round(seconds * 1000) / 1000,
    blocks: blocks.length,
    machineBusyShare: weighted((block) => block.machineBusyShare ?? 0),
    machineStealShare: weighted((block) => block.machineStealShare ?? 0),
    maxStealShare: measured.length === 0 ? null : Math.max(...measured.map((block) => block.machineStealShare ?? 0)),
  };
}
