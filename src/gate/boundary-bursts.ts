// Timed bursts through a proxy whose pool the harness does not shape (a user's config): B client
// connections each send one request at once, so the proxy caches B upstream connections, all
// released within a millisecond or so; after exactly the aimed idle gap the B connections send
// again, and each request takes one of those idle upstream connections. A burst with failures
// is followed at once by a refill burst (untimed), so that every timed request reuses a cached
// connection rather than opening a new one.
import type { ErrorClass } from '../vocabulary.js';
import type { Endpoint } from '../vocabulary.js';
import { seededRandom, shuffle } from '../util/random.js';
import { HttpConnection, type ExchangeResult } from '../workload/http-connection.js';
import { PreciseScheduler } from '../workload/precise-scheduler.js';

export interface BurstTrial {
  id: string;
  /** Which client connection sent it (numbered across the copies of the proxy). */
  lane: number;
  /** Aimed idle gap (ms) and the one measured on this client connection (from its previous answer). */
  intendedGapMs: number;
  gapMs: number;
  status: number | null;
  errorClass: ErrorClass;
  /** Monotonic ms of the request's write and of its answer's end (or the failure). */
  sentAtMs: number;
  endedAtMs: number;
}

export interface BurstPlan {
  proxy: Endpoint;
  /** The raw request of an exchange, by its id (the trial's, or `prime` for a refill). */
  request: (id: string) => string;
  /** Number of this run's first lane (copies of the proxy number their lanes apart). */
  firstLane?: number;
  burstSize: number;
  /** Idle gaps (ms) to aim at, cycled in a seeded order. */
  gapsMs: number[];
  seed: number;
  responseTimeoutMs: number;
  /** Called after every burst with the running tally; true stops the run. */
  afterBurst: (trials: readonly BurstTrial[]) => boolean | Promise<boolean>;
  /** Deadline (Date.now() ms) after which no burst starts. */
  deadline: number;
  /** Prefix of the trial ids (a copy of the proxy: "c3."), so that ids stay unique across copies. */
  idPrefix?: string;
  /** Wait this long before the first refill: copies start spread over one idle period. */
  startDelayMs?: number;
  /** Checked before each burst: true ends the run (another copy decided it). */
  stopped?: () => boolean;
  /** Aborted when the run has been decided: a copy asleep until its next burst wakes and ends. */
  signal?: AbortSignal;
}

export async function runBursts(plan: BurstPlan): Promise<{ trials: BurstTrial[]; stoppedBy: 'decision' | 'deadline' }> {
  const connections = Array.from({ length: plan.burstSize }, () => new HttpConnection(plan.proxy));
  const scheduler = new PreciseScheduler(2);
  const random = seededRandom(plan.seed);
  const trials: BurstTrial[] = [];
  let order: number[] = [];
  let burst = 0;
  const stopped = () => plan.signal?.aborted === true || (plan.stopped?.() ?? false);
  // Nothing may keep the process waiting once the run is decided: not a burst's aim, not the start delay.
  let wakeDelay = () => {};
  const onAbort = () => { scheduler.releaseAll(); wakeDelay(); };
  plan.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (plan.startDelayMs && !stopped()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, plan.startDelayMs);
        wakeDelay = () => { clearTimeout(timer); resolve(); };
      });
    }
    if (stopped()) return { trials, stoppedBy: 'decision' };
    let lastAnswers = await refill(connections, plan);
    while (Date.now() < plan.deadline && !stopped()) {
      if (order.length === 0) order = shuffle([...plan.gapsMs], random);
      const gapMs = order.pop()!;
      // The previous burst's answers spread over a few ms (tens with a slow upstream), and so do
      // the idle ages of the connections it left. Aimed from the earliest answer, every connection
      // is at most the gap idle: none has outlived a close the aim stays under, so the requests
      // reuse their connections, and the oldest meet the close. (Aimed from the latest, the
      // connections older than the close by the spread were gone, and their requests went out on
      // new connections, which cannot race: the connection tap counted 13% reused at Node's
      // keepAliveTimeout 500 behind nginx 2 s, against 87% from the earliest.)
      const startNs = lastAnswers.reduce((min, answer) => (answer < min ? answer : min));
      // Each request carries its trial's id, so that the proxy's log lines name the trial they are about.
      burst++;
      const ids = connections.map((_, index) => `${plan.idPrefix ?? ''}b${burst}.${index}`);
      const requests = ids.map((id) => plan.request(id));
      await scheduler.at(startNs + BigInt(Math.round(gapMs * 1e6)));
      if (stopped()) return { trials, stoppedBy: 'decision' };
      // A client connection the proxy closed while it was idle (seen once in the trust runs, at
      // Node's defaults with POST) sends nothing: a request never written is not a trial.
      const results = await Promise.all(connections.map((connection, index) => (connection.isOpen ? connection.send(requests[index]!, plan.responseTimeoutMs) : null)));
      let failed = results.includes(null);
      results.forEach((result, index) => {
        if (result === null) return;
        trials.push(trialOf(ids[index]!, (plan.firstLane ?? 0) + index, gapMs, lastAnswers[index]!, result));
        if (result.errorClass !== 'ok') failed = true;
      });
      if (await plan.afterBurst(trials)) return { trials, stoppedBy: 'decision' };
      results.forEach((result, index) => { if (result?.connectionDone) connections[index]!.close(); });
      // Closed client connections and lost upstream connections are replaced before the next aim.
      lastAnswers = failed || results.some((result) => result!.connectionDone) ? await refill(connections, plan) : results.map((result) => result!.endedAtNs);
    }
    return { trials, stoppedBy: stopped() ? 'decision' : 'deadline' };
  } finally {
    plan.signal?.removeEventListener('abort', onAbort);
    for (const connection of connections) connection.close();
  }
}

