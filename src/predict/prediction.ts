// From a measured window to production: expected failures per million requests and per day at
// a traffic, with an interval carried from the window's, and the curve of expected failures
// against the request rate.
//
// The rate per request is linear in the window's curve and, over the millisecond or two the
// window spans, the chance of meeting a connection of that age barely changes: so the rate is
// W times a factor of the traffic and the pool (pool-model.ts), and W's interval carries over
// as it is, widened by the simulation's own error.
import { simulatePool, type CurvePiece, type PoolModelResult } from './pool-model.js';
import type { Traffic } from '../scenario/traffic.js';

/** A cell's window as the prediction takes it. */
export interface MeasuredWindow {
  /** The upstream's idle close K (ms): where the window's offsets start from. */
  closeMs: number;
  /** The proxy's idle timeout P (ms), where known: it closes idle connections at that age itself. */
  proxyCloseMs?: number;
  curve: CurvePiece[];
  widthMs: number;
  widthMsCi95: [number, number];
}

/** The proxy's pool and the upstream's answer time: what decides how old a reused connection is. */
export interface PoolShape {
  /** Idle upstream connections each worker keeps (nginx `keepalive N`). */
  pool: number;
  workers: number;
  /** How long a request holds its upstream connection (ms). */
  answerMs: number;
}

export interface RatePrediction {
  ratePerSecond: number;
  failuresPerMillion: number;
  failuresPerMillionCi95: [number, number];
  /** Share of requests that open a new upstream connection (none idle). */
  newConnectionShare: number;
  /** Share of requests that reuse a connection aged within the band asked for (soak's check). */
  ageBandShare?: number;
}

export interface Prediction extends PoolShape {
  traffic: string;
  requestsPerDay: number;
  closeMs: number;
  widthMs: number;
  widthMsCi95: [number, number];
  failuresPerMillion: number;
  failuresPerMillionCi95: [number, number];
  failuresPerDay: number;
  failuresPerDayCi95: [number, number];
  /** Each part of the day's traffic (one for a single rate). */
  segments: (RatePrediction & { hours: number })[];
}

export interface FailureCurve {
  points: (RatePrediction & { failuresPerDay: number })[];
  /** The rate with the most failures per request, and the one with the most a day. */
  peakPerMillion: RatePrediction;
  peakPerDay: RatePrediction & { failuresPerDay: number };
}

export interface SimulationBudget {
  minArrivals: number;
  maxArrivals: number;
  targetRelativeError: number;
}

export const PREDICTION_BUDGET: SimulationBudget = { minArrivals: 200_000, maxArrivals: 4_000_000, targetRelativeError: 0.02 };
const CURVE_BUDGET: SimulationBudget = { minArrivals: 40_000, maxArrivals: 400_000, targetRelativeError: 0.05 };

function simulate(window: MeasuredWindow, shape: PoolShape, ratePerSecond: number, curve: readonly CurvePiece[], budget: SimulationBudget, ageBandMs?: [number, number]): PoolModelResult {
  return simulatePool({ ratePerSecond, ...shape, closeMs: window.closeMs, curve, ...budget, ...(window.proxyCloseMs !== undefined ? { proxyCloseMs: window.proxyCloseMs } : {}),
    ...(ageBandMs ? { ageBandMs } : {}) });
}

/** Failures per million at one rate, with the interval from W's and the simulation's error (and,
 *  asked, the share of reuses aged within a band around K, from the same arrivals). */
