// A field run's result from its trials and its search: the failure rate per idle-gap bin with
// 95% intervals (the curve), the rate at the confirmed close against the far gaps, the fix in
// words, and what such a measurement can and cannot prove. Pure.
import { formatDuration } from '../util/duration.js';
import { quantile, wilsonInterval } from '../util/stats.js';
import { chanceToMeet, WINDOW_MS, type FieldPlan, type IdleBin } from './field-plan.js';
import { FAR_MS, isGatewayFailure, type CandidateTest } from './field-search.js';
import type { FieldTrial } from './fire-group.js';

/**
 * race: confirmed; none: no race seen at this budget; unconfirmed: a candidate was still being
 * tested when the budget ended; stopped: the service asked for less; disturbed: other failures
 * made the run unable to tell; interrupted: Ctrl-C.
 */
export type FieldOutcome = 'race' | 'none' | 'unconfirmed' | 'stopped' | 'disturbed' | 'interrupted';

export interface Rate {
  trials: number;
  failures: number;
  rate: number;
  ci95: [number, number];
}

export interface CurveBin extends Rate {
  fromMs: number;
  toMs: number;
  label?: string;
}

export interface FieldResult {
  outcome: FieldOutcome;
  reason: string;
  url: string;
  method: string;
  requests: number;
  groups: number;
  seconds: number;
  /** Where the race's failures concentrate (median measured gap of the failed requests aimed there). */
  estimatedCloseMs: number | null;
  /** Gateway failures of the requests aimed at the close, and of those far from it. */
  atClose: Rate | null;
  farFromClose: Rate | null;
  /** Gateway failures over every aimed request. */
  overall: Rate;
  otherFailures: Record<string, number>;
  candidates: CandidateTest[];
  /** Every aimed request in the plan's bins. */
  curve: CurveBin[];
  /** Around the last candidate, 1 ms bins: the window's shape (empty without a candidate). */
  closeUp: CurveBin[];
  fix: string | null;
  limits: string[];
}

export interface VerdictInput {
  plan: FieldPlan;
  url: string;
  method: string;
  trials: readonly FieldTrial[];
  groups: number;
  seconds: number;
  candidates: CandidateTest[];
  /** Why the run stopped early, when it did (overload, other failures, Ctrl-C). */
  stop: { outcome: 'stopped' | 'disturbed' | 'interrupted'; reason: string } | null;
}

/** "At the close": aimed requests whose measured gap is within this of the estimated close. */
export const AT_CLOSE_MS = 2;

const rateOf = (trials: readonly FieldTrial[]): Rate => {
  const failures = trials.filter(isGatewayFailure).length;
  return { trials: trials.length, failures, rate: trials.length === 0 ? 0 : failures / trials.length, ci95: wilsonInterval(failures, trials.length, 0.95) };
};

const pct = (rate: number) => `${(rate * 100).toFixed(rate > 0 && rate < 0.001 ? 3 : 2)}%`;
export const rateText = (rate: Rate) => `${rate.failures} of ${rate.trials} (${pct(rate.rate)}, 95% CI ${pct(rate.ci95[0])}-${pct(rate.ci95[1])})`;

