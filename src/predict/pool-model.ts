// How often production traffic meets the window: a simulation of the proxy's pool of idle
// upstream connections under Poisson arrivals.
//
// A request fails when the idle connection it takes has an age (since the upstream's last
// answer on it) within the window around the upstream's close K. So the failure rate per request
// is the window's curve f weighed by how often requests meet connections of each age. Arrivals
// are Poisson, so they see the pool as it is on average over time (PASTA): the rate per request
// is the time average of f(age of the connection an arrival would take - K). The simulation
// follows the pool between events and integrates f over the age the top connection sweeps in
// each interval. That counts every stretch of time the window is open, not only the arrivals
// that happen to land in it, so a few hundred thousand arrivals pin the rate to a percent or two.
//
// The pool is nginx's upstream keepalive cache: idle connections kept per worker (at most
// `pool`; beyond, the least recently used is closed), the most recently used taken first (LIFO),
// a new connection opened when none is idle. Each worker has its own pool, and requests are
// spread over the workers evenly and at random, so a worker sees Poisson arrivals at rate / workers.
// A request holds its connection for `answerMs` (from its write to the upstream's answer), the
// same for every request. An idle connection is gone once its age passes K and the window's end
// (the proxy has seen the upstream's FIN), or the proxy's own idle timeout P.
import { seededRandom } from '../util/random.js';

/** The window's curve: the failure probability over stretches of age relative to K (ms). */
export interface CurvePiece {
  fromMs: number;
  toMs: number;
  rate: number;
}

export interface PoolModelInput {
  /** Arrivals per second at the proxy, over all its workers. */
  ratePerSecond: number;
  /** Idle upstream connections each worker keeps (nginx `keepalive N`). */
  pool: number;
  workers: number;
  /** How long a request holds its upstream connection (ms). */
  answerMs: number;
  /** The upstream's idle close K: the age (ms) the curve's offsets are taken from. */
  closeMs: number;
  /** The proxy's own idle close P (ms): past it the proxy closes the connection itself. */
  proxyCloseMs?: number;
  curve: readonly CurvePiece[];
  /** Also count the reuses whose age lands in [closeMs + from, closeMs + to) (ms): the band the soak's
   *  upstream events are checked against. */
  ageBandMs?: [number, number];
  seed?: number;
  /** Stop when the estimate's relative standard error is below this (after the minimum)... */
  targetRelativeError?: number;
  minArrivals?: number;
  /** ...or at this many arrivals. */
  maxArrivals?: number;
}

export interface PoolModelResult {
  /** Expected failures per request, and its Monte Carlo standard error. */
  failuresPerRequest: number;
  standardError: number;
  arrivals: number;
  /** Share of requests that found no idle connection and opened one. */
  newConnectionShare: number;
  /** Share of requests that reused a connection whose age was in `ageBandMs`. */
  ageBandShare: number;
  /** Most idle connections one worker held at once. */
  maxIdle: number;
}

const BATCH_ARRIVALS = 10_000;

/** ∫ f over offsets up to x (ms): the curve's cumulative, W at its far end. */
function cumulativeCurve(curve: readonly CurvePiece[]): (offsetMs: number) => number {
  return (x) => {
    let sum = 0;
    for (const piece of curve) {
      if (x <= piece.fromMs) break;
      sum += piece.rate * (Math.min(x, piece.toMs) - piece.fromMs);
    }
    return sum;
  };
}

/** A worker's idle connections and the requests holding the others, followed through time. */
class IdlePool {
  /** Idle connections by the time they went idle, oldest first: LIFO reuse keeps them sorted. */
  private idle: number[] = [];
  private idleFrom = 0;
  /** When each busy connection frees up (a binary min-heap). */
  private readonly busy: number[] = [];
  private now = 0;
  /** ∫ f(age of the top idle connection - K) dt (ms) since the caller last set it to 0. */
  integral = 0;
  opened = 0;
  inBand = 0;
  maxIdle = 0;
  private readonly cumulative: (offsetMs: number) => number;
  private readonly curveFromAge: number;
  private readonly goneAge: number;
  private readonly band: readonly [number, number] | null;

  constructor(private readonly pool: number, private readonly closeMs: number, curve: readonly CurvePiece[], ageBandMs?: [number, number], proxyCloseMs = Infinity) {
    const sorted = [...curve].sort((a, b) => a.fromMs - b.fromMs);
    this.cumulative = cumulativeCurve(sorted);
    // Ages (ms) where the curve starts, and past which a connection is gone: past K and the
    // end of the measured window, the proxy has seen the upstream's FIN and dropped it.
    this.curveFromAge = sorted.length > 0 ? closeMs + sorted[0]!.fromMs : Infinity;
    // And past P, the proxy closes it itself: with P below K, no connection lives to the close.
    this.goneAge = Math.min(proxyCloseMs, closeMs + Math.max(0, sorted.length > 0 ? sorted.at(-1)!.toMs : 0));
    this.band = ageBandMs ? [closeMs + ageBandMs[0], closeMs + ageBandMs[1]] : null;
  }

