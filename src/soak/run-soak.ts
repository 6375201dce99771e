// Soak traffic: instead of requests aimed at the boundary, Poisson arrivals at a given rate for a
// given time, through one shared upstream pool in the proxy (as production traffic uses it), so
// the failure rate comes out per 10,000 requests, comparable with a load balancer's logs. The
// client side is a pool of keep-alive connections to the proxy (client-pool.ts).
import type { HistorySink } from '../history/history-file.js';
import type { SoakRequestRecord } from '../history/records.js';
import { lanePath } from '../proxy/lanes.js';
import type { CellSpec, Endpoint } from '../vocabulary.js';
import { isShuttingDown } from '../util/cleanup.js';
import { seededRandom } from '../util/random.js';
import { monotonicMs } from '../workload/clock.js';
import { serializeRequest } from '../workload/lane-transports.js';
import { ClientPool } from './client-pool.js';
import { poissonGaps } from './poisson.js';

export interface SoakPlan {
  cell: CellSpec;
  trialPrefix: string;
  ratePerSecond: number;
  durationMs: number;
  /** Client connections open at most at once (arrivals beyond wait for one to come back). */
  maxClientConnections: number;
  seed: number;
  responseTimeoutMs?: number;
  onRequest?: (record: SoakRequestRecord) => void;
}

export interface SoakRunOutcome {
  requests: number;
  completed: boolean;
  reason?: string;
}

export async function runSoak(proxy: Endpoint, plan: SoakPlan, history: HistorySink): Promise<SoakRunOutcome> {
  const nextGap = poissonGaps(plan.ratePerSecond, seededRandom(plan.seed));
  const responseTimeoutMs = plan.responseTimeoutMs ?? 10_000;
  const pool = new ClientPool(proxy, plan.maxClientConnections);
  let sequence = 0;
  let stopReason: string | undefined;

  const fire = async (): Promise<void> => {
    const id = `${plan.trialPrefix}.${sequence++}`;
    try {
      const connection = await pool.take();
      const request = serializeRequest({
        method: plan.cell.method,
        path: `${lanePath(0)}?t=${id}`,
        ...(plan.cell.method === 'POST' ? { body: `{"request":"${id}"}` } : {}),
      });
      const result = await connection.send(request, responseTimeoutMs);
      pool.giveBack(connection, result.errorClass === 'ok' && !result.connectionDone);
      if (isShuttingDown()) return;
      const record: SoakRequestRecord = {
        type: 'soak-request',
        cell: plan.cell.id,
        id,
        status: result.status,
        errorClass: result.errorClass,
        latencyMs: Math.round(Number(result.endedAtNs - result.sentAtNs) / 100) / 10_000,
        sentAt: monotonicMs(result.sentAtNs),
        endedAt: monotonicMs(result.endedAtNs),
      };
      history.append(record);
      plan.onRequest?.(record);
    } catch (error) {
      stopReason ??= `the proxy refused a connection: ${(error as Error).message}`;
    }
  };

  // Arrival instants are fixed in advance from the seed; a late timer fires every arrival that
  // is due, so the rate holds even when the event loop lags.
  const startedAt = performance.now();
  let nextAt = startedAt + nextGap();
  const pending = new Set<Promise<void>>();
  const track = (request: Promise<void>) => {
    pending.add(request);
    void request.finally(() => pending.delete(request));
  };
  while (!stopReason && !isShuttingDown()) {
    const now = performance.now();
    if (nextAt - startedAt >= plan.durationMs) break;
    if (nextAt > now) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, nextAt - now - 0.5)));
      continue;
    }
    while (nextAt <= performance.now() && nextAt - startedAt < plan.durationMs) {
      track(fire());
      nextAt += nextGap();
    }
  }
  await Promise.all([...pending]);
  pool.close();
  return stopReason ? { requests: sequence, completed: false, reason: stopReason } : { requests: sequence, completed: true };
}
