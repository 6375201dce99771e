// Where the next group aims, and when the race is confirmed. Two phases:
// - the sweep visits the plan's bins in a seeded order, each group at a gap drawn within its bin;
// - a sweep group with a gateway failure (502, reset, closed without an answer) names a
//   candidate age, and from then on groups aim near it (within FOCUS_MS, at the cell a
//   Thompson draw favours: where aimed groups have failed most) or far from it, as many of each. The candidate is the race when the groups aimed at it fail more often than
//   the groups far from it, by a one-sided Fisher exact test on groups (a group's requests share
//   one moment, so the group is the unit that is independent).
// The group that named the candidate is not counted: choosing the place from a failure and then
// counting that failure would find "concentration" in any single blip. The test is taken at
// four looks per candidate, for up to MAX_CANDIDATES candidates, with the error split so that
// a run without the race reports it with probability below ALPHA. While a candidate is tested,
// the sweep's groups go to gaps far from it, so that the comparison grows as fast as the aim.
import { fisherGreater, quantile } from '../util/stats.js';
import { seededRandom, shuffle } from '../util/random.js';
import type { ErrorClass } from '../vocabulary.js';
import type { FieldPlan, IdleBin } from './field-plan.js';
import type { FieldTrial, GroupPhase } from './fire-group.js';

/** How the race reaches a client through a load balancer: a 502, or a connection closed or reset without an answer. */
export const GATEWAY_FAILURES: ReadonlySet<ErrorClass> = new Set<ErrorClass>(['502', 'reset', 'eof']);
export const isGatewayFailure = (trial: Pick<FieldTrial, 'errorClass'>) => GATEWAY_FAILURES.has(trial.errorClass);

/**
 * Focus groups aim within this of the gap that named the candidate. Groups fail over about 5-7
 * ms of gap, and where in it the naming group fell is unknown; the window's place also moved by
 * 10 ms between two starts of the same stock Node (docs/field.md#measured).
 */
export const FOCUS_MS = 8;
/** Focus cells: the aim picks one of these slices of the focus range, then a gap within it. */
const CELL_MS = 2;
/** Groups this far from the candidate are its comparison: past the focus range around it. */
export const FAR_MS = 15;
/** Focus-group counts at which the test is taken. */
export const LOOKS = [6, 12, 24, 48] as const;
export const MAX_CANDIDATES = 4;
const MIN_FAR_GAP_MS = 10;
export const ALPHA = 0.05;

export interface GroupSummary {
  group: number;
  phase: GroupPhase;
  /** The group's measured gap (median of its requests'). */
  gapMs: number;
  trials: number;
  gatewayFailures: number;
  /** Measured gaps of its requests that failed at the gateway. */
  failingGapsMs: number[];
}

export function summarizeGroup(trials: readonly FieldTrial[]): GroupSummary {
  const gaps = trials.map((trial) => trial.gapMs ?? trial.intendedGapMs);
  const failing = trials.filter(isGatewayFailure);
  return {
    group: trials[0]!.group, phase: trials[0]!.phase, gapMs: quantile(gaps, 0.5), trials: trials.length,
    gatewayFailures: failing.length, failingGapsMs: failing.map((trial) => trial.gapMs ?? trial.intendedGapMs),
  };
}

export interface CandidateTest {
  /** Where the failures concentrate: the median measured gap of the failed requests. */
  centreMs: number;
  triggerGroup: number;
  focusGroups: number;
  failingFocusGroups: number;
  farGroups: number;
  failingFarGroups: number;
  /** One-sided Fisher p at the last look taken (null before the first). */
  pValue: number | null;
  /** The p a look must be under for this candidate. */
  threshold: number;
  /**
   * testing; confirmed: the race; rejected: its aimed groups did not fail again (a blip);
   * inconclusive: they failed again, but the last look found it short of the confidence.
   */
  status: 'testing' | 'confirmed' | 'rejected' | 'inconclusive';
}

export class GapSearch {
  private readonly random: () => number;
  private order: number[] = [];
  private readonly sweep: GroupSummary[] = [];
  private focus: GroupSummary[] = [];
  private failingGaps: number[] = [];
  /** The focus cells around the gap that named the candidate: aimed groups and failing ones in each. */
  private cells: { fromMs: number; groups: number; failing: number }[] = [];
  readonly candidates: CandidateTest[] = [];

  constructor(private readonly plan: FieldPlan, seed: number) {
    this.random = seededRandom(seed);
  }

  /** The candidate being tested, if any. */
  testing(): CandidateTest | null {
    const last = this.candidates.at(-1);
    return last && last.status === 'testing' ? last : null;
  }

  get confirmed(): CandidateTest | null {
    return this.candidates.find((candidate) => candidate.status === 'confirmed') ?? null;
  }

  /**
   * The next group's aim. While a candidate is tested: at it, or far from it whenever the far
   * groups are fewer than the aimed ones (the test needs both, and is quickest with as many of
   * each). Else the next bin of the sweep.
   */
  next(): { gapMs: number; phase: 'sweep' | 'focus' } {
    const candidate = this.testing();
    if (candidate && this.farOf(candidate).length >= this.focus.length) return { gapMs: this.focusGap(), phase: 'focus' };
    if (candidate) return { gapMs: this.farFrom(candidate.centreMs), phase: 'sweep' };
    return { gapMs: this.inBin(this.nextBin(() => true)), phase: 'sweep' };
  }

