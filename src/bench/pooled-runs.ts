// What the benchmarks that repeat one sweep share: keeping each run's trials apart when the
// runs are pooled into one cell, and the W they compare (the upstream boundary's).
import type { CellAnalysis } from '../analysis/analyze-history.js';
import type { HistoryRecord } from '../history/records.js';

/** A run's history, its trial ids and blocks made unique across runs (each run's start anew). */
export function tagRun(history: readonly HistoryRecord[], run: number): HistoryRecord[] {
  return history.map((record) => (record.type === 'cell' ? { ...record, trialPrefix: `r${run}${record.trialPrefix}` }
    : record.type === 'trial' ? { ...record, id: `r${run}${record.id}`, block: run * 1000 + (record.block ?? 0) } : record));
}

export function upstreamWidth(cell: CellAnalysis) {
  return cell.windowWidth.find((width) => width.boundary === 'upstream')!;
}
