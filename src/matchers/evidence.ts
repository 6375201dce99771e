// The evidence a failed assertion prints: enough to see why without opening the run.
import type { CellAnalysis } from '../analysis/analyze-history.js';
import { interval, markdownTable, percent, span } from '../report/format.js';
import { loadSentence, widthSentences } from '../report/window-text.js';

export function evidence(cell: CellAnalysis, worstBins = 6): string {
  const classes = Object.entries(cell.errorClasses).map(([name, count]) => `${name} ${count}`).join(', ');
  const reasons = Object.entries(cell.proxyLog.reasons).map(([name, count]) => `${name} ${count}`).join(', ') || 'none';
  const worst = [...cell.bins].sort((a, b) => b.failureRate - a.failureRate || a.gapOffsetMs - b.gapOffsetMs).slice(0, worstBins);
  return [
    `  trials ${cell.trials} (${classes}); failures ${cell.failures}, rate ${percent(cell.failureRate, 3)} 95% CI ${interval(cell.failureRateCi95)}; 502s ${cell.status502}`,
    `  effective close ${cell.effectiveCloseMs} ms (probe p5 ${cell.probe.p5CloseMs}, p95 ${cell.probe.p95CloseMs}${cell.upstreamIdleCloseMs !== undefined ? `; upstream's own record ${cell.upstreamIdleCloseMs} ms` : ''}); boundaries ${cell.boundaries.map((b) => `${b.kind}@${b.atMs}ms`).join(', ')}`,
    ...widthSentences(cell).map((sentence) => `  ${sentence}`),
    ...[loadSentence(cell)].filter((sentence) => sentence !== null).map((sentence) => `  ${sentence}`),
    `  window ${cell.window.map((w) => `${w.boundary}: core ${span(w.coreMs)} any ${span(w.anyMs)}`).join('; ') || 'none'}`,
    `  proxy log: ${cell.proxyLog.attempts} failed attempts (${reasons}); failed trials that reached the upstream: ${cell.failedReachedUpstream}`,
    '  worst bins:',
    markdownTable(['boundary', 'gap offset (ms)', 'trials', 'failures', 'rate'], worst.map((bin) => [bin.boundary, bin.gapOffsetMs, bin.trials, bin.failures, percent(bin.failureRate, 1)]))
      .split('\n').map((line) => `  ${line}`).join('\n'),
  ].join('\n');
}
