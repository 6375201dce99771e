// The summary table printed at the end of a sweep and at the top of report.md.
import type { CellAnalysis } from '../analysis/analyze-history.js';
import { faultsLabel } from '../faults/fault.js';
import { formatDuration, interval, markdownTable, percent, span } from './format.js';
import { widthColumn } from './window-text.js';
import { shardLabel } from './shard-text.js';
import type { MergeRecord } from '../history/records.js';

export function summaryTable(cells: readonly CellAnalysis[], merge: MergeRecord | null = null): string {
  // A merge of shards says which shard, on which machine, measured each cell.
  const withShard = cells.some((cell) => cell.shard !== undefined);
  // The path column appears only when some cell passed a Toxiproxy.
  const withPath = cells.some((cell) => cell.path !== 'direct');
  const withNode = cells.some((cell) => cell.upstreamNode !== undefined);
  const withClient = cells.some((cell) => cell.client !== undefined);
  const header = ['proxy P', 'upstream K', 'close', ...(withNode ? ['node'] : []), 'effective close', 'method', ...(withClient ? ['client'] : []), 'retry', ...(withPath ? ['path (faults)'] : []), 'trials', 'failures', 'W ms [95% CI]', 'rate/aimed', '95% CI', '502s', 'no response', 'window (core)', 'proxy log', 'verdict', ...(withShard ? ['shard · machine'] : [])];
  const rows = cells.map((cell) => {
    const windows = cell.window.filter((w) => w.anyMs).map((w) => `${w.boundary} ${span(w.coreMs)}`).join('; ') || '-';
    const reasons = Object.entries(cell.proxyLog.reasons).map(([reason, count]) => `${count} ${reason}`).join(', ') || '-';
    return [
      formatDuration(cell.proxyTimeoutMs),
      formatDuration(cell.upstreamTimeoutMs),
      cell.upstreamClose,
      ...(withNode ? [cell.upstreamNodeVersion ?? cell.upstreamNode ?? '?'] : []),
      `${cell.effectiveCloseMs.toFixed(1)} ms`,
      cell.method,
      ...(withClient ? [cell.client ?? '-'] : []),
      cell.retry,
      ...(withPath ? [cell.path === 'direct' ? 'direct' : `toxiproxy (${faultsLabel(cell.faults)})`] : []),
      cell.trials,
      cell.failures,
      widthColumn(cell),
      percent(cell.failureRate),
      interval(cell.failureRateCi95),
      cell.status502,
      cell.closedWithoutResponse,
      windows,
      reasons,
      verdict(cell),
      ...(withShard ? [`${shardLabel(merge, cell.shard)}${cell.referenceOf !== undefined ? ' · reference copy' : ''}`] : []),
    ];
  });
  return markdownTable(header, rows);
}

/** A plain-language reading of the interval, for a person scanning the table. */
export function verdict(cell: CellAnalysis): string {
  if (cell.trials === 0) return 'no trials';
  const [low, high] = cell.failureRateCi95;
  const suffix = cell.completed ? '' : ' (incomplete)';
  if (low > 0) return `races${suffix}`;
  if (cell.failures === 0 && cell.proxyLog.attempts > 0) return `masked: proxy retried ${cell.proxyLog.attempts}${suffix}`;
  if (cell.failures === 0) return `no failure (< ${percent(high)})${suffix}`;
  return `inconclusive${suffix}`;
}
