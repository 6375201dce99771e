// The window's width W: the stretch of idle gap (ms) in which a reused connection fails for
// certain, as the integral of the failure rate over the gaps aimed at. Each trial aims evenly
// within its offset's stratum (scenario/strata.ts), so a stratum's rate is the window's mean
// over it and W = sum of rate x stratum width, whatever the offsets, the probe's error and the
// comb of aims are. The rate per aimed request, by contrast, is W over the span of the offsets
// (more far offsets, lower rate).
//
// Its interval covers what varies between blocks, not only the count: the cell's trials are
// dealt into randomized blocks, and where the blocks' estimates spread more than their counts
// allow (a busy moment of the machine moves a block), the counts are worth that much less.
import type { TrialRecord } from '../history/records.js';
import { stratumWidthMs } from '../scenario/strata.js';
import type { BoundaryKind } from '../vocabulary.js';
import { overdispersion, wilsonInterval } from '../util/stats.js';
import { blockQuality, type BlockQuality } from './disturbance.js';

export interface WindowWidth {
  boundary: BoundaryKind;
  /** W: ms of idle gap in which a request fails for certain (sum over strata of rate x width). */
  widthMs: number;
  widthMsCi95: [number, number];
  /** W's standard error (ms): from the strata's counts, times the square root of the dispersion.
   *  Two cells' W differ beyond chance when their difference exceeds z x the root of the sum of squares. */
  standardErrorMs: number;
  /** The gap (ms) the strata cover: W is measured over this much and nowhere else. */
  spanMs: number;
  strata: number;
  /** Between-block spread of W over what the counts alone predict (at least 1; 1 with one block). */
  dispersion: number;
  /** Blocks W was measured on. */
  blocks: number;
  /** Blocks left out because the machine disturbed them (analysis/disturbance.ts), with their
   *  share of trials off their stratum. When every block was disturbed, none is left out; when
   *  most were, or all, `disturbed` says W is the machine's as much as the pairing's. */
  excludedBlocks: BlockQuality[];
  disturbed: boolean;
  /**
   * Where failures reach the edge of the densely aimed strata (the run of strata around the
   * worst one, spaced by the stratum width): the window may go on past it, and W is then a
   * lower bound. Widen the offsets on that side.
   */
  cutAt: ('low' | 'high')[];
  /** `strata`: trials aimed evenly within strata. `points`: a run made before strata, aimed at the
   *  offsets themselves, whose W depends on where those points fell against the window. */
  aim: 'strata' | 'points';
}

interface Stratum {
  widthMs: number;
  trials: number;
  failures: number;
  /** Per block: [trials, failures]. */
  byBlock: Map<number, [number, number]>;
}

/** The trials of one boundary, by stratum (their planned offset). */
function strataOf(trials: readonly TrialRecord[], widthMs: number): Map<number, Stratum> {
  const strata = new Map<number, Stratum>();
  for (const trial of trials) {
    let stratum = strata.get(trial.intendedOffsetMs);
    if (!stratum) strata.set(trial.intendedOffsetMs, (stratum = { widthMs, trials: 0, failures: 0, byBlock: new Map() }));
    const failed = trial.errorClass !== 'ok' ? 1 : 0;
    stratum.trials++;
    stratum.failures += failed;
    const block = stratum.byBlock.get(trial.block ?? 0) ?? [0, 0];
    stratum.byBlock.set(trial.block ?? 0, [block[0] + 1, block[1] + failed]);
  }
  return strata;
}

/** W of a set of strata, and its variance from the counts (rate p per stratum). */
function widthAndVariance(strata: Iterable<{ widthMs: number; trials: number; failures: number; p?: number }>): { widthMs: number; variance: number } {
  let widthMs = 0;
  let variance = 0;
  for (const stratum of strata) {
    if (stratum.trials === 0) continue;
    const rate = stratum.failures / stratum.trials;
    const p = stratum.p ?? rate;
    widthMs += rate * stratum.widthMs;
    variance += (stratum.widthMs ** 2 * p * (1 - p)) / stratum.trials;
  }
  return { widthMs, variance };
}

/** Each block's own W (its own rates per stratum) and trial count, from one boundary's trials. */
export function widthPerBlock(trials: readonly TrialRecord[], stratumMs: number): Map<number, { trials: number; widthMs: number }> {
  const strata = [...strataOf(trials, stratumMs).values()];
  const blocks = new Set(trials.map((trial) => trial.block ?? 0));
  return new Map([...blocks].map((block) => {
    const own = strata.map((stratum) => {
      const [n, f] = stratum.byBlock.get(block) ?? [0, 0];
      return { widthMs: stratum.widthMs, trials: n, failures: f };
    });
    return [block, { trials: own.reduce((sum, stratum) => sum + stratum.trials, 0), widthMs: widthAndVariance(own).widthMs }];
  }));
}

/**
 * W per boundary of a cell's trials. `stratumMs` is the cell's stratum width (its record says;
 * for a run made before strata, the spacing of the offsets its trials were planned at).
 */
/** The blocks W leaves out (disturbed ones, unless all were), and whether the machine decided W. */
function blockExclusion(trials: readonly TrialRecord[], stratumMs: number | undefined) {
  // A block's disturbance is a matter of time, not of boundary: judged on all its trials. Runs
  // made before strata aimed at points, and are taken as they are.
  const quality = trials.every((trial) => trial.aimOffsetMs !== undefined) ? blockQuality(trials, stratumMs ?? stratumWidthMs(trials.map((t) => t.intendedOffsetMs))) : [];
  const disturbedBlocks = quality.filter((block) => block.disturbed);
  const allDisturbed = disturbedBlocks.length > 0 && disturbedBlocks.length === quality.length;
  // Most blocks disturbed: W rests on the few quiet ones left, and the machine may have been
  // noisy through them too (27% of the CPU stolen in one CI run): said, like all disturbed.
  const mostlyDisturbed = disturbedBlocks.length * 2 > quality.length;
  const excluded = new Set(allDisturbed ? [] : disturbedBlocks.map((block) => block.block));
  return { disturbedBlocks, allDisturbed, mostlyDisturbed, excluded };
}

