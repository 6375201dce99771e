// Where the next group aims, and when the race is confirmed. Two phases:
// - the sweep visits the plan's bins in a seeded order, each group at a gap drawn within its bin;
// - a sweep group with a gateway failure (502, reset, closed without an answer) names a
//   candidate age, and from then on two groups in three aim at it (within FOCUS_MS) while the
//   sweep goes on. The candidate is the race when the groups aimed at it fail more often than
//   the groups far from it, by a one-sided Fisher exact test on groups (a group's requests share
//   one moment, so the group is the unit that is independent).
// The group that named the candidate is not counted: choosing the place from a failure and then
// counting that failure would find "concentration" in any single blip. The test is taken at
// three looks per candidate, for up to MAX_CANDIDATES candidates, with the error split so that
// a run without the race reports it with probability below ALPHA.
import { fisherGreater, quantile } from '../util/stats.js';
import { seededRandom, shuffle } from '../util/random.js';
import type { ErrorClass } from '../vocabulary.js';
import type { FieldPlan } from './field-plan.js';
import type { FieldTrial, GroupPhase } from './fire-group.js';

/** How the race reaches a client through a load balancer: a 502, or a connection closed or reset without an answer. */
export const GATEWAY_FAILURES: ReadonlySet<ErrorClass> = new Set<ErrorClass>(['502', 'reset', 'eof']);
export const isGatewayFailure = (trial: Pick<FieldTrial, 'errorClass'>) => GATEWAY_FAILURES.has(trial.errorClass);

/**
 * Focus groups aim within this of the candidate: groups failed over about 5 ms of gap, around
 * the failures' median (docs/field.md#measured).
 */
export const FOCUS_MS = 2;
/** Sweep groups this far from the candidate are its comparison. */
export const FAR_MS = 20;
/** Focus-group counts at which the test is taken. */
export const LOOKS = [6, 12, 24] as const;
export const MAX_CANDIDATES = 4;
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
  status: 'testing' | 'confirmed' | 'rejected';
}

export class GapSearch {
  private readonly random: () => number;
  private order: number[] = [];
  private readonly sweep: GroupSummary[] = [];
  private focus: GroupSummary[] = [];
  private failingGaps: number[] = [];
  private turn = 0;
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

  /** The next group's aim: two in three at the candidate while one is tested, else the next bin. */
  next(): { gapMs: number; phase: 'sweep' | 'focus' } {
    const candidate = this.testing();
    if (candidate && this.turn++ % 3 !== 2) return { gapMs: candidate.centreMs + (this.random() * 2 - 1) * FOCUS_MS, phase: 'focus' };
    if (this.order.length === 0) this.order = shuffle(this.plan.bins.map((_, index) => index), this.random);
    const bin = this.plan.bins[this.order.pop()!]!;
    return { gapMs: bin.fromMs + this.random() * (bin.toMs - bin.fromMs), phase: 'sweep' };
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
    this.failingGaps.push(...group.failingGapsMs);
    candidate.centreMs = quantile(this.failingGaps, 0.5);
    candidate.focusGroups = this.focus.length;
    candidate.failingFocusGroups = this.focus.filter((focus) => focus.gatewayFailures > 0).length;
    if ((LOOKS as readonly number[]).includes(this.focus.length)) this.look(candidate);
    return candidate.status === 'confirmed' ? candidate : null;
  }

  private open(trigger: GroupSummary): void {
    this.focus = [];
    this.failingGaps = [...trigger.failingGapsMs];
    this.turn = 0;
    // The k-th candidate spends ALPHA / 2^k, split evenly over its looks: ALPHA in all.
    const threshold = ALPHA / 2 ** (this.candidates.length + 1) / LOOKS.length;
    this.candidates.push({ centreMs: quantile(this.failingGaps, 0.5), triggerGroup: trigger.group, focusGroups: 0, failingFocusGroups: 0, farGroups: 0, failingFarGroups: 0, pValue: null, threshold, status: 'testing' });
  }

  private look(candidate: CandidateTest): void {
    const far = this.sweep.filter((group) => group.group !== candidate.triggerGroup && Math.abs(group.gapMs - candidate.centreMs) > FAR_MS);
    candidate.farGroups = far.length;
    candidate.failingFarGroups = far.filter((group) => group.gatewayFailures > 0).length;
    candidate.pValue = fisherGreater(candidate.failingFocusGroups, candidate.focusGroups, candidate.failingFarGroups, candidate.farGroups);
    if (candidate.failingFocusGroups >= 2 && candidate.pValue < candidate.threshold) candidate.status = 'confirmed';
    // A candidate its own groups do not fail at again was a blip; at the last look, it is not the race.
    else if ((this.focus.length >= LOOKS[1] && candidate.failingFocusGroups <= 1) || this.focus.length >= LOOKS.at(-1)!) candidate.status = 'rejected';
  }
}
