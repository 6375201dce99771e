// What decides a gate, and its verdict in words: which close the bursts aim at (or that the
// order of the two closes decides without firing), and the reason a fired run ends with.
// Pure functions of what was measured.
import type { ProbeResult } from '../probe/probe.js';
import type { GateFlavour } from '../proxy/gate-flavour.js';
import { exactBounds, quantile } from '../util/stats.js';
import { shrunkBounds } from './burst-dispersion.js';
import { describeOther, otherCount, type FailureEvidence } from './failure-evidence.js';
import type { Firing } from './fire-bursts.js';
import type { GateOutcome } from './gate-decision.js';
import type { GateResult } from './gate-result.js';
import type { ProxyIdleClose, ProxyKeptIdle } from './proxy-idle-probe.js';

export interface Verdict {
  outcome: GateOutcome;
  reason: string;
  interval: [number, number];
  decidingLook: GateResult['decidingLook'];
}

export interface DecisiveInput {
  gate: GateFlavour;
  probe: ProbeResult | null;
  /** How long the probe waited for the upstream's closes. */
  probeWaitMs: number;
  /** The proxy's idle close as measured (or null), and what decides: measured, else configured. */
  proxyIdleClose: ProxyIdleClose | ProxyKeptIdle | null;
  proxyTimeoutMs: number;
  maxIdleWaitMs: number;
  minMarginMs: number;
}

/** Gaps (ms) every 0.5 ms across [from, to], on the 0.5 ms grid. */
export function gapsAround(fromMs: number, toMs: number): number[] {
  const gaps: number[] = [];
  for (let gap = Math.floor(fromMs * 2) / 2; gap <= toMs; gap += 0.5) gaps.push(gap);
  return gaps;
}

/**
 * Which close decides: the upstream's when it comes first, else the proxy's own where the gate
 * can wait for it, else the measured order of the two (a verdict without firing).
 */
export function decisiveClose(input: DecisiveInput): { decisive: GateResult['decisive'] } | { decisive: GateResult['decisive']; verdict: Verdict } {
  const { probe, proxyIdleClose, proxyTimeoutMs } = input;
  if (probe && probe.medianCloseMs <= proxyTimeoutMs) {
    // Aim across the whole measured spread of the upstream's closes (p1 to p99, with a margin),
    // so that a spread close is met as often as an exact one, not only at its median.
    const closes = probe.closeTimesMs;
    return { decisive: { boundary: 'upstream', atMs: probe.medianCloseMs, gapsMs: gapsAround(quantile(closes, 0.01) - 2, quantile(closes, 0.99) + 1) } };
  }
  if (proxyTimeoutMs <= input.maxIdleWaitMs && input.gate.ownCloseNotFiredBecause === null) {
    // (Where the flavour says why not, e.g. HAProxy's idle timeout closes the client's
    // connection too: bursts at it would measure the gate's own client racing the proxy, not
    // the proxy-to-upstream hop. Judged by order.)
    // Only at gaps where the proxy still holds its idle connections: a request after the proxy's
    // close goes out on a new connection, which says nothing about the race (and a burst of
    // them is a connection storm into the upstream's accept queue). So from 4 ms before to
    // just under its earliest measured closes (p5), where every trial reuses a connection.
    const lastReusedMs = proxyIdleClose && 'p5Ms' in proxyIdleClose ? proxyIdleClose.p5Ms - 0.5 : proxyTimeoutMs - 1;
    return { decisive: { boundary: 'proxy', atMs: proxyTimeoutMs, gapsMs: gapsAround(lastReusedMs - 4, lastReusedMs) } };
  }
  // Waiting out a long proxy timeout per burst would take hours: judge by the measured order.
  const marginMs = probe ? probe.p5CloseMs - proxyTimeoutMs : Infinity;
  const decisive = { boundary: 'order' as const, atMs: proxyTimeoutMs, gapsMs: [] };
  const verdict = (outcome: GateOutcome, reason: string) => ({ decisive, verdict: { outcome, reason, interval: [0, 1] as [number, number], decidingLook: null } });
  const whyNotFired = input.gate.ownCloseNotFiredBecause ?? `each burst would wait ${proxyTimeoutMs / 1000} s`;
  const upstreamSays = probe ? `its earliest idle closes (p5) at ${probe.p5CloseMs.toFixed(1)} ms` : `it kept idle connections open past ${input.probeWaitMs} ms`;
  // The order proves something only if the proxy really lets idle connections go at its
  // timeout. HAProxy was measured to keep them in its idle pool after the client's session
  // ends (2.6: 70 s and counting after a 2 s timeout), where later requests of other
  // sessions may take them: unless its closes were measured, its timeout bounds nothing.
  const outlives = input.gate.poolOutlivesTimeout;
  if (outlives && !(proxyIdleClose && 'medianMs' in proxyIdleClose)) {
    const seen = proxyIdleClose ? `it closed none of ${proxyIdleClose.connections} idle server connections within ${proxyIdleClose.keptOpenMs} ms` : `its idle close was not measured (longer than --max-idle-wait ${input.maxIdleWaitMs} ms)`;
    return verdict('undecided', outlives.undecided(proxyTimeoutMs, seen, upstreamSays));
  }
  return marginMs >= input.minMarginMs
    ? verdict('pass', `the proxy drops idle connections at ${proxyTimeoutMs} ms, before the upstream (${upstreamSays}), by ${Number.isFinite(marginMs) ? `${marginMs.toFixed(0)} ms` : 'more than the probe waited'} >= ${input.minMarginMs} ms; not fired (${whyNotFired})`)
    : verdict('fail', `the upstream's earliest idle closes (p5 ${probe!.p5CloseMs.toFixed(1)} ms) come only ${marginMs.toFixed(0)} ms after the proxy's ${proxyTimeoutMs} ms: less than the ${input.minMarginMs} ms margin`);
}

