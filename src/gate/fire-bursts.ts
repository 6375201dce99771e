// The gate's firing: bursts through every copy of the proxy at the decisive close's gaps, the
// trials of all copies joined in one tally in the order they end, judged after each burst by the
// sequential design, until a look decides, the race hides behind retries, other failures make
// the run unable to tell, or the time budget ends.
import { setMaxListeners } from 'node:events';
import { isShuttingDown } from '../util/cleanup.js';
import type { HistorySink } from '../history/history-file.js';
import type { BoundaryKind } from '../vocabulary.js';
import { runBursts, type BurstTrial } from './boundary-bursts.js';
import { burstDispersion, holdsUnderDispersion } from './burst-dispersion.js';
import { otherCount } from './failure-evidence.js';
import type { GateChain } from './gate-chain.js';
import type { GateOutcome } from './gate-decision.js';
import { gateTrialRecord, type GateHistoryRecord } from './gate-history.js';
import type { GateResult } from './gate-result.js';
import { decideAt, type Look, type SequentialDesign } from './sequential-design.js';

/** Copies of the proxy the gate runs side by side at most (one listener each on the decision). */
export const MAX_COPIES = 16;
/** How long a burst's judgement waits for the proxy's log lines of that burst. */
const LOG_CATCH_UP_MS = 20;
/** Failures that are not the race beyond this share of the trials (and 5) stop the run undecided. */
const DISTURBED_SHARE = 0.05;

export interface FiringInput {
  design: SequentialDesign;
  chain: GateChain;
  /** The listen ports of the copies of the proxy. */
  ports: number[];
  burstSize: number;
  decisive: GateResult['decisive'];
  /** Start of the run (ms since the epoch) and its budget. */
  started: number;
  maxSeconds: number;
  seed: number;
  method: string;
  allowMasked: boolean;
  /** The request for a trial id, through a proxy at host:port. */
  requestVia: (host: string) => (id: string) => string;
  history: HistorySink<GateHistoryRecord> | null;
  say: (line: string) => void;
}

export interface Firing {
  trials: BurstTrial[];
  outcome: GateOutcome;
  /** The look that decided (or the last one taken), the race's failures in it, and how far its
   *  bursts disagreed beyond their counts (burst-dispersion.ts; 1: no more than counts explain). */
  deciding: { look: Look; failures: number; dispersion: number } | null;
  /** The last look whose pass or fail the bursts' dispersion held back, if any. */
  heldBack: { look: Look; failures: number; dispersion: number; outcome: GateOutcome } | null;
  /** Set when a raced attempt the proxy retried decided (a fail unless allowed). */
  maskedAt: { trials: number; masked: number } | null;
  /** Set when failures that are not the race stopped the run. */
  disturbedAt: { trials: number; other: Record<string, number> } | null;
  /** Whether every look of the design was taken (more trials cannot decide). */
  looksSpent: boolean;
}

