// Blocks the machine disturbed: when the harness lands many trials off their stratum, its own
// event loop (or the whole VM) stalled, and the proxy and the upstream stalled with it. Such a
// block's window is the machine's, not the pairing's: measured here, blocks with 30-56% of
// their trials off their stratum read W 0.34-0.97 ms while the quiet blocks of the same runs read
// 0.13-0.31 ms (the machine then 33% busy, 14% of its CPU stolen by the hypervisor). Quiet
// blocks land 3-19% off. W is measured on the blocks at or under 25%; the rest are excluded,
// and said so.
import type { TrialRecord } from '../history/records.js';

/** A block with more of its trials off their stratum than this is disturbed. */
export const DISTURBED_OFF_TARGET = 0.25;

/** How far from its aim a trial may land and still be in its stratum: half the stratum. */
export function isOffTarget(trial: TrialRecord, stratumMs: number): boolean {
  return Math.abs(trial.gapOffsetMs - (trial.aimOffsetMs ?? trial.intendedOffsetMs)) > stratumMs / 2;
}

export interface BlockQuality {
  block: number;
  trials: number;
  offTarget: number;
  disturbed: boolean;
}

/** Each block's share of trials off their stratum, and whether that makes it disturbed. */
export function blockQuality(trials: readonly TrialRecord[], stratumMs: number): BlockQuality[] {
  const counts = new Map<number, [number, number]>();
  for (const trial of trials) {
    const [n, off] = counts.get(trial.block ?? 0) ?? [0, 0];
    counts.set(trial.block ?? 0, [n + 1, off + (isOffTarget(trial, stratumMs) ? 1 : 0)]);
  }
  return [...counts.entries()].sort(([a], [b]) => a - b).map(([block, [n, off]]) => {
    const offTarget = Math.round((off / n) * 1000) / 1000;
    return { block, trials: n, offTarget, disturbed: offTarget > DISTURBED_OFF_TARGET };
  });
}