export interface FiredVerdictInput {
  firing: Firing;
  /** The evidence over all the trials fired. */
  final: FailureEvidence;
  decisive: GateResult['decisive'];
  maxFailureRate: number;
  confidence: number;
  maxSeconds: number;
  trialsNeededToPass: number;
  lastLookTrials: number;
  tagTrials: boolean;
  allowMasked: boolean;
}

/** The deciding look's one-sided exact bounds, over the tally shrunk by the bursts' dispersion when above 1. */
function decisionBounds(decided: { look: { trials: number }; failures: number; dispersion: number }, confidence: number): [number, number] {
  if (decided.dispersion <= 1) return exactBounds(decided.failures, decided.look.trials, 1 - confidence);
  const shrunk = shrunkBounds({ trials: decided.look.trials, failures: decided.failures }, decided.dispersion, confidence);
  return [shrunk.lowerForFail, shrunk.upperForPass];
}

/** The verdict of a fired run, and why, in one line. */
export function firedVerdict(input: FiredVerdictInput): Verdict {
  const { firing, final, decisive } = input;
  const failures = firing.trials.filter((trial) => trial.errorClass !== 'ok').length;
  const limit = `${(input.maxFailureRate * 100).toFixed(2)}%`;
  const decided = firing.deciding;
  const interval = decided ? decisionBounds(decided, input.confidence) : [0, 1] as [number, number];
  if (firing.disturbedAt) {
    const disturbed = firing.disturbedAt;
    return { outcome: 'undecided', interval: [0, 1], decidingLook: null,
      reason: `${otherCount(disturbed.other)} of the first ${disturbed.trials} requests failed for reasons that are not the keep-alive race (${describeOther(disturbed.other)}): ` +
        'the run cannot tell whether the pairing races; fix those first (or check --health-path, --method and the upstream\'s capacity)' };
  }
  if (firing.maskedAt) {
    const { masked, trials } = firing.maskedAt;
    return { outcome: 'fail', interval: [0, 1], decidingLook: null,
      reason: `${masked} upstream attempt${masked === 1 ? '' : 's'} raced and ${masked === 1 ? 'was' : 'were'} retried by the proxy within the first ${trials} requests ` +
        `at the ${decisive.boundary}'s idle close (${failures} failed at the client): a POST, or a proxy that does not retry, would have failed; --allow-masked (allowMasked in a call) accepts the retries` };
  }
  const which = input.tagTrials ? 'requests that reused an idle upstream connection' : 'requests';
  const tally = decided ? `${decided.failures} of the first ${decided.look.trials} ${which} at the ${decisive.boundary}'s idle close failed by the race` : '';
  const excluded = otherCount(final.other) > 0 ? `; not the race, and not counted: ${describeOther(final.other)}` : '';
  // A bound taken over the tally shrunk by the bursts' dispersion says so, or it would not match the tally beside it.
  const shrunk = decided && decided.dispersion > 1 ? `, the ${decided.look.trials} counted as ${shrunkBounds({ trials: decided.look.trials, failures: decided.failures }, decided.dispersion, input.confidence).trials}: the bursts disagree ${decided.dispersion.toFixed(1)}x beyond their counts` : '';
  const reason = firing.outcome === 'fail'
    ? `${tally}: the failure rate is above ${limit} (its lower bound ${(interval[0] * 100).toFixed(2)}%${shrunk})`
    : firing.outcome === 'pass'
      ? `${tally}: the failure rate is below ${limit} (its upper bound ${(interval[1] * 100).toFixed(3)}%${shrunk})`
      : firing.heldBack && firing.looksSpent
        ? `undecided after ${input.lastLookTrials} trials: ${firing.heldBack.failures} of ${firing.heldBack.look.trials} failed by the race, enough for the sequential design to ${firing.heldBack.outcome}, but the bursts disagree ${firing.heldBack.dispersion.toFixed(1)}x beyond their counts, and as ${shrunkBounds({ trials: firing.heldBack.look.trials, failures: firing.heldBack.failures }, firing.heldBack.dispersion, input.confidence).trials} independent requests the tally does not ${firing.heldBack.outcome}, and the design has no look left: look at which bursts failed (keepalive-lab explain DIR), or raise --max-failure-rate`
        : firing.looksSpent
        ? `undecided after ${input.lastLookTrials} trials: ${decided!.failures} failed, too many to pass at ${limit} and too few to fail; raise --max-failure-rate or look at the failures`
        : `undecided within ${input.maxSeconds} s: ${failures} of ${firing.trials.length} failed; a pass at ${limit} needs ${input.trialsNeededToPass} trials: raise --max-seconds or --max-failure-rate`;
  const warning = input.allowMasked && firing.outcome === 'pass' && final.masked > 0
    ? `; but ${final.masked} upstream attempts raced and were retried by the proxy (accepted with --allow-masked): requests it does not retry would fail` : '';
  return { outcome: firing.outcome, reason: reason + excluded + warning, interval, decidingLook: decided ? { ...decided.look, failures: decided.failures, burstDispersion: decided.dispersion } : null };
}
