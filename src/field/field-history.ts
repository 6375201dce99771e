// A field run's history (trials.jsonl): what it aimed at (field-run), every request as it ended
// (field-trial), and the verdict (field-verdict). Appended as they happen, so that a run that
// stops early keeps every request it sent; the reports are rebuilt from it alone.
import fs from 'node:fs';
import path from 'node:path';
import { openHistoryFile, type HistorySink } from '../history/history-file.js';
import { HISTORY_FILE } from '../report/write-outputs.js';
import type { FieldPlan } from './field-plan.js';
import type { FieldResult } from './field-verdict.js';
import type { FieldTrial } from './fire-group.js';

export interface FieldRunRecord {
  type: 'field-run';
  startedAt: string;
  /** The target as the reports show it: header names only (their values may be secrets). */
  target: { url: string; method: string; headerNames: string[]; bodyBytes: number };
  plan: FieldPlan;
  seed: number;
  node: string;
}

export interface FieldTrialRecord extends FieldTrial {
  type: 'field-trial';
}

export interface FieldVerdictRecord {
  type: 'field-verdict';
  result: FieldResult;
}

export type FieldHistoryRecord = FieldRunRecord | FieldTrialRecord | FieldVerdictRecord;

export function isFieldHistory(records: readonly { type: string }[]): boolean {
  return records.some((record) => record.type === 'field-run');
}

export function openFieldHistory(dir: string): HistorySink<FieldHistoryRecord> {
  fs.mkdirSync(dir, { recursive: true });
  return openHistoryFile<FieldHistoryRecord>(path.join(dir, HISTORY_FILE));
}