  /** The next bin of the seeded order that is wanted now; the others stay in the order for later. */
  private nextBin(wanted: (bin: IdleBin) => boolean): IdleBin | null {
    if (!this.plan.bins.some(wanted)) return null;
    for (;;) {
      for (let at = this.order.length - 1; at >= 0; at--) {
        const bin = this.plan.bins[this.order[at]!]!;
        if (!wanted(bin)) continue;
        this.order.splice(at, 1);
        return bin;
      }
      // A new pass in a new seeded order, after what is left of this one.
      this.order = shuffle(this.plan.bins.map((_, index) => index), this.random).concat(this.order);
    }
  }

  private inBin(bin: IdleBin | null): number {
    return bin!.fromMs + this.random() * (bin!.toMs - bin!.fromMs);
  }

  /**
   * Thompson sampling over the focus cells: each cell's failing share drawn from its Beta
   * posterior, the highest draw aimed at. Cells that fail get most of the groups; untried cells
   * still get some. (Under no race, where a group aims does not change whether it fails, so the
   * test's counts stay fair.)
   */
  private focusGap(): number {
    let best = this.cells[0]!;
    let bestDraw = -1;
    for (const cell of this.cells) {
      const draw = betaDraw(1 + cell.failing, 1 + cell.groups - cell.failing, this.random);
      if (draw > bestDraw) [best, bestDraw] = [cell, draw];
    }
    return best.fromMs + this.random() * CELL_MS;
  }

  /** A gap of the plan far from the candidate; below it when the plan has none (younger connections, never the race). */
  private farFrom(centreMs: number): number {
    const far = this.nextBin((bin) => bin.toMs <= centreMs - FAR_MS || bin.fromMs >= centreMs + FAR_MS);
    if (!far) return Math.max(MIN_FAR_GAP_MS, centreMs - FAR_MS - this.random() * 3 * FAR_MS);
    // Only the part of the bin that is far.
    const fromMs = far.fromMs >= centreMs ? Math.max(far.fromMs, centreMs + FAR_MS) : far.fromMs;
    const toMs = far.fromMs >= centreMs ? far.toMs : Math.min(far.toMs, centreMs - FAR_MS);
    return fromMs + this.random() * (toMs - fromMs);
  }

  /** Takes a group's outcome; returns the candidate once it is confirmed. */
  record(group: GroupSummary): CandidateTest | null {
    if (group.phase === 'prime') return null;
    if (group.phase === 'sweep') {
      this.sweep.push(group);
      if (!this.testing() && !this.confirmed && group.gatewayFailures > 0 && this.candidates.length < MAX_CANDIDATES) this.open(group);
      return null;
    }
    const candidate = this.testing();
    if (!candidate) return null;
    this.focus.push(group);
    const cell = this.cells.find((slice) => group.gapMs >= slice.fromMs && group.gapMs < slice.fromMs + CELL_MS);
    if (cell) {
      cell.groups++;
      if (group.gatewayFailures > 0) cell.failing++;
    }
    this.failingGaps.push(...group.failingGapsMs);
    candidate.centreMs = quantile(this.failingGaps, 0.5);
    candidate.focusGroups = this.focus.length;
    candidate.failingFocusGroups = this.focus.filter((focus) => focus.gatewayFailures > 0).length;
    if ((LOOKS as readonly number[]).includes(this.focus.length)) this.look(candidate);
    return candidate.status === 'confirmed' ? candidate : null;
  }

  /** The sweep's groups far from the candidate, the one that named it left out. */
  private farOf(candidate: CandidateTest): GroupSummary[] {
    return this.sweep.filter((group) => group.group !== candidate.triggerGroup && Math.abs(group.gapMs - candidate.centreMs) > FAR_MS);
  }

  private open(trigger: GroupSummary): void {
    this.focus = [];
    this.failingGaps = [...trigger.failingGapsMs];
    const named = quantile(trigger.failingGapsMs, 0.5);
    this.cells = Array.from({ length: (2 * FOCUS_MS) / CELL_MS }, (_, index) => ({ fromMs: named - FOCUS_MS + index * CELL_MS, groups: 0, failing: 0 }));
    // The k-th candidate spends ALPHA / 2^k, split evenly over its looks: ALPHA in all.
    const threshold = ALPHA / 2 ** (this.candidates.length + 1) / LOOKS.length;
    this.candidates.push({ centreMs: quantile(this.failingGaps, 0.5), triggerGroup: trigger.group, focusGroups: 0, failingFocusGroups: 0, farGroups: 0, failingFarGroups: 0, pValue: null, threshold, status: 'testing' });
  }

  private look(candidate: CandidateTest): void {
    const far = this.farOf(candidate);
    candidate.farGroups = far.length;
    candidate.failingFarGroups = far.filter((group) => group.gatewayFailures > 0).length;
    candidate.pValue = fisherGreater(candidate.failingFocusGroups, candidate.focusGroups, candidate.failingFarGroups, candidate.farGroups);
    if (candidate.failingFocusGroups >= 2 && candidate.pValue < candidate.threshold) candidate.status = 'confirmed';
    // A candidate its own groups do not fail at again was a blip.
    else if (this.focus.length >= LOOKS[2] && candidate.failingFocusGroups <= 1) candidate.status = 'rejected';
    // Failing again but short of the confidence at the last look: neither the race nor a blip.
    else if (this.focus.length >= LOOKS.at(-1)!) candidate.status = 'inconclusive';
  }
}

/** A Beta(a, b) draw for whole a and b: X / (X + Y), X and Y sums of a and b exponential draws. */
function betaDraw(a: number, b: number, random: () => number): number {
  const gamma = (shape: number) => {
    let sum = 0;
    for (let i = 0; i < shape; i++) sum -= Math.log(1 - random());
    return sum;
  };
  const x = gamma(a);
  return x / (x + gamma(b));
}