export function predictAtRate(window: MeasuredWindow, shape: PoolShape, ratePerSecond: number, budget: SimulationBudget = PREDICTION_BUDGET, ageBandMs?: [number, number]): RatePrediction {
  const run = simulate(window, shape, ratePerSecond, window.curve, budget, ageBandMs);
  // Failures per request per ms of W. With no failure measured, W is 0 and the curve says
  // nothing of where the window lies: a flat curve over the strata measured stands in.
  let perMsOfWidth: number;
  let relativeError: number;
  if (window.widthMs > 0) {
    perMsOfWidth = run.failuresPerRequest / window.widthMs;
    relativeError = run.failuresPerRequest > 0 ? run.standardError / run.failuresPerRequest : 0;
  } else {
    const flat = window.curve.map((piece) => ({ ...piece, rate: 1 }));
    const span = flat.reduce((sum, piece) => sum + piece.toMs - piece.fromMs, 0);
    const flatRun = span > 0 ? simulate(window, shape, ratePerSecond, flat, budget) : null;
    perMsOfWidth = flatRun ? flatRun.failuresPerRequest / span : 0;
    relativeError = flatRun && flatRun.failuresPerRequest > 0 ? flatRun.standardError / flatRun.failuresPerRequest : 0;
  }
  const million = (perRequest: number) => perRequest * 1e6;
  return {
    ratePerSecond,
    failuresPerMillion: million(run.failuresPerRequest),
    failuresPerMillionCi95: [
      million(window.widthMsCi95[0] * perMsOfWidth * Math.max(0, 1 - 2 * relativeError)),
      million(window.widthMsCi95[1] * perMsOfWidth * (1 + 2 * relativeError)),
    ],
    newConnectionShare: run.newConnectionShare,
    ...(ageBandMs ? { ageBandShare: run.ageBandShare } : {}),
  };
}

/** The expected failures at a traffic: per million requests and per day. */
export function predictFailures(window: MeasuredWindow, traffic: Traffic, shape: PoolShape): Prediction {
  const segments = traffic.segments.map((segment) => ({ ...predictAtRate(window, shape, segment.ratePerSecond), hours: segment.hours }));
  const perDay = (pick: (segment: RatePrediction) => number) =>
    segments.reduce((sum, segment) => sum + (pick(segment) / 1e6) * segment.ratePerSecond * segment.hours * 3600, 0);
  const failuresPerDay = perDay((segment) => segment.failuresPerMillion);
  const failuresPerDayCi95: [number, number] = [perDay((segment) => segment.failuresPerMillionCi95[0]), perDay((segment) => segment.failuresPerMillionCi95[1])];
  const perMillion = (day: number) => (day / traffic.requestsPerDay) * 1e6;
  return {
    traffic: traffic.text,
    requestsPerDay: traffic.requestsPerDay,
    ...shape,
    closeMs: window.closeMs,
    widthMs: window.widthMs,
    widthMsCi95: window.widthMsCi95,
    failuresPerMillion: perMillion(failuresPerDay),
    failuresPerMillionCi95: [perMillion(failuresPerDayCi95[0]), perMillion(failuresPerDayCi95[1])],
    failuresPerDay,
    failuresPerDayCi95,
    segments,
  };
}

/**
 * Expected failures against the request rate: rates spread evenly on a log scale from where a
 * worker's gaps are 20 times K to where they are a 30th of it (past that, no idle connection
 * lives to K and the curve has fallen away), plus any rates asked for.
 */
export function failureCurve(window: MeasuredWindow, shape: PoolShape, extraRates: readonly number[] = [], points = 25): FailureCurve {
  const perWorker = (x: number) => (x * 1000 * shape.workers) / Math.max(window.closeMs, 0.1);
  const [low, high] = [perWorker(0.05), perWorker(30)];
  const grid = Array.from({ length: points }, (_, i) => low * (high / low) ** (i / (points - 1)));
  const rates = [...new Set([...grid, ...extraRates])].filter((rate) => rate > 0 && rate <= 1_000_000).sort((a, b) => a - b);
  const curve = rates.map((rate) => {
    const at = predictAtRate(window, shape, rate, CURVE_BUDGET);
    return { ...at, failuresPerDay: (at.failuresPerMillion / 1e6) * rate * 86_400 };
  });
  const peak = <T extends RatePrediction>(pick: (point: T) => number, list: readonly T[]) => list.reduce((best, point) => (pick(point) > pick(best) ? point : best));
  return { points: curve, peakPerMillion: peak((point) => point.failuresPerMillion, curve), peakPerDay: peak((point) => point.failuresPerDay, curve) };
}