function trialOf(id: string, lane: number, intendedGapMs: number, previousAnswerNs: bigint, result: ExchangeResult): BurstTrial {
  return {
    id,
    lane,
    intendedGapMs,
    gapMs: Math.round(Number(result.sentAtNs - previousAnswerNs) / 1e3) / 1e3,
    status: result.status,
    errorClass: result.errorClass,
    sentAtMs: Number(result.sentAtNs) / 1e6,
    endedAtMs: Number(result.endedAtNs) / 1e6,
  };
}

/** Answers of one round further apart than this were held up (a connect waiting out SYN retransmits). */
const ALIGNED_SPREAD_NS = 100_000_000n;

/**
 * A refill opens the proxy's missing upstream connections all at once, as a proxy does for a
 * burst of requests; an upstream with a short accept queue (Python's standard server: 5) then
 * answers some of them only after SYN retransmits, seconds later. Aimed from answers that far
 * apart, the next burst would find connections older than the aim, closed by the proxy, and
 * storm the queue again. So the connections, now in the proxy's pool, answer once more together
 * (untimed) until their answers are close. A proxy that drops idle connections sooner than the
 * answers spread has let some go by then: there the bursts must be smaller (accept-capacity.ts).
 */
async function align(connections: HttpConnection[], plan: BurstPlan, answers: bigint[]): Promise<bigint[] | null> {
  for (let round = 0; round < 3 && spread(answers) > ALIGNED_SPREAD_NS; round++) {
    const results = await Promise.all(connections.map((connection) => connection.send(plan.request(`${plan.idPrefix ?? ''}align`), plan.responseTimeoutMs)));
    results.forEach((result, index) => { if (result.connectionDone || result.status === null) connections[index]!.close(); });
    if (results.some((result) => result.status === null || result.connectionDone)) return null;
    answers = results.map((result) => result.endedAtNs);
  }
  return answers;
}

function spread(answers: readonly bigint[]): bigint {
  let min = answers[0]!;
  let max = answers[0]!;
  for (const answer of answers) {
    if (answer < min) min = answer;
    if (answer > max) max = answer;
  }
  return max - min;
}

/** Untimed: (re)connects every client connection and sends one request on each, at once. */
async function refill(connections: HttpConnection[], plan: BurstPlan): Promise<bigint[]> {
  for (let attempt = 1; ; attempt++) {
    await Promise.all(connections.map(async (connection) => { if (!connection.isOpen) await connection.connect(); }));
    const results = await Promise.all(connections.map((connection) => connection.send(plan.request(`${plan.idPrefix ?? ''}prime`), plan.responseTimeoutMs)));
    results.forEach((result, index) => { if (result.connectionDone) connections[index]!.close(); });
    // Any answer on a connection that stays open primes it: an application's own error (a 503
    // now and then) is an answer too, and the trials count it apart from the race.
    const primed = results.every((result) => result.status !== null && !result.connectionDone);
    if (primed && results.some((result) => result.errorClass === 'ok')) {
      const aligned = await align(connections, plan, results.map((result) => result.endedAtNs));
      if (aligned) return aligned;
      // A connection broke while aligning (its answer waited out the client's timeout): prime again.
      if (attempt < 3) continue;
    }
    // A refill that itself fails is the proxy or upstream failing outright, not the race.
    if (attempt >= 3) {
      const bad = results.find((result) => result.errorClass !== 'ok') ?? results[0]!;
      throw new Error(`requests through the proxy fail even on fresh connections (${bad.status ?? bad.errorClass}${bad.connectionDone && bad.errorClass === 'ok' ? ', Connection: close' : ''}): check the proxy config and the health path`);
    }
  }
}
