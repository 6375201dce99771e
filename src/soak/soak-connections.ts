// What the upstream saw of a soak's requests: the connection each arrived on, whether the proxy
// had used that connection before, and the connection's idle age when the request was written:
// from the upstream's answer before it on that connection (its `response` event) to the client's
// write (the sweep's gap clock). This is the evidence the prediction's model of the pool is
// checked against, where it matters: the reuses that came within a few milliseconds of the close.
import type { HistoryRecord, SoakRequestRecord } from '../history/records.js';

/** The ages (ms, relative to the upstream's close) counted as "near the close". */
export const NEAR_CLOSE_MS: [number, number] = [-3.5, -1.5];

export interface SoakConnections {
  /** Requests that went out on a connection that had answered before, and on a new one. */
  reused: number;
  opened: number;
  /** Requests the upstream never saw (they failed before it, or carried no id it logged). */
  unseen: number;
  /** Idle age at reuse (ms): median, and the reuses whose age came within NEAR_CLOSE_MS of the close. */
  medianAgeMs: number | null;
  nearClose: number;
}

/**
 * Per soak cell (by id). `closeMsOf` gives the cell's effective close. One pass over the history:
 * the upstream's events of a connection are in its order.
 */
export function soakConnections(records: readonly HistoryRecord[], closeMsOf: ReadonlyMap<string, number>): Map<string, SoakConnections> {
  const requests = new Map<string, SoakRequestRecord>();
  for (const record of records) if (record.type === 'soak-request') requests.set(record.id, record);
  const byCell = new Map<string, SoakConnections & { ages: number[] }>();
  for (const cell of closeMsOf.keys()) byCell.set(cell, { reused: 0, opened: 0, unseen: 0, medianAgeMs: null, nearClose: 0, ages: [] });
  const seen = new Set<string>();
  // The last answer on each connection (monotonic ms). Another topology's upstream numbers its
  // connections anew: a connection's opening forgets what its number carried before.
  const lastAnswer = new Map<number, number>();
  for (const record of records) {
    if (record.type !== 'upstream') continue;
    if (record.ev === 'open') lastAnswer.delete(record.conn);
    if (record.ev === 'response') lastAnswer.set(record.conn, record.t);
    if (record.ev !== 'request' || record.trial === undefined) continue;
    const request = requests.get(record.trial);
    const cell = request ? byCell.get(request.cell) : undefined;
    if (!request || !cell) continue;
    seen.add(request.id);
    const answeredAt = lastAnswer.get(record.conn);
    if (answeredAt === undefined) cell.opened++;
    else {
      cell.reused++;
      const age = request.sentAt - answeredAt;
      cell.ages.push(age);
      const close = closeMsOf.get(request.cell)!;
      if (age >= close + NEAR_CLOSE_MS[0] && age < close + NEAR_CLOSE_MS[1]) cell.nearClose++;
    }
  }
  for (const request of requests.values()) {
    const cell = seen.has(request.id) ? undefined : byCell.get(request.cell);
    if (cell) cell.unseen++;
  }
  return new Map([...byCell].map(([id, { ages, ...cell }]) => {
    ages.sort((a, b) => a - b);
    return [id, { ...cell, medianAgeMs: ages.length === 0 ? null : Math.round(ages[Math.floor(ages.length / 2)]! * 1000) / 1000 }];
  }));
}
