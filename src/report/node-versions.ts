// The upstream Node versions of a sweep side by side (`--upstream-node`): for each version and
// upstream setting, when it really closed idle connections and what the race did there.
import type { CellAnalysis } from '../analysis/analyze-history.js';
import { formatDuration } from '../util/duration.js';
import { interval, percent } from './format.js';
import { quantile } from '../util/stats.js';

export const NODE_VERSION_HEADER = ['upstream Node', 'ran', 'proxy P', 'upstream K', 'close', 'effective close', 'close − K', 'Keep-Alive header', 'failure rate per scenario'];

/** Rows of the comparison; empty when the sweep ran a single, default Node. */
export function nodeVersionRows(cells: readonly CellAnalysis[]): string[][] {
  if (!cells.some((cell) => cell.upstreamNode !== undefined)) return [];
  const groups = new Map<string, CellAnalysis[]>();
  for (const cell of cells) {
    const key = [cell.upstreamNode ?? 'default', cell.proxyTimeoutMs, cell.upstreamTimeoutMs, cell.upstreamClose].join('|');
    groups.set(key, [...(groups.get(key) ?? []), cell]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0]!;
    const close = quantile(group.map((cell) => cell.effectiveCloseMs), 0.5);
    return [
      first.upstreamNode ?? 'default',
      first.upstreamNodeVersion ?? '?',
      formatDuration(first.proxyTimeoutMs),
      formatDuration(first.upstreamTimeoutMs),
      first.upstreamClose,
      `${close.toFixed(1)} ms`,
      `${(close - first.upstreamTimeoutMs).toFixed(1)} ms`,
      first.probe.advertisedKeepAlive ?? 'none',
      group.map((cell) => `${cell.method}/${cell.retry} ${percent(cell.failureRate)} ${interval(cell.failureRateCi95)}`).join('; '),
    ];
  });
}
