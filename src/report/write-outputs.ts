// Everything a run directory holds beside its history is derived from the history.
import fs from 'node:fs';
import path from 'node:path';
import { analyzeHistory, type RunAnalysis } from '../analysis/analyze-history.js';
import { HISTORY_FILE, readHistoryFile } from '../history/history-file.js';
import type { HistoryRecord } from '../history/records.js';
import { htmlReport } from './html/html-report.js';
import { runCaptures } from '../capture/run-capture.js';
import { markdownReport } from './markdown-report.js';
import { shardManifest } from '../analysis/shard-manifest.js';
import { summaryCsv, summaryJson } from './summary.js';
import { writeRunFile } from '../util/run-dir-files.js';
import { runTrafficPrediction, type RunPrediction } from '../predict/predict-run.js';

export { HISTORY_FILE } from '../history/history-file.js';
export const SHARD_MANIFEST_FILE = 'shard.json';

/**
 * Reads DIR/trials.jsonl (or takes the records already read from it) and (re)writes
 * summary.json, summary.csv, report.md and report.html (and a shard's shard.json).
 */
export async function writeRunOutputs(dir: string, history: readonly HistoryRecord[] = readHistoryFile(path.join(dir, HISTORY_FILE))): Promise<RunAnalysis & { traffic: RunPrediction | null }> {
  const analysis = analyzeHistory(history);
  // At the production traffic the run was given (--traffic): seeded, so a rebuild writes the same.
  const traffic = runTrafficPrediction(history);
  writeRunFile(dir, 'summary.json', JSON.stringify(summaryJson(analysis, traffic), null, 2) + '\n');
  writeRunFile(dir, 'summary.csv', summaryCsv(analysis));
  writeRunFile(dir, 'report.md', markdownReport(analysis, history, traffic));
  // A run made with --capture draws its sample failures' packets too.
  const captures = runCaptures(dir, history);
  writeRunFile(dir, 'report.html', await htmlReport(analysis, history, captures.captured ? (trial) => captures.find(trial) : undefined, traffic));
  // A shard of a sweep says what part of which matrix it measured, and on what machine.
  const manifest = shardManifest(history);
  if (manifest) writeRunFile(dir, SHARD_MANIFEST_FILE, JSON.stringify(manifest, null, 2) + '\n');
  return { ...analysis, traffic };
}
