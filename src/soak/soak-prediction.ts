// A soak's observed failures beside what a sweep of the same pairing predicts for its traffic
// (`soak --window-from DIR`): the prediction's model checked against the real thing, twice over:
// on the failures, and on the evidence the model rests on, the reuses that came near the close.
import fs from 'node:fs';
import path from 'node:path';
import { HISTORY_FILE, readHistoryFile } from '../history/history-file.js';
import { PREDICTION_BUDGET, predictAtRate } from '../predict/prediction.js';
import { shapeFor } from '../predict/predict-run.js';
import { runWindows, type RunWindow } from '../predict/run-windows.js';
import { UsageError } from '../util/errors.js';
import { zForConfidence } from '../util/stats.js';
import type { SoakCellAnalysis, SoakPrediction } from './soak-analysis.js';
import type { SoakConfig } from './soak-config.js';
import { NEAR_CLOSE_MS } from './soak-connections.js';

/** The sweep window of a soak cell's pairing, or undefined. */
export function windowForSoakCell(cell: SoakCellAnalysis, windows: readonly RunWindow[]): RunWindow | undefined {
  return windows.find((window) => window.cell === cell.pairingId);
}

export function predictSoakCell(cell: SoakCellAnalysis, window: RunWindow, settings: { pool: number; workers: number }, confidence = 0.95): SoakPrediction {
  const shape = shapeFor(window, settings);
  // The soak's own close: the window's offsets are from the close, wherever it fell this time.
  const measured = { ...window, closeMs: cell.effectiveCloseMs };
  // One simulation for both: the failures, and the reuses near the close the upstream is checked on.
  const predicted = predictAtRate(measured, shape, cell.plannedRatePerSecond, PREDICTION_BUDGET, NEAR_CLOSE_MS);
  const toTenThousand = (perMillion: number) => perMillion / 100;
  const z = zForConfidence(confidence);
  const perTenThousand = toTenThousand(predicted.failuresPerMillion);
  const ci: [number, number] = [toTenThousand(predicted.failuresPerMillionCi95[0]), toTenThousand(predicted.failuresPerMillionCi95[1])];
  // Each side's standard error from its interval's half on the side facing the other.
  const observedAbove = cell.perTenThousand >= perTenThousand;
  const predictedSe = (observedAbove ? ci[1] - perTenThousand : perTenThousand - ci[0]) / z;
  const observedSe = (observedAbove ? cell.perTenThousand - cell.perTenThousandCi95[0] : cell.perTenThousandCi95[1] - cell.perTenThousand) / z;
  const combined = Math.hypot(predictedSe, observedSe);
  const differenceZ = combined > 0 ? (cell.perTenThousand - perTenThousand) / combined : 0;
  const nearCloseExpected = predicted.ageBandShare! * cell.requests;
  const observedNear = cell.connections.nearClose;
  return {
    fromCell: window.cell,
    shape,
    widthMs: window.widthMs,
    widthMsCi95: window.widthMsCi95,
    perTenThousand,
    perTenThousandCi95: ci,
    differenceZ,
    agrees: Math.abs(differenceZ) <= z,
    nearCloseExpected,
    // The observed count is Poisson about the model's (whose simulation's own error is small).
    nearCloseZ: nearCloseExpected > 0 ? (observedNear - nearCloseExpected) / Math.sqrt(nearCloseExpected) : null,
  };
}

/** Each soak cell with its prediction, where the sweep measured its pairing at the upstream's close. */
export function withPredictions<T extends { cells: SoakCellAnalysis[] }>(analysis: T, windows: readonly RunWindow[], settings: { pool: number; workers: number }): T {
  return {
    ...analysis,
    cells: analysis.cells.map((cell) => {
      const window = windowForSoakCell(cell, windows);
      return window && window.noUpstreamClose === null && cell.requests > 0 ? { ...cell, prediction: predictSoakCell(cell, window, settings) } : cell;
    }),
  };
}

/** A sweep's windows for a soak's pairings, checked before anything starts (bad input: one line). */
export function loadSoakWindows(dir: string, pairingIds: readonly string[]): RunWindow[] {
  const file = path.join(dir, HISTORY_FILE);
  if (!fs.existsSync(file)) throw new UsageError(`--window-from ${dir}: no ${HISTORY_FILE} there: give the --out directory of a sweep of the same pairings`);
  const windows = runWindows(readHistoryFile<{ type: string }>(file));
  const missing = pairingIds.filter((id) => !windows.some((window) => window.cell === id));
  if (missing.length > 0) throw new UsageError(`--window-from ${dir}: the sweep has no cell ${missing[0]}: sweep the soak's pairings (the same timeouts, close, methods and retry) first`);
  return windows;
}

/** The analysis with predictions where windows were given (`--window-from`), else as it is. */
export function predictedSoak<T extends { cells: SoakCellAnalysis[] }>(analysis: T, windows: readonly RunWindow[] | null, config: SoakConfig): T {
  return windows ? withPredictions(analysis, windows, { pool: config.soak.pool, workers: config.sweep.workerProcesses }) : analysis;
}
