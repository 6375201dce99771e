// A soak run's numbers per cell: requests, failures per 10,000 with a 95% interval, how they
// failed, and how often the upstream closed an idle connection (the race's opportunities).
import type { CellRecord, HistoryRecord, RunRecord, SoakRequestRecord } from '../history/records.js';
import type { ErrorClass } from '../vocabulary.js';
import { wilsonInterval } from '../util/stats.js';
import { cellId } from '../scenario/cells.js';
import { soakConnections, type SoakConnections } from './soak-connections.js';
import type { PoolShape } from '../predict/prediction.js';

export interface SoakCellAnalysis {
  id: string;
  /** The pairing's cell id (the sweep's for the same pairing; `id` adds the rate when a soak sent several). */
  pairingId: string;
  /** The mean arrivals per second it was sent at. */
  plannedRatePerSecond: number;
  proxyTimeoutMs: number;
  upstreamTimeoutMs: number;
  upstreamClose: CellRecord['upstreamClose'];
  method: string;
  retry: string;
  effectiveCloseMs: number;
  completed: boolean;
  seconds: number;
  requests: number;
  /** Achieved arrivals per second (requests over the cell's time). */
  ratePerSecond: number;
  failures: number;
  perTenThousand: number;
  perTenThousandCi95: [number, number];
  status502: number;
  closedWithoutResponse: number;
  errorClasses: Partial<Record<ErrorClass, number>>;
  /** Requests the proxy logged as failed or retried upstream attempts. */
  proxyLogAttempts: number;
  /** Idle connections the upstream closed during the cell, and connections it accepted. */
  upstreamIdleCloses: number;
  upstreamConnections: number;
  /** The connection each request arrived on, as the upstream saw it, and its idle age at reuse. */
  connections: SoakConnections;
  /** What a sweep of the same pairing predicts (`soak --window-from DIR`). */
  prediction?: SoakPrediction;
}

/** What a sweep of the same pairing predicts for a soak cell (soak-prediction.ts). */
export interface SoakPrediction {
  /** The sweep's cell whose window predicts (the same pairing, method and retry policy). */
  fromCell: string;
  shape: PoolShape;
  widthMs: number;
  widthMsCi95: [number, number];
  perTenThousand: number;
  perTenThousandCi95: [number, number];
  /** The observed rate minus the predicted, over the two's combined standard error: within
   *  ±1.96 they agree at 95%. */
  differenceZ: number;
  agrees: boolean;
  /** Reuses the model expects within NEAR_CLOSE_MS of the close, and how far those the upstream
   *  saw lie from it (in standard deviations of a Poisson count). */
  nearCloseExpected: number;
  nearCloseZ: number | null;
}

export interface SoakAnalysis {
  run: RunRecord | null;
  cells: SoakCellAnalysis[];
}

export function analyzeSoak(records: readonly HistoryRecord[], confidence = 0.95): SoakAnalysis {
  const cells = records.filter((r): r is CellRecord => r.type === 'cell');
  const run = records.find((r): r is RunRecord => r.type === 'run') ?? null;
  const settingsRate = (run?.settings.soak as { rate?: number | number[] } | undefined)?.rate;
  const connections = soakConnections(records, new Map(cells.map((cell) => [cell.id, cell.effectiveCloseMs])));
  const ends = new Map(records.flatMap((r) => (r.type === 'cell-end' ? [[r.cell, r] as const] : [])));
  const requests = new Map<string, SoakRequestRecord[]>(cells.map((cell) => [cell.id, []]));
  for (const record of records) if (record.type === 'soak-request') requests.get(record.cell)?.push(record);
  return {
    run,
    cells: cells.map((cell) => {
      const mine = requests.get(cell.id) ?? [];
      const errorClasses: Partial<Record<ErrorClass, number>> = {};
      for (const request of mine) errorClasses[request.errorClass] = (errorClasses[request.errorClass] ?? 0) + 1;
      const failures = mine.length - (errorClasses.ok ?? 0);
      const [low, high] = wilsonInterval(failures, mine.length, confidence);
      // The cell's time window, on the monotonic clock its requests and the upstream share.
      // (A loop, not Math.min(...): a long soak has more requests than a call has arguments.)
      let from = Infinity;
      let to = -Infinity;
      for (const request of mine) {
        from = Math.min(from, request.sentAt);
        to = Math.max(to, request.endedAt);
      }
      if (mine.length === 0) from = to = 0;
      const ids = new Set(mine.map((r) => r.id));
      const upstreamEvents = records.filter((r) => r.type === 'upstream' && r.t >= from && r.t <= to);
      const end = ends.get(cell.id);
      return {
        id: cell.id,
        pairingId: cellId(cell),
        // Soaks before several rates recorded one rate in their settings, none in the cell.
        plannedRatePerSecond: cell.soakRate ?? (Array.isArray(settingsRate) ? settingsRate[0]! : settingsRate ?? 0),
        proxyTimeoutMs: cell.proxyTimeoutMs,
        upstreamTimeoutMs: cell.upstreamTimeoutMs,
        upstreamClose: cell.upstreamClose,
        method: cell.method,
        retry: cell.retry,
        effectiveCloseMs: cell.effectiveCloseMs,
        completed: end?.completed ?? false,
        seconds: end?.seconds ?? 0,
        requests: mine.length,
        ratePerSecond: to > from ? Math.round((mine.length / ((to - from) / 1000)) * 10) / 10 : 0,
        failures,
        perTenThousand: mine.length === 0 ? 0 : (failures / mine.length) * 10_000,
        perTenThousandCi95: [low * 10_000, high * 10_000],
        status502: errorClasses['502'] ?? 0,
        closedWithoutResponse: (errorClasses.eof ?? 0) + (errorClasses.reset ?? 0),
        errorClasses,
        proxyLogAttempts: records.filter((r) => r.type === 'proxy-log' && r.trial !== null && ids.has(r.trial)).length,
        upstreamIdleCloses: upstreamEvents.filter((r) => r.type === 'upstream' && r.ev === 'close' && r.by === 'server-idle').length,
        upstreamConnections: upstreamEvents.filter((r) => r.type === 'upstream' && r.ev === 'open').length,
        connections: connections.get(cell.id)!,
      };
    }),
  };
}
