// Strata of idle gap: each offset of a sweep stands for the stretch of gap around it, and every
// trial aims at a point drawn evenly within its offset's stretch.
//
// Why: the race window is about 0.4 ms wide, narrower than the 0.5 ms between offsets. Trials
// aimed at the offsets themselves land on a comb (the workload is within ~0.1 ms), so a cell's
// failure count said more about where the comb's teeth fell against the window (a probe 0.3 ms
// off moved it) than about the window: two cells measuring one pairing read 2.35% and 4.41% in
// one run. Aimed evenly within each stratum, a stratum's failure rate is the window's average
// over it, and the sum of rate x width is the window's width W, wherever the teeth fall.

/** The widest stratum: the analysis's bin (0.5 ms). */
export const MAX_STRATUM_MS = 0.5;

/**
 * The width of each offset's stratum: the closest spacing of the offsets, at most 0.5 ms, so
 * that strata never overlap (an overlap would count one stretch of gap twice in W).
 */
export function stratumWidthMs(offsetsMs: readonly number[]): number {
  const sorted = [...new Set(offsetsMs)].sort((a, b) => a - b);
  let width = MAX_STRATUM_MS;
  for (let i = 1; i < sorted.length; i++) width = Math.min(width, sorted[i]! - sorted[i - 1]!);
  // Float noise (0.1 + 0.2) must not make 0.30000000000000004 a width.
  return Math.round(width * 1e6) / 1e6;
}

/** A point drawn evenly within the stratum of `offsetMs`: [offset - width/2, offset + width/2). */
export function aimWithin(offsetMs: number, widthMs: number, random: () => number): number {
  return offsetMs + (random() - 0.5) * widthMs;
}