export async function fireUntilDecided(input: FiringInput): Promise<Firing> {
  const { chain, decisive, history } = input;
  const firing: Firing = { trials: [], outcome: 'undecided', deciding: null, heldBack: null, maskedAt: null, disturbedAt: null, looksSpent: false };
  const judge = judgeByLooks(input, firing);

  let done = false;
  const decisionMade = new AbortController();
  // Every copy listens for the decision: more than Node's default of 10 listeners, on purpose.
  setMaxListeners(MAX_COPIES + 1, decisionMade.signal);
  const decision = new Promise<void>((resolve) => decisionMade.signal.addEventListener('abort', () => resolve(), { once: true }));
  const seenOfCopy = input.ports.map(() => 0);
  const copies = input.ports.length;
  const runs = input.ports.map((port, copy) => runBursts({
    proxy: { host: '127.0.0.1', port },
    request: input.requestVia(`127.0.0.1:${port}`),
    firstLane: copy * input.burstSize,
    burstSize: input.burstSize,
    gapsMs: decisive.gapsMs,
    seed: input.seed + copy,
    responseTimeoutMs: 10_000,
    deadline: input.started + input.maxSeconds * 1000,
    idPrefix: copies > 1 ? `c${copy}.` : '',
    // Spread over one idle period, so that the copies' bursts do not coincide.
    startDelayMs: (copy * decisive.atMs!) / copies,
    stopped: () => done,
    signal: decisionMade.signal,
    afterBurst: async (sofar) => {
      // After Ctrl-C a burst meets the teardown (a terminal's SIGINT reaches the proxy too),
      // not the race: it is not recorded.
      if (done || isShuttingDown()) return true;
      const fresh = sofar.slice(seenOfCopy[copy]);
      seenOfCopy[copy] = sofar.length;
      // The proxy writes its log line before its answer, but the harness may read the answer
      // first: let the log (and the tap's events, from its thread) catch up, so that a 502 is
      // judged with the attempt behind it.
      await new Promise((resolve) => setTimeout(resolve, LOG_CATCH_UP_MS));
      if (done || isShuttingDown()) return true;
      firing.trials.push(...fresh);
      for (const trial of fresh) history?.append(gateTrialRecord(trial, decisive.boundary as BoundaryKind, decisive.atMs!, input.method, chain.trialConnections.of(trial.id)));
      if (judge(firing.trials)) {
        done = true;
        decisionMade.abort();
      }
      return done;
    },
  }));
  // The verdict does not wait for copies asleep until their next burst: they see `done` and end.
  await Promise.race([Promise.all(runs), decision]);
  done = true;
  decisionMade.abort();
  return firing;
}

/**
 * Judges the trials so far after each burst, into `firing`: true when the run is decided (or
 * cannot decide any more).
 */
function judgeByLooks(input: FiringInput, firing: Firing): (sofar: readonly BurstTrial[]) => boolean {
  const { design } = input;
  let nextLook = 0;
  return (sofar: readonly BurstTrial[]): boolean => {
    // A raced attempt the proxy retried is evidence of the race as good as a failure: the
    // same request as a POST, or through a proxy that does not retry, would have failed.
    const evidence = input.chain.evidenceOf(sofar);
    if (evidence.masked > 0 && !input.allowMasked) {
      firing.maskedAt = { trials: sofar.length, masked: evidence.masked };
      firing.outcome = 'fail';
      return true;
    }
    // Failures that are not the race do not decide, but too many of them leave the run
    // unable to say anything: its requests are failing for another reason.
    if (otherCount(evidence.other) > Math.max(5, DISTURBED_SHARE * sofar.length)) {
      firing.disturbedAt = { trials: sofar.length, other: evidence.other };
      return true;
    }
    // Only a request that reused an idle upstream connection can meet its close: one the proxy
    // sent on a connection it opened for it is no evidence either way, and the looks count
    // without it (the tap tells them apart; without trial ids, every request counts).
    const counted = input.chain.racingTrials(sofar);
    while (nextLook < design.looks.length && counted.length >= design.looks[nextLook]!.trials) {
      const look = design.looks[nextLook++]!;
      // Only the race decides: failures with another cause are shown apart.
      const looked = counted.slice(0, look.trials);
      const failures = input.chain.evidenceOf(looked).race;
      const dispersion = burstDispersion(looked, (burst) => input.chain.evidenceOf(burst).race);
      firing.deciding = { look, failures, dispersion };
      const designSays = decideAt(design, { trials: look.trials, failures }).outcome;
      const holds = holdsUnderDispersion(designSays, { trials: look.trials, failures }, dispersion, design.maxFailureRate, design.confidence);
      if (!holds) firing.heldBack = { look, failures, dispersion, outcome: designSays };
      firing.outcome = holds ? designSays : 'undecided';
      const spread = dispersion > 1 ? `; the bursts disagree ${dispersion.toFixed(1)}x beyond their counts${holds ? '' : `, which holds the ${designSays} back`}` : '';
      input.say(`look ${nextLook} of ${design.looks.length}: ${failures} of ${look.trials} failed by the race (pass at <= ${look.passAtMost}, fail at >= ${look.failAtLeast})${spread}: ${firing.outcome}`);
      if (firing.outcome !== 'undecided') return true;
    }
    // Past the last look the design has spent its error: more trials cannot decide.
    firing.looksSpent = nextLook >= design.looks.length;
    return firing.looksSpent;
  };
}
