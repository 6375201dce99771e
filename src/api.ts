// The library entry for users' own scripts and vitest suites: one call measures a sweep and
// returns its analysis, with the raw history for anything the analysis does not say.
import { assertCanPin } from './runtime/cpu-pinning.js';
import { assertCanCapture } from './capture/tcpdump.js';
import { UsageError } from './util/errors.js';
import { FIELD_DEFAULTS, runField, type FieldOptions } from './field/run-field.js';
import type { FieldResult } from './field/field-verdict.js';
import { analyzeHistory, type RunAnalysis } from './analysis/analyze-history.js';
import { memoryHistory, openHistoryFile, teeHistory } from './history/history-file.js';
import type { HistoryRecord } from './history/records.js';
import { localRuntimeOptions } from './runtime/local-runtime.js';
import { runtimeChoice, selectRuntime } from './runtime/select-runtime.js';
import type { Runtime } from './runtime/runtime.js';
import { parseSweepConfig, type SweepConfigInput } from './scenario/sweep-config.js';
import { runSweep, type SweepHooks } from './sweep/run-sweep.js';
import { GATE_DEFAULTS } from './gate/gate-flags.js';
import { parseGateInput, type GateInputFields } from './gate/gate-input.js';
import type { GateResult } from './gate/gate-result.js';
import { runGate } from './gate/run-gate.js';
import { analyzeSoak, type SoakAnalysis } from './soak/soak-analysis.js';
import { parseSoakConfig } from './soak/soak-config.js';
import { runSoakCells, soakPairingIds } from './soak/soak.js';
import { predictRecords, predictRun, runTrafficPrediction, type PredictOptions, type RunPrediction } from './predict/predict-run.js';
import { loadSoakWindows, predictedSoak } from './soak/soak-prediction.js';

export interface SweepOptions extends SweepHooks {
  /** Defaults to the config's `runtime` (else KEEPALIVE_LAB_RUNTIME, else local). */
  runtime?: Runtime;
  /** Also append the history to this JSON-lines file. */
  historyFile?: string;
}

export interface SweepResult extends RunAnalysis {
  history: HistoryRecord[];
  /** At the config's `traffic`: the failures to expect a million requests and a day (null without). */
  traffic: RunPrediction | null;
}

export async function sweep(input: SweepConfigInput, options: SweepOptions = {}): Promise<SweepResult> {
  const config = parseSweepConfig(input);
  const runtime = options.runtime ?? (await selectRuntime(runtimeChoice(config.runtime), localRuntimeOptions(config))).runtime;
  if (config.capture) assertCanCapture();
  if (config.pin) assertCanPin();
  if (config.upstreamNode) await runtime.prepareUpstreamNode(config.upstreamNode);
  const memory = memoryHistory();
  const history = options.historyFile ? teeHistory(memory, openHistoryFile(options.historyFile)) : memory;
  try {
    const outcome = await runSweep(config, runtime, history, options);
    if (!outcome.completed) throw new Error(`sweep stopped early: ${outcome.reason}`);
  } finally {
    await history.close();
  }
  return { ...analyzeHistory(memory.records), traffic: runTrafficPrediction(memory.records), history: memory.records };
}

export interface SoakResult extends SoakAnalysis {
  history: HistoryRecord[];
}

/**
 * Soak traffic (Poisson arrivals through one shared pool) per pairing, for users' own suites:
 * e.g. `expect((await soak({...})).cells[0].perTenThousandCi95[1]).toBeLessThan(1)`.
 */
export async function soak(input: Record<string, unknown>, options: { runtime?: Runtime } = {}): Promise<SoakResult> {
  const config = parseSoakConfig(input);
  const windows = config.soak.windowFrom === undefined ? null : loadSoakWindows(config.soak.windowFrom, soakPairingIds(config));
  if (config.sweep.pin) assertCanPin();
  if (config.sweep.capture) throw new UsageError('capture: the soak command captures (keepalive-lab soak --capture --out DIR); soak() keeps no run directory');
  const runtime = options.runtime ?? (await selectRuntime(runtimeChoice(config.sweep.runtime), localRuntimeOptions(config.sweep))).runtime;
  const memory = memoryHistory();
  try {
    const outcome = await runSoakCells(config, runtime, memory);
    if (!outcome.completed) throw new Error(`soak stopped early: ${outcome.reason}`);
  } finally {
    await memory.close();
  }
  return { ...predictedSoak(analyzeSoak(memory.records), windows, config), history: memory.records };
}

/** The cell with this method and retry policy (and pairing, when the sweep had several). */
export function findCell(result: RunAnalysis, where: Partial<Pick<RunAnalysis['cells'][number], 'method' | 'retry' | 'proxyTimeoutMs' | 'upstreamTimeoutMs' | 'upstreamClose'>>) {
  const matches = result.cells.filter((cell) => Object.entries(where).every(([key, value]) => cell[key as keyof typeof cell] === value));
  if (matches.length !== 1) throw new Error(`expected one cell matching ${JSON.stringify(where)}, found ${matches.length}`);
  return matches[0]!;
}

/**
 * The gate's settings for a library call: the CLI's settings under their camelCase names
 * (durations as milliseconds or as text such as '60s'), with the CLI's defaults.
 */
export type GateInput = GateInputFields & { onProgress?: (line: string) => void };

export { GATE_DEFAULTS };

/**
 * The deploy gate as a call (`keepalive-lab gate` runs the same): resolves with the verdict,
 * its evidence and the fix; rejects with a UsageError for bad input, validated by the same
 * schema as the CLI's flags, so the message is the CLI's one line with the setting's name
 * here. For a vitest suite: `expect(result.outcome, result.reason).toBe('pass')`.
 */
export async function gate(input: GateInput): Promise<GateResult> {
  const { onProgress, ...settings } = input;
  return runGate({ ...parseGateInput(settings, 'fields'), ...(onProgress ? { onProgress } : {}) });
}

/** Field mode's settings as a call: the URL, and any of the CLI's flags (their defaults otherwise). */
export type FieldInput = Pick<FieldOptions, 'url'> & Partial<Omit<FieldOptions, 'url'>>;

/**
 * Field mode as a call (`keepalive-lab field` runs the same) against a stack you did not start:
 * resolves with the result (`outcome` 'race', 'none', 'stopped', 'disturbed'); rejects with a
 * UsageError for bad input. No run directory unless `out` is given.
 */
export async function field(input: FieldInput): Promise<FieldResult> {
  return runField({ idle: 'auto', headers: [], ...FIELD_DEFAULTS, out: null, ...input });
}

/**
 * The failures to expect at a production traffic from the window a sweep or a gate measured:
 * `predict('runs/x', { rate: '50/s', pool: 32 })`, or `predict(result, ...)` on a sweep()'s result.
 * Per million requests and per day, with 95% intervals carried from W's (predict/).
 */
export function predict(from: string | { history: readonly HistoryRecord[] }, options: PredictOptions): RunPrediction {
  return typeof from === 'string' ? predictRun(from, options) : predictRecords(from.history, options);
}
