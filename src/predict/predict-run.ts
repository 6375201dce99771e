// `predict DIR`: a run directory's measured windows turned into expected failures at a traffic.
import fs from 'node:fs';
import path from 'node:path';
import { HISTORY_FILE, readHistoryFile } from '../history/history-file.js';
import { UsageError } from '../util/errors.js';
import { failureCurve, predictFailures, type FailureCurve, type PoolShape, type Prediction } from './prediction.js';
import { runWindows, type RunRecords, type RunWindow } from './run-windows.js';
import { parseTraffic, type Traffic } from '../scenario/traffic.js';

/** nginx's pool when the run does not say (its default since 1.29.7, and soak's). */
export const DEFAULT_POOL = 32;

export interface PredictOptions {
  /** The traffic: "50/s", "3000/min", "1.7M/day" or a profile "20/s:8h,200/s:16h". */
  rate: string | Traffic;
  /** Idle upstream connections per worker (default: the gate's config's, else 32). */
  pool?: number;
  workers?: number;
  /** How long a request holds its upstream connection (default: the cell's median answer time). */
  answerMs?: number;
  /** One cell's id (default: every cell). */
  cell?: string;
  /** Also the curve of failures against the request rate (a few seconds more). */
  curve?: boolean;
}

export interface CellPrediction extends Prediction {
  cell: string;
  method: string;
  proxyTimeoutMs: number | null;
  upstreamTimeoutMs: number | null;
  /** Why nothing is predicted (the proxy closes first), or null. */
  noUpstreamClose: string | null;
  /** Trials a second the run fired while it measured W (null: not recorded). */
  firingRatePerSecond: number | null;
  curve?: FailureCurve;
}

export interface RunPrediction {
  dir: string | null;
  /** The cell to plan for: the one given, else the one with the most failures predicted. */
  cell: string;
  failuresPerMillion: number;
  failuresPerMillionCi95: [number, number];
  failuresPerDay: number;
  failuresPerDayCi95: [number, number];
  cells: CellPrediction[];
}

export function shapeFor(window: RunWindow, options: Pick<PredictOptions, 'pool' | 'workers' | 'answerMs'>): PoolShape {
  return {
    pool: options.pool ?? window.pool ?? DEFAULT_POOL,
    workers: options.workers ?? 1,
    answerMs: options.answerMs ?? window.answerMs,
  };
}

/** One window's prediction (and curve, when asked). */
export function predictWindow(window: RunWindow, traffic: Traffic, options: Omit<PredictOptions, 'rate' | 'cell'> = {}): CellPrediction {
  const shape = shapeFor(window, options);
  const prediction = predictFailures(window, traffic, shape);
  return {
    cell: window.cell,
    method: window.method,
    proxyTimeoutMs: window.proxyTimeoutMs,
    upstreamTimeoutMs: window.upstreamTimeoutMs,
    noUpstreamClose: window.noUpstreamClose,
    firingRatePerSecond: window.firingRatePerSecond,
    ...prediction,
    ...(options.curve && window.noUpstreamClose === null ? { curve: failureCurve(window, shape, traffic.segments.map((segment) => segment.ratePerSecond)) } : {}),
  };
}

/** Predictions for a history's cells (bad input: a UsageError naming the fix). */
export function predictRecords(records: RunRecords, options: PredictOptions, dir: string | null = null): RunPrediction {
  const traffic = typeof options.rate === 'string' ? parseTraffic(options.rate) : options.rate;
  const windows = runWindows(records);
  if (windows.length === 0) throw new UsageError(`${dir ?? 'the history'} has no aimed trials: predict reads a sweep's or a gate's run directory`);
  const chosen = options.cell === undefined ? windows : windows.filter((window) => window.cell === options.cell);
  if (chosen.length === 0) throw new UsageError(`--cell ${options.cell}: no such cell in ${dir ?? 'the history'}: give one of ${windows.map((window) => window.cell).join(', ')}`);
  const cells = chosen.map((window) => predictWindow(window, traffic, options));
  const worst = cells.reduce((best, cell) => (cell.failuresPerMillion > best.failuresPerMillion ? cell : best));
  return {
    dir,
    cell: worst.cell,
    failuresPerMillion: worst.failuresPerMillion,
    failuresPerMillionCi95: worst.failuresPerMillionCi95,
    failuresPerDay: worst.failuresPerDay,
    failuresPerDayCi95: worst.failuresPerDayCi95,
    cells,
  };
}

/** `predict DIR`: reads the run directory's history. */
export function predictRun(dir: string, options: PredictOptions): RunPrediction {
  const file = path.join(dir, HISTORY_FILE);
  if (!fs.existsSync(file)) throw new UsageError(`${dir} has no ${HISTORY_FILE}: give the --out directory of a sweep or a gate`);
  // Checked before the history is read: a bad rate starts nothing.
  const traffic = typeof options.rate === 'string' ? parseTraffic(options.rate) : options.rate;
  return predictRecords(readHistoryFile<RunRecords[number]>(file), { ...options, rate: traffic }, dir);
}

/**
 * The prediction a run's reports show: at the traffic its settings name (`--traffic`), through
 * the pool they name (`--traffic-pool`, else the gate's config's, else 32) and their workers;
 * null when they name none, or the run aimed no trial.
 */
export function runTrafficPrediction(records: RunRecords): RunPrediction | null {
  const settings = (records.find((record) => record.type === 'run') as { settings?: Record<string, unknown> } | undefined)?.settings;
  if (typeof settings?.traffic !== 'string') return null;
  const number = (value: unknown) => (typeof value === 'number' && value >= 1 ? value : undefined);
  const pool = number(settings.trafficPool);
  const workers = number(settings.workerProcesses);
  try {
    return predictRecords(records, { rate: settings.traffic, ...(pool ? { pool } : {}), ...(workers ? { workers } : {}), curve: true });
  } catch (error) {
    if (error instanceof UsageError) return null;
    throw error;
  }
}