/** One stratum of the window's curve: its gap (ms from the boundary) and its failure rate. */
export interface CurveStratum {
  fromMs: number;
  toMs: number;
  trials: number;
  failures: number;
}

/**
 * The window's curve at one boundary: the failure rate per stratum of gap, from the same trials
 * W is measured on (disturbed blocks left out alike), sorted by gap. Between strata, and past
 * them, the curve is taken as 0, as W takes it.
 */
export function windowCurve(trials: readonly TrialRecord[], stratumMs: number | undefined, boundary: BoundaryKind): CurveStratum[] {
  const { excluded } = blockExclusion(trials, stratumMs);
  const own = trials.filter((trial) => trial.boundary === boundary && !excluded.has(trial.block ?? 0));
  const widthOfStratum = stratumMs ?? stratumWidthMs(own.map((trial) => trial.intendedOffsetMs));
  return [...strataOf(own, widthOfStratum).entries()]
    .sort(([a], [b]) => a - b)
    .map(([offset, stratum]) => ({ fromMs: offset - widthOfStratum / 2, toMs: offset + widthOfStratum / 2, trials: stratum.trials, failures: stratum.failures }));
}

export function windowWidths(trials: readonly TrialRecord[], stratumMs: number | undefined, confidence = 0.95): WindowWidth[] {
  const boundaries = [...new Set(trials.map((trial) => trial.boundary))].sort();
  const { disturbedBlocks, allDisturbed, mostlyDisturbed, excluded } = blockExclusion(trials, stratumMs);
  return boundaries.map((boundary) => {
    const own = trials.filter((trial) => trial.boundary === boundary && !excluded.has(trial.block ?? 0));
    const widthOfStratum = stratumMs ?? stratumWidthMs(own.map((trial) => trial.intendedOffsetMs));
    const byOffset = strataOf(own, widthOfStratum);
    const strata = [...byOffset.values()];
    const { widthMs, variance } = widthAndVariance(strata);
    const blockIds = [...new Set(own.map((trial) => trial.block ?? 0))];
    // Each block's own W, its variance taken at the pooled rates (a block's few trials per
    // stratum would make its own rates' variance 0 where it saw no failure).
    const perBlock = blockIds.map((block) => widthAndVariance(strata.map((stratum) => {
      const [n, f] = stratum.byBlock.get(block) ?? [0, 0];
      return { widthMs: stratum.widthMs, trials: n, failures: f, p: stratum.failures / stratum.trials };
    })));
    const dispersion = overdispersion(perBlock.map((block) => ({ estimate: block.widthMs, variance: block.variance })), widthMs);
    const spanMs = strata.reduce((sum, stratum) => sum + stratum.widthMs, 0);
    return {
      boundary,
      widthMs,
      widthMsCi95: widthInterval(widthMs, variance, spanMs, own.length, dispersion, confidence),
      standardErrorMs: Math.sqrt(variance * dispersion),
      spanMs: Math.round(spanMs * 1e6) / 1e6,
      strata: strata.length,
      dispersion,
      blocks: blockIds.length,
      excludedBlocks: allDisturbed ? [] : disturbedBlocks,
      disturbed: allDisturbed || mostlyDisturbed,
      cutAt: cutEdges(byOffset, widthOfStratum),
      aim: own.every((trial) => trial.aimOffsetMs !== undefined) ? 'strata' : 'points',
    };
  });
}

/**
 * Wilson's interval on W as a rate over the span, with the trials the strata's variance is worth
 * (the design effect), divided by the dispersion. With no failure the variance is 0: then every
 * trial counts, as for a plain rate.
 */
function widthInterval(widthMs: number, variance: number, spanMs: number, trials: number, dispersion: number, confidence: number): [number, number] {
  if (spanMs === 0 || trials === 0) return [0, spanMs];
  const rate = widthMs / spanMs;
  const worth = (variance > 0 ? (rate * (1 - rate) * spanMs ** 2) / variance : trials) / dispersion;
  const [low, high] = wilsonInterval(rate * worth, worth, confidence);
  return [low * spanMs, high * spanMs];
}

/** An edge stratum failing at a quarter or more of the worst stratum's rate (and twice or more). */
const EDGE_SHARE = 0.25;

function cutEdges(strata: Map<number, Stratum>, widthMs: number): ('low' | 'high')[] {
  const offsets = [...strata.keys()].sort((a, b) => a - b);
  const rate = (offset: number) => strata.get(offset)!.failures / strata.get(offset)!.trials;
  const worst = offsets.reduce<number | null>((best, offset) => (best === null || rate(offset) > rate(best) ? offset : best), null);
  if (worst === null || rate(worst) === 0) return [];
  // The dense run around the worst stratum: neighbours one stratum width apart.
  const adjacent = (a: number, b: number) => Math.abs(Math.abs(a - b) - widthMs) < 1e-6;
  let low = offsets.indexOf(worst);
  let high = low;
  while (low > 0 && adjacent(offsets[low - 1]!, offsets[low]!)) low--;
  while (high < offsets.length - 1 && adjacent(offsets[high + 1]!, offsets[high]!)) high++;
  const cut = (offset: number) => strata.get(offset)!.failures >= 2 && rate(offset) >= EDGE_SHARE * rate(worst);
  return [...(cut(offsets[low]!) ? ['low' as const] : []), ...(cut(offsets[high]!) ? ['high' as const] : [])];
}
