// What the tap's events say about each trial: which proxy-to-upstream connection its request
// went out on, whether that connection had carried a request before (reused) or was opened for
// it (new), and whether an attempt met the upstream's close: the keep-alive race, seen from the
// upstream's side. Pure over the events, so that a stored run is judged as it was live.
import { quantile } from '../../util/stats.js';
import type { TapEvent } from './tap-worker.js';

/**
 * An attempt met the upstream's close when the upstream closed its connection, without answering
 * it, within this many ms of the request passing the tap (either side: the close may come just
 * before a request the proxy sent on a connection it still thought open, or just after one that
 * reached the upstream as it closed). A close much later is an application that hung, not the race.
 */
export const RACE_CLOSE_WITHIN_MS = 10;

/**
 * ... or within as long as the chain behind the tap took to answer requests about then, when
 * that is longer (the p99 of the tap's round trips of answered requests in the same second of
 * the monotonic clock or the ROUND_TRIP_NEAR_S seconds either side): a close comes back through
 * a fault layer and a loaded machine as slowly as an answer does. Measured with two CPU hogs
 * beside a gate through a 5 ms latency fault: answers took p90 33-77 ms (max 59-83) through the
 * tap, and idle closes met by reused requests came back 23-57 ms after them, which the 10 ms
 * window alone called "not the race" and the run undecided (3 runs of 4). On a quiet machine
 * answers take 1-7 ms there, and the window stays 10 ms. The cost: an application whose answers
 * take up to T ms, closing a reused connection unanswered within T ms, is taken for the race.
 */
export const ROUND_TRIP_NEAR_S = 2;

/**
 * ... or when the request reached the tap no later than the upstream's latest idle close (and
 * not more than this much before its earliest) and the upstream closed the connection unanswered
 * at most this much later than its latest idle close. A stalled upstream runs its expired timers
 * before it reads the request waiting on the socket (libuv runs timers before polling I/O), so
 * its idle close comes late, by the stall, with the request already there. Measured with six CPU
 * hogs beside a gate on a Node upstream closing at 1.2 s: raced closes came 12-18 ms late, several
 * in the same tick, while the idle closes of untouched connections about then came on time. An
 * application that hangs on a request closes it much later (its own request timeout, seconds).
 */
export const LATE_IDLE_CLOSE_MS = 30;
const ROUND_TRIP_QUANTILE = 0.99;

export interface TrialAttempt {
  conn: number;
  /** The connection had carried a request before this one. */
  reused: boolean;
  /** The connection was reused and the upstream closed it under this request (see RACE_CLOSE_WITHIN_MS). */
  raced: boolean;
  /** ms from the request passing the tap to the upstream's close (negative: the close came first). */
  closeAfterMs: number | null;
}

export interface TrialConnections {
  /** Attempts in the order the proxy made them (a retried request has more than one). */
  attempts: TrialAttempt[];
}

const UPSTREAM_CLOSES = new Set(['server', 'server-idle', 'server-reset']);

export interface TrialConnectionOptions {
  /**
   * The idle times (ms, from the last answer passing the tap) at which the upstream closes idle
   * connections, as the probe measured them. An unanswered request on a connection the upstream
   * closed at such an idle time met the idle close, however long after the request the close
   * came: the request never reached the upstream's application as activity. A fault layer
   * between them delays the request (measured: closes 10-15 ms after the request with a 5 ms
   * latency fault on a busy machine), which the 10 ms window alone blamed on something else.
   */
  idleCloseMs?: readonly [number, number];
}

/**
 * The close came at the upstream's idle time: within the probe's range, or late by a stall with
 * the request already there (see LATE_IDLE_CLOSE_MS). `closeAfterMs` is from the request to the close.
 */
function closedAtIdleTime(range: readonly [number, number], idleMs: number, closeAfterMs: number): boolean {
  if (idleMs >= range[0] && idleMs <= range[1]) return true;
  const requestIdleMs = idleMs - closeAfterMs;
  return closeAfterMs > 0 && idleMs > range[1] && idleMs <= range[1] + LATE_IDLE_CLOSE_MS
    && requestIdleMs >= range[0] - LATE_IDLE_CLOSE_MS && requestIdleMs <= range[1];
}

export class TrialConnectionIndex {
  /** Requests seen per connection so far, and the last one's trial (the one a close can meet). */
  private readonly conns = new Map<number, { requests: number; last: { trial: string; t: number } | null; close: { t: number; by: string; idleMs: number | null } | null }>();

