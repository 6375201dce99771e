// summary.json and summary.csv: the contract users' scripts read (keep these field names).
import type { RunAnalysis } from '../analysis/analyze-history.js';
import { faultsLabel } from '../faults/fault.js';
import { shardAgreements } from '../analysis/shard-agreement.js';
import type { RunPrediction } from '../predict/predict-run.js';

const round = (value: number, digits = 6) => Math.round(value * 10 ** digits) / 10 ** digits;

export function summaryJson(analysis: RunAnalysis, traffic: RunPrediction | null = null) {
  return {
    runtime: analysis.run?.runtime ?? 'unknown',
    proxy: analysis.run?.proxy ?? 'unknown',
    versions: analysis.versions,
    startedAt: analysis.run?.startedAt ?? null,
    settings: analysis.run?.settings ?? {},
    // A merge of shards: each shard's manifest (machine, load), the missing ones, and whether
    // the machines agree on the reference cell.
    ...(analysis.merge ? { merge: { count: analysis.merge.count, matrixHash: analysis.merge.matrixHash, partial: analysis.merge.missing.length > 0, missing: analysis.merge.missing,
      shards: analysis.merge.shards, shardAgreement: shardAgreements(analysis.cells) } } : {}),
    // Everything analysis says of a cell, with rates rounded and bins reduced to their counts.
    cells: analysis.cells.map(({ bins, ...cell }) => ({
      ...cell,
      failureRate: round(cell.failureRate),
      rate502: round(cell.rate502),
      failureRateCi95: cell.failureRateCi95.map((v) => round(v)),
      rate502Ci95: cell.rate502Ci95.map((v) => round(v)),
      rateDispersion: round(cell.rateDispersion, 3),
      windowWidth: cell.windowWidth.map((width) => ({ ...width, widthMs: round(width.widthMs), widthMsCi95: width.widthMsCi95.map((v) => round(v)),
        standardErrorMs: round(width.standardErrorMs), dispersion: round(width.dispersion, 3) })),
      bins: bins.map(({ boundary, gapOffsetMs, trials, failures, status502, failedAttempts }) => ({ boundary, gapOffsetMs, trials, failures, status502, failedAttempts })),
    })),
    // At the production traffic the run was given (--traffic): keepalive-lab predict's answer.
    ...(traffic ? { traffic } : {}),
  };
}

const CSV_COLUMNS = ['id', 'proxyTimeoutMs', 'upstreamTimeoutMs', 'upstreamClose', 'effectiveCloseMs', 'method', 'retry', 'path', 'faults',
  'trials', 'ok', 'status502', 'failures', 'failureRate', 'failureRateCi95Low', 'failureRateCi95High', 'rate502',
  'windowCoreFromMs', 'windowCoreToMs', 'proxyLogAttempts', 'failedReachedUpstream', 'completed', 'upstreamNode', 'upstreamNodeVersion', 'closedWithoutResponse', 'client',
  'windowBoundary', 'widthMs', 'widthMsCi95Low', 'widthMsCi95High', 'lanes', 'proxyCpuShare', 'latenessP99Ms', 'shard'] as const;

export function summaryCsv(analysis: RunAnalysis): string {
  const rows = analysis.cells.map((cell) => {
    const core = cell.window.find((w) => w.boundary === 'upstream')?.coreMs ?? null;
    // The widest window of the cell's boundaries (the upstream's where only it was aimed at).
    const width = [...cell.windowWidth].sort((a, b) => b.widthMs - a.widthMs)[0];
    const values: Record<(typeof CSV_COLUMNS)[number], string | number | boolean> = {
      id: cell.id,
      proxyTimeoutMs: cell.proxyTimeoutMs,
      upstreamTimeoutMs: cell.upstreamTimeoutMs,
      upstreamClose: cell.upstreamClose,
      effectiveCloseMs: cell.effectiveCloseMs,
      method: cell.method,
      retry: cell.retry,
      path: cell.path,
      faults: faultsLabel(cell.faults),
      trials: cell.trials,
      ok: cell.ok,
      status502: cell.status502,
      failures: cell.failures,
      failureRate: round(cell.failureRate),
      failureRateCi95Low: round(cell.failureRateCi95[0]),
      failureRateCi95High: round(cell.failureRateCi95[1]),
      rate502: round(cell.rate502),
      windowCoreFromMs: core?.[0] ?? '',
      windowCoreToMs: core?.[1] ?? '',
      proxyLogAttempts: cell.proxyLog.attempts,
      failedReachedUpstream: cell.failedReachedUpstream,
      completed: cell.completed,
      upstreamNode: cell.upstreamNode ?? '',
      upstreamNodeVersion: cell.upstreamNodeVersion ?? '',
      closedWithoutResponse: cell.closedWithoutResponse,
      client: cell.client ?? '',
      windowBoundary: width?.boundary ?? '',
      widthMs: width ? round(width.widthMs) : '',
      widthMsCi95Low: width ? round(width.widthMsCi95[0]) : '',
      widthMsCi95High: width ? round(width.widthMsCi95[1]) : '',
      lanes: cell.load?.lanes ?? '',
      proxyCpuShare: cell.load?.proxyCpuShare ?? '',
      latenessP99Ms: cell.lateness?.p99Ms ?? '',
      shard: cell.shard ?? '',
    };
    return CSV_COLUMNS.map((column) => String(values[column])).join(',');
  });
  return [CSV_COLUMNS.join(','), ...rows].join('\n') + '\n';
}
