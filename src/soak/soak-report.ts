// The soak table (terminal and soak.md) and soak.json.
import { formatDuration, markdownTable } from '../report/format.js';
import type { SoakAnalysis, SoakCellAnalysis } from './soak-analysis.js';
import { NEAR_CLOSE_MS } from './soak-connections.js';

const per10k = (value: number) => value.toFixed(value < 10 ? 2 : 1);

export function soakTable(cells: readonly SoakCellAnalysis[]): string {
  const table = markdownTable(
    ['proxy P', 'upstream K', 'close', 'effective close', 'method', 'retry', 'requests', 'rate/s', 'failures', 'per 10,000', '95% CI', '502s', 'no response', 'proxy log', 'upstream idle closes', 'reused', 'near close'],
    cells.map((cell) => [
      formatDuration(cell.proxyTimeoutMs), formatDuration(cell.upstreamTimeoutMs), cell.upstreamClose, `${cell.effectiveCloseMs.toFixed(1)} ms`,
      cell.method, cell.retry, cell.requests, cell.ratePerSecond, cell.failures, per10k(cell.perTenThousand),
      `[${per10k(cell.perTenThousandCi95[0])}, ${per10k(cell.perTenThousandCi95[1])}]`, cell.status502, cell.closedWithoutResponse, cell.proxyLogAttempts,
      cell.upstreamIdleCloses, cell.requests === 0 ? '-' : `${((cell.connections.reused / cell.requests) * 100).toFixed(1)}%`, cell.connections.nearClose,
    ]),
  );
  return cells.some((cell) => cell.prediction) ? `${table}\n\n${predictionTable(cells)}` : table;
}

/** Observed beside predicted, per cell a sweep's window predicts. */
export function predictionTable(cells: readonly SoakCellAnalysis[]): string {
  return markdownTable(
    ['cell', 'rate/s', 'observed per 10,000', '95% CI', 'predicted per 10,000', '95% CI', 'z', 'agree', 'near close seen', 'expected', 'z', 'from (W ms)'],
    cells.flatMap((cell) => {
      const p = cell.prediction;
      if (!p) return [];
      return [[cell.id, cell.plannedRatePerSecond, per10k(cell.perTenThousand), `[${per10k(cell.perTenThousandCi95[0])}, ${per10k(cell.perTenThousandCi95[1])}]`,
        per10k(p.perTenThousand), `[${per10k(p.perTenThousandCi95[0])}, ${per10k(p.perTenThousandCi95[1])}]`, p.differenceZ.toFixed(2), p.agrees ? 'yes' : 'no',
        cell.connections.nearClose, p.nearCloseExpected.toFixed(1), p.nearCloseZ === null ? '-' : p.nearCloseZ.toFixed(2), `${p.fromCell} (${p.widthMs.toFixed(3)})`]];
    }),
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
    `Poisson arrivals at ${[soak.rate].flat().join(', ')} requests/s for ${formatDuration(Number(soak.duration))} per cell, through one shared upstream pool`,
    `(keepalive ${String(soak.pool)}), from up to ${String(soak.clientConnections)} client keep-alive connections. "per 10,000" is failures`,
    'per 10,000 requests (Wilson 95% interval), comparable with a load balancer\'s 502 counts; "upstream idle closes" counts the',
    'race\'s opportunities: idle connections the upstream closed while traffic ran. "reused": requests the upstream saw arrive on a',
    `connection that had answered before; "near close": those whose idle age was within ${-NEAR_CLOSE_MS[0]} ms before the close.`,
    ...(analysis.cells.some((cell) => cell.prediction) ? ['', `Predicted: from the window of the same pairing in ${String(soak.windowFrom ?? 'the sweep')}, through the model of predict (z: observed minus predicted over the two's standard error; they agree within ±1.96).`] : []),
    '',
    soakTable(analysis.cells),
    '',
  ].join('\n');
}

export function soakJson(analysis: SoakAnalysis): string {
  return JSON.stringify({ run: analysis.run, cells: analysis.cells }, null, 2);
}
