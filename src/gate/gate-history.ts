// A gate run's history: the records a sweep writes (run, trial, proxy-log), so that `explain`
// and the gap analysis read it as they read a sweep's, and two of the gate's own: what it
// measured before firing (gate-setup) and the verdict it reached (gate-verdict). Appended as
// they happen, so that an interrupted run keeps every trial it fired.
import fs from 'node:fs';
import path from 'node:path';
import { openHistoryFile, type HistorySink } from '../history/history-file.js';
import type { HistoryRecord, RunRecord, TrialRecord } from '../history/records.js';
import { HISTORY_FILE } from '../report/write-outputs.js';
import type { BoundaryKind } from '../vocabulary.js';
import { assertNewRunDir } from '../util/out-dir.js';
import type { BurstTrial } from './boundary-bursts.js';
import type { GateResult } from './gate-result.js';
import type { TrialConnections } from './tap/trial-connections.js';

/** The one "cell" of a gate run: its trials' `cell` field. */
export const GATE_CELL = 'gate';

/** What the gate measured before it fired, and where it aims. */
export interface GateSetupRecord {
  type: 'gate-setup';
  proxy: GateResult['proxy'];
  upstream: GateResult['upstream'];
  decisive: GateResult['decisive'];
  faults: string[];
  maxFailureRate: number;
  confidence: number;
  trialsNeededToPass: number;
}

export interface GateVerdictRecord {
  type: 'gate-verdict';
  result: GateResult;
}

export type GateHistoryRecord = HistoryRecord | GateSetupRecord | GateVerdictRecord;

/** A gate run's history, by how the run directory holds it. */
export function isGateHistory(records: readonly { type: string }[]): boolean {
  return records.some((record) => record.type === 'gate-setup' || record.type === 'gate-verdict'
    || (record.type === 'run' && (record as RunRecord).settings.command === 'gate'));
}

/**
 * Refuses a directory that already holds a run (bad input: one line, before anything starts).
 * The directory itself is made only once the run measures something.
 */
export function checkGateRunDir(dir: string, flag: string): void {
  assertNewRunDir(dir, HISTORY_FILE, flag);
}

export function openGateHistory(dir: string): HistorySink<GateHistoryRecord> {
  fs.mkdirSync(dir, { recursive: true });
  return openHistoryFile<GateHistoryRecord>(path.join(dir, HISTORY_FILE));
}

/**
 * A burst's trial as the sweep records one. The gate's gap is read from the client's receipt
 * of the previous answer (the user's upstream sends no send stamp), and its offset is taken
 * from the decisive close: the upstream's measured median, or the proxy's own close. `seen`:
 * what the connection tap saw of it (null: nothing, e.g. a request that never reached the upstream).
 */
export function gateTrialRecord(trial: BurstTrial, boundary: BoundaryKind, atMs: number, method: string, seen: TrialConnections | null = null): TrialRecord {
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  return {
    type: 'trial',
    cell: GATE_CELL,
    id: trial.id,
    lane: trial.lane,
    method,
    boundary,
    intendedOffsetMs: round(trial.intendedGapMs - atMs),
    gapMs: trial.gapMs,
    gapOffsetMs: round(trial.gapMs - atMs),
    gapClock: 'client',
    receiptGapMs: trial.gapMs,
    status: trial.status,
    errorClass: trial.errorClass,
    latencyMs: round(trial.endedAtMs - trial.sentAtMs),
    sentAt: round(trial.sentAtMs),
    endedAt: round(trial.endedAtMs),
    ...(seen ? { upstreamConn: seen.attempts[0]!.conn, upstreamReused: seen.attempts[0]!.reused, upstreamAttempts: seen.attempts.length } : {}),
  };
}
