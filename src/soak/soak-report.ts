// The soak table (terminal and soak.md) and soak.json.
import { formatDuration, markdownTable } from '../report/format.js';
import type { SoakAnalysis, SoakCellAnalysis } from './soak-analysis.js';

const per10k = (value: number) => value.toFixed(value < 10 ? 2 : 1);

export function soakTable(cells: readonly SoakCellAnalysis[]): string {
  return markdownTable(
    ['proxy P', 'upstream K', 'close', 'effective close', 'method', 'retry', 'requests', 'rate/s', 'failures', 'per 10,000', '95% CI', '502s', 'no response', 'proxy log', 'upstream idle closes'],
    cells.map((cell) => [
      formatDuration(cell.proxyTimeoutMs), formatDuration(cell.upstreamTimeoutMs), cell.upstreamClose, `${cell.effectiveCloseMs.toFixed(1)} ms`,
      cell.method, cell.retry, cell.requests, cell.ratePerSecond, cell.failures, per10k(cell.perTenThousand),
      `[${per10k(cell.perTenThousandCi95[0])}, ${per10k(cell.perTenThousandCi95[1])}]`, cell.status502, cell.closedWithoutResponse, cell.proxyLogAttempts,
      cell.upstreamIdleCloses,
    ]),
  );
}

export function soakMarkdown(analysis: SoakAnalysis): string {
  const run = analysis.run;
  const soak = (run?.settings.soak ?? {}) as Record<string, unknown>;
  return [
    '# keepalive-lab soak',
    '',
    `Runtime: ${run?.runtime ?? '?'}; proxy: ${run?.proxy ?? '?'}; versions: ${Object.entries(run?.versions ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}; started ${run?.startedAt ?? '?'}.`,
    '',
    `Poisson arrivals at ${String(soak.rate)} requests/s for ${formatDuration(Number(soak.duration))} per cell, through one shared upstream pool`,
    `(keepalive ${String(soak.pool)}), from up to ${String(soak.clientConnections)} client keep-alive connections. "per 10,000" is failures`,
    'per 10,000 requests (Wilson 95% interval), comparable with a load balancer\'s 502 counts; "upstream idle closes" counts the',
    'race\'s opportunities: idle connections the upstream closed while traffic ran.',
    '',
    soakTable(analysis.cells),
    '',
  ].join('\n');
}

export function soakJson(analysis: SoakAnalysis): string {
  return JSON.stringify({ run: analysis.run, cells: analysis.cells }, null, 2);
}