  /** Runs time on to `until`, freeing the connections whose requests end before it. */
  runTo(until: number): void {
    while (this.busy.length > 0 && this.busy[0]! <= until) {
      this.advance(this.busy[0]!);
      popHeap(this.busy);
      this.release();
    }
    this.advance(until);
  }

  /** An arrival now: takes the most recent idle connection, or opens one. The request then holds
   *  a connection for `holdMs`. */
  take(holdMs: number): void {
    if (this.idle.length > this.idleFrom) {
      const age = this.now - this.idle.pop()!;
      if (this.band && age >= this.band[0] && age < this.band[1]) this.inBand++;
      // Taken past the close: the connection was closed under it; the request goes out anew.
      if (age >= this.closeMs) this.opened++;
    } else this.opened++;
    pushHeap(this.busy, this.now + holdMs);
  }

  /** Integrates f over the top idle connection's age as time runs on to `until`. */
  private advance(until: number): void {
    if (this.idle.length > this.idleFrom) {
      const since = this.idle[this.idle.length - 1]!;
      // Only while it lives: past goneAge the proxy has dropped it (its FIN seen, or P passed).
      const to = Math.min(until - since, this.goneAge);
      if (to >= this.curveFromAge && to > this.now - since) this.integral += this.cumulative(to - this.closeMs) - this.cumulative(this.now - since - this.closeMs);
      // The youngest is past its close: so is every older one.
      if (until - since >= this.goneAge) this.idleFrom = this.idle.length;
    }
    this.now = until;
  }

  private release(): void {
    if (this.idleFrom > 4096 || (this.idleFrom > 0 && this.idleFrom === this.idle.length)) {
      this.idle = this.idle.slice(this.idleFrom);
      this.idleFrom = 0;
    }
    this.idle.push(this.now);
    // Past `keepalive N` idle connections, the proxy closes the least recently used.
    if (this.idle.length - this.idleFrom > this.pool) this.idleFrom++;
    this.maxIdle = Math.max(this.maxIdle, this.idle.length - this.idleFrom);
  }
}

function pushHeap(heap: number[], value: number): void {
  heap.push(value);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! <= value) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = value;
}

function popHeap(heap: number[]): void {
  const last = heap.pop()!;
  if (heap.length === 0) return;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) break;
    const child = left + 1 < heap.length && heap[left + 1]! < heap[left]! ? left + 1 : left;
    if (heap[child]! >= last) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = last;
}

export function simulatePool(input: PoolModelInput): PoolModelResult {
  const { pool, answerMs, closeMs, curve } = input;
  if (!(input.ratePerSecond > 0) || !(input.workers >= 1) || !(pool >= 1) || !(answerMs >= 0)) throw new Error('simulatePool: rate, workers, pool and answer time must be positive');
  const ratePerMs = input.ratePerSecond / input.workers / 1000;
  const random = seededRandom(input.seed ?? 1);
  const targetRse = input.targetRelativeError ?? 0.02;
  const minArrivals = input.minArrivals ?? 200_000;
  const maxArrivals = Math.max(minArrivals, input.maxArrivals ?? 4_000_000);
  const state = new IdlePool(pool, closeMs, curve, input.ageBandMs, input.proxyCloseMs);
  const batches: number[] = [];
  let at = 0;
  let arrivals = 0;
  while (arrivals < maxArrivals) {
    at += -Math.log(1 - random()) / ratePerMs;
    state.runTo(at);
    state.take(answerMs);
    arrivals++;
    if (arrivals % BATCH_ARRIVALS === 0) {
      // Poisson arrivals meet the window as often as it is open: λ x the time it was.
      batches.push((state.integral * ratePerMs) / BATCH_ARRIVALS);
      state.integral = 0;
      if (arrivals >= minArrivals && relativeError(batches) < targetRse) break;
    }
  }
  const mean = batches.reduce((sum, value) => sum + value, 0) / Math.max(1, batches.length);
  return {
    failuresPerRequest: mean,
    standardError: mean * relativeError(batches),
    arrivals,
    newConnectionShare: state.opened / Math.max(1, arrivals),
    ageBandShare: state.inBand / Math.max(1, arrivals),
    maxIdle: state.maxIdle,
  };
}

/** The batch means' standard error over their mean (Infinity while it cannot be told). */
function relativeError(batches: readonly number[]): number {
  const n = batches.length;
  const mean = batches.reduce((sum, value) => sum + value, 0) / Math.max(1, n);
  if (n < 2) return Infinity;
  if (mean === 0) return batches.every((value) => value === 0) ? 0 : Infinity;
  const variance = batches.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (n - 1);
  return Math.sqrt(variance / n) / mean;
}
