// W block by block, with the load each block was fired under: what the report draws as "W
// against load". Every block of a cell measures the same pairing, so where blocks' W climbs with
// their load (their share of trials landed off their stratum, the machine's busy and stolen CPU),
// the load widened the window, not the pairing. Each block's W uses its own rates: a few trials
// per stratum, so one block's W is rough; the spread over many is what the picture shows.
import type { BlockRecord, TrialRecord } from '../history/records.js';
import { blockQuality } from './disturbance.js';
import { widthPerBlock } from './window-width.js';

export interface BlockWidth {
  block: number;
  trials: number;
  /** W of this block alone (ms): sum over its strata of its own rate x the stratum's width. */
  widthMs: number;
  /** Its share of trials off their stratum, and whether that left it out of the cell's W. */
  offTarget: number;
  disturbed: boolean;
  /** The machine while the block fired (from its block record, when the sweep wrote one). */
  machineBusyShare?: number;
  machineStealShare?: number;
}

/**
 * Per block of one cell, W at one boundary; blocks in order. A block's disturbance is judged on
 * all the cell's trials in it, as for the cell's W. Empty for runs made before strata.
 */
export function blockWidths(cellTrials: readonly TrialRecord[], boundary: TrialRecord['boundary'], stratumMs: number, blocks: readonly BlockRecord[]): BlockWidth[] {
  if (cellTrials.length === 0 || cellTrials.some((trial) => trial.aimOffsetMs === undefined)) return [];
  const records = new Map(blocks.map((record) => [record.block, record]));
  const widths = widthPerBlock(cellTrials.filter((trial) => trial.boundary === boundary), stratumMs);
  return blockQuality(cellTrials, stratumMs).map((quality) => {
    const { trials, widthMs } = widths.get(quality.block) ?? { trials: 0, widthMs: 0 };
    const record = records.get(quality.block);
    return {
      block: quality.block,
      trials,
      widthMs: Math.round(widthMs * 1e4) / 1e4,
      offTarget: quality.offTarget,
      disturbed: quality.disturbed,
      ...(record?.machineBusyShare !== undefined ? { machineBusyShare: record.machineBusyShare } : {}),
      ...(record?.machineStealShare !== undefined ? { machineStealShare: record.machineStealShare } : {}),
    };
  });
}