  constructor(private readonly options: TrialConnectionOptions = {}) {}
  private readonly requestsOfTrial = new Map<string, { conn: number; index: number; t: number }[]>();
  private readonly answered = new Set<string>();
  /** Round trips (ms) of answered requests through the tap, by the second their answer passed it, and the allowance of each second (dropped when a near one gains a round trip). */
  private readonly roundTripsBySecond = new Map<number, number[]>();
  private readonly allowanceBySecond = new Map<number, number>();

  add(events: readonly TapEvent[]): void {
    for (const event of events) {
      const conn = this.conns.get(event.conn) ?? { requests: 0, last: null, close: null };
      this.conns.set(event.conn, conn);
      if (event.ev === 'request') {
        // A request without a trial id (the application refused the query) is a request on it all the same.
        const trial = event.trial ?? '';
        const list = this.requestsOfTrial.get(trial) ?? [];
        list.push({ conn: event.conn, index: conn.requests, t: event.t });
        this.requestsOfTrial.set(trial, list);
        conn.requests++;
        conn.last = { trial, t: event.t };
      } else if (event.ev === 'response' && event.trial !== undefined) {
        this.answered.add(`${event.conn} ${event.trial}`);
        if (conn.last) this.addRoundTrip(event.t, event.t - conn.last.t);
      } else if (event.ev === 'close') {
        conn.close = { t: event.t, by: event.by ?? 'server', idleMs: event.idleMs ?? null };
      }
    }
  }

  /** The trial's attempts, or null when none of its requests passed the tap. */
  of(trial: string): TrialConnections | null {
    const requests = this.requestsOfTrial.get(trial);
    if (!requests) return null;
    const attempts = requests.map(({ conn, index, t }): TrialAttempt => {
      const state = this.conns.get(conn)!;
      // Only the connection's last request can meet its close.
      const close = state.close && state.last?.t === t ? state.close : null;
      const closeAfterMs = close ? Math.round((close.t - t) * 1000) / 1000 : null;
      // The keep-alive race is a reused idle connection closing under a request; an upstream
      // that closes a connection it has just opened, unanswered, is failing in another way.
      const reused = index > 0;
      const range = this.options.idleCloseMs;
      const atIdleClose = range !== undefined && close !== null && close.idleMs !== null && closedAtIdleTime(range, close.idleMs, closeAfterMs!);
      const raced = reused && close !== null && UPSTREAM_CLOSES.has(close.by) && (Math.abs(closeAfterMs!) <= this.closeWithinMs(t) || atIdleClose)
        && !this.answered.has(`${conn} ${trial}`);
      return { conn, reused, raced, closeAfterMs };
    });
    return { attempts };
  }

  /** How far from a request (ms) an upstream close still met it: see ROUND_TRIP_NEAR_S. */
  closeWithinMs(requestT: number): number {
    const second = Math.floor(requestT / 1000);
    let allowance = this.allowanceBySecond.get(second);
    if (allowance === undefined) {
      const near: number[] = [];
      for (let s = second - ROUND_TRIP_NEAR_S; s <= second + ROUND_TRIP_NEAR_S; s++) near.push(...(this.roundTripsBySecond.get(s) ?? []));
      allowance = near.length > 0 ? quantile(near, ROUND_TRIP_QUANTILE) : 0;
      this.allowanceBySecond.set(second, allowance);
    }
    return Math.max(RACE_CLOSE_WITHIN_MS, allowance);
  }

  private addRoundTrip(t: number, ms: number): void {
    const second = Math.floor(t / 1000);
    const list = this.roundTripsBySecond.get(second) ?? [];
    list.push(ms);
    this.roundTripsBySecond.set(second, list);
    for (let s = second - ROUND_TRIP_NEAR_S; s <= second + ROUND_TRIP_NEAR_S; s++) this.allowanceBySecond.delete(s);
  }

  /** The trials' first attempts by the connection they went out on: reused, new, or not seen at all. */
  tally(trials: readonly string[]): { reused: number; new: number; unseen: number } {
    const counts = { reused: 0, new: 0, unseen: 0 };
    for (const trial of trials) {
      const first = this.of(trial)?.attempts[0];
      if (!first) counts.unseen++;
      else if (first.reused) counts.reused++;
      else counts.new++;
    }
    return counts;
  }
}