export function fieldVerdict(input: VerdictInput): FieldResult {
  const aimed = input.trials.filter((trial) => trial.phase !== 'prime');
  const confirmed = input.candidates.find((candidate) => candidate.status === 'confirmed') ?? null;
  const otherFailures: Record<string, number> = {};
  for (const trial of aimed) if (trial.errorClass !== 'ok' && !isGatewayFailure(trial)) otherFailures[trial.status ?? trial.errorClass] = (otherFailures[trial.status ?? trial.errorClass] ?? 0) + 1;
  const overall = rateOf(aimed);
  const base = { url: input.url, method: input.method, requests: input.trials.length, groups: input.groups, seconds: input.seconds, overall, otherFailures,
    candidates: input.candidates, ...curvesOf(input.plan, aimed, input.candidates), limits: limitsOf(input.method) };
  if (confirmed) {
    const gapOf = (trial: FieldTrial) => trial.gapMs ?? trial.intendedGapMs;
    const focused = aimed.filter((trial) => trial.phase === 'focus');
    const closeMs = quantile(focused.filter(isGatewayFailure).map(gapOf), 0.5);
    const atClose = rateOf(focused.filter((trial) => Math.abs(gapOf(trial) - closeMs) <= AT_CLOSE_MS));
    const farFromClose = rateOf(aimed.filter((trial) => trial.phase === 'sweep' && Math.abs(gapOf(trial) - closeMs) > FAR_MS));
    return {
      ...base, outcome: 'race', estimatedCloseMs: round(closeMs), atClose, farFromClose, fix: fixText(closeMs),
      reason: `the keep-alive race: requests reusing an idle upstream connection within ${AT_CLOSE_MS} ms of ${(closeMs / 1000).toFixed(3)} s failed ${rateText(atClose)}, `
        + `against ${rateText(farFromClose)} at gaps more than ${FAR_MS} ms away (Fisher p = ${confirmed.pValue!.toPrecision(2)} on groups, `
        + `${confirmed.failingFocusGroups} of ${confirmed.focusGroups} aimed groups failing against ${confirmed.failingFarGroups} of ${confirmed.farGroups})`,
    };
  }
  const none = { ...base, estimatedCloseMs: null, atClose: null, farFromClose: null, fix: null };
  const open = input.candidates.find((candidate) => candidate.status === 'testing' || candidate.status === 'inconclusive');
  if (input.stop) return { ...none, outcome: input.stop.outcome, reason: `${input.stop.reason}${open ? `; ${unconfirmedText(open)}` : ''}` };
  // A failure the budget left no room to test is neither the race nor its absence.
  if (open) return { ...none, outcome: 'unconfirmed', reason: `${unconfirmedText(open)}. Run again around it: --idle ${around(open.centreMs)}` };
  const worst = base.curve.filter((bin) => bin.trials > 0).reduce((max, bin) => Math.max(max, bin.ci95[1]), 0);
  const blips = input.candidates.filter((candidate) => candidate.status === 'rejected');
  const tried = blips.length === 0 ? '' : `; ${blips.length} place${blips.length === 1 ? '' : 's'} where a group failed did not fail again (${blips.map((candidate) => `${(candidate.centreMs / 1000).toFixed(3)} s: ${candidate.failingFocusGroups} of ${candidate.focusGroups} aimed groups`).join(', ')})`;
  return {
    ...none, outcome: 'none',
    reason: `no race seen in ${aimed.length} requests at idle gaps ${input.plan.idleText}: gateway failures ${rateText(overall)}, at most ${pct(worst)} in any gap bin (95% upper bound)${tried}; `
      + `a ${WINDOW_MS} ms race window within these gaps is met by 1 group in ${Math.round(input.plan.groupsPerWindow)}, so these ${input.groups} groups would have met one with probability about ${Math.round(chanceToMeet(input.plan.groupsPerWindow, input.groups - 1) * 100)}%`,
  };
}

function unconfirmedText(candidate: CandidateTest): string {
  const far = candidate.pValue === null ? '' : ` against ${candidate.failingFarGroups} of ${candidate.farGroups} far ones, p = ${candidate.pValue.toPrecision(2)} where ${candidate.threshold.toPrecision(2)} confirms`;
  const when = candidate.status === 'inconclusive' ? `after the last look, ${candidate.focusGroups} groups aimed there` : `when the budget ended, after ${candidate.focusGroups} groups aimed there`;
  return `failures at ${(candidate.centreMs / 1000).toFixed(3)} s idle, not confirmed ${when} (${candidate.failingFocusGroups} failing${far}): not enough to tell the race from chance`;
}

/** A narrow range around a candidate, in the --idle syntax. */
function around(centreMs: number): string {
  const from = Math.max(10, Math.floor((centreMs - 20) / 10) * 10);
  return `${from}ms..${from + 50}ms@10ms`;
}

/** The curves of a run's aimed requests: the plan's bins, and 1 ms bins around the last candidate. */
export function curvesOf(plan: FieldPlan, aimed: readonly FieldTrial[], candidates: readonly CandidateTest[]): Pick<FieldResult, 'curve' | 'closeUp'> {
  return { curve: curveOf(plan.bins, aimed), closeUp: closeUpOf(candidates.at(-1), aimed) };
}

/** 1 ms bins of measured gap this far either side of a candidate. */
const CLOSE_UP_MS = 12;

function closeUpOf(candidate: CandidateTest | undefined, aimed: readonly FieldTrial[]): CurveBin[] {
  if (!candidate) return [];
  const from = Math.floor(candidate.centreMs) - CLOSE_UP_MS;
  const bins = Array.from({ length: 2 * CLOSE_UP_MS }, (_, index) => ({ fromMs: from + index, toMs: from + index + 1 }));
  const near = aimed.filter((trial) => trial.gapMs !== null && trial.gapMs >= from && trial.gapMs < from + 2 * CLOSE_UP_MS);
  return curveOf(bins, near).filter((bin) => bin.trials > 0);
}

function curveOf(planBins: readonly IdleBin[], aimed: readonly FieldTrial[]): CurveBin[] {
  const bins = planBins.map((bin) => ({ bin, trials: [] as FieldTrial[] }));
  for (const trial of aimed) {
    const gap = trial.gapMs ?? trial.intendedGapMs;
    // A measured gap past every bin's edge (an answer that came late) counts in the bin it was aimed at.
    const home = bins.find(({ bin }) => gap >= bin.fromMs && gap < bin.toMs) ?? bins.find(({ bin }) => trial.intendedGapMs >= bin.fromMs && trial.intendedGapMs < bin.toMs)
      ?? bins.reduce<(typeof bins)[number] | null>((nearest, candidate) => (!nearest || Math.abs(candidate.bin.fromMs - gap) < Math.abs(nearest.bin.fromMs - gap) ? candidate : nearest), null);
    if (home) home.trials.push(trial);
  }
  return bins.map(({ bin, trials }) => ({ fromMs: bin.fromMs, toMs: bin.toMs, ...(bin.label ? { label: bin.label } : {}), ...rateOf(trials) }));
}

/** The fix, in the words of someone who met it: who closes first, and the two ways out. */
function fixText(closeMs: number): string {
  const seconds = (closeMs / 1000).toFixed(1);
  // Node's default is a version's: 5 s through v26 (closed 1 s later by the buffer, a setting,
  // server.keepAliveTimeoutBuffer, since v22.19 / v24.6); 65 s on main for the next major (nodejs/node#62782).
  const nodeDefault = Math.abs(closeMs - 6000) < 100 ? ` ${seconds} s is the default of Node.js 20 to 26 (keepAliveTimeout 5 s, closed 1 s later by the keepAliveTimeoutBuffer).` : '';
  return `Your upstream closes idle connections at about ${seconds} s; your load balancer keeps them longer and reuses one just as it closes.${nodeDefault} `
    + 'Make the upstream outlast the load balancer: set its keep-alive (idle) timeout above the load balancer\'s idle timeout for upstream connections '
    + '(Node.js: server.keepAliveTimeout = that timeout + 5 s, headersTimeout a little above it), '
    + `or set the load balancer's idle timeout for upstream connections below ${formatDuration(Math.max(10, Math.floor((closeMs - Math.min(1000, closeMs / 4)) / 10) * 10))}.`;
}

function limitsOf(method: string): string[] {
  return [
    'Other traffic through the same load balancer takes idle connections between groups and blurs their ages: a race then needs more groups to show. It does not make one appear.',
    'Several load balancer nodes or workers each keep their own pool: a group spreads over them, and every pool still holds connections of the same age.',
    ...(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'].includes(method)
      ? [`A load balancer that retries a failed ${method} on a new connection hides the race from the client (nginx and Caddy do): "no race seen" with ${method} does not clear a POST; measure with a harmless POST (--method POST --body ...).`]
      : ['A load balancer that retries failed requests on a new connection hides the race from the client.']),
    'The estimated close is the upstream\'s as seen through the stack: later than its setting by the delay between the load balancer and the upstream.',
    '"No race seen" bounds the gaps tried at this budget only: a close outside them, or a window narrower than the groups met, is not excluded.',
  ];
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
