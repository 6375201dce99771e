// The measured windows of a run directory's history, as the prediction takes them: per cell of a
// sweep (or the gate's one cell), the window at the upstream's close, its curve and W, and how
// long a request held its connection.
import { windowCurve, windowWidths } from '../analysis/window-width.js';
import { isFailure } from '../analysis/bins.js';
import type { CellRecord, HistoryRecord, TrialRecord } from '../history/records.js';
import { quantile } from '../util/stats.js';
import type { MeasuredWindow } from './prediction.js';

/** A run's records: a sweep's, or a gate's with its own setup and verdict records besides. */
export type RunRecords = readonly (HistoryRecord | { type: string })[];

/** What the prediction reads of a gate's setup record (gate/gate-history.ts): where it aimed, and the config's pool. */
interface GateSetupLike {
  type: 'gate-setup';
  decisive: { boundary: string; atMs: number | null };
  proxy: { keepaliveConnections: number | null; keepaliveTimeoutMs?: number };
}

export interface RunWindow extends MeasuredWindow {
  cell: string;
  method: string;
  /** The pairing the window belongs to (null for a gate: the user's own proxy and upstream). */
  proxyTimeoutMs: number | null;
  upstreamTimeoutMs: number | null;
  /** The median answer time of the cell's successful trials (ms), as the client saw it. */
  answerMs: number;
  trials: number;
  /** The pool the run's proxy kept, where the run says (the gate's config). */
  pool: number | null;
  /** Why the cell has no window at the upstream's close (the proxy closes first), or null. */
  noUpstreamClose: string | null;
  /** Trials a second while the cell fired (null: not recorded): the load W was measured under,
   *  which moves it (docs/predict.md). */
  firingRatePerSecond: number | null;
}

export function answerMsOf(trials: readonly TrialRecord[]): number {
  const answered = trials.filter((trial) => !isFailure(trial)).map((trial) => trial.latencyMs);
  return answered.length === 0 ? 1 : Math.round(quantile(answered, 0.5) * 1000) / 1000;
}

export function windowOf(trials: readonly TrialRecord[], stratumMs: number | undefined, closeMs: number): MeasuredWindow {
  const upstream = trials.filter((trial) => trial.boundary === 'upstream');
  const width = windowWidths(upstream, stratumMs).find((entry) => entry.boundary === 'upstream');
  return {
    closeMs,
    curve: windowCurve(upstream, stratumMs, 'upstream').map((stratum) => ({ fromMs: stratum.fromMs, toMs: stratum.toMs, rate: stratum.failures / stratum.trials })),
    widthMs: width?.widthMs ?? 0,
    widthMsCi95: width?.widthMsCi95 ?? [0, 0],
  };
}

const NO_UPSTREAM_CLOSE = 'the proxy closes its idle connections before the upstream does: no reused connection meets the upstream\'s close';

/** Every cell's window (sweeps, soaks' absent: they aim nothing), in the history's order. */
export function runWindows(all: RunRecords): RunWindow[] {
  const setup = all.find((record): record is GateSetupLike => record.type === 'gate-setup');
  const records = all.filter((record): record is HistoryRecord => record.type !== 'gate-setup' && record.type !== 'gate-verdict');
  const trialsOf = new Map<string, TrialRecord[]>();
  const secondsOf = new Map<string, number>();
  for (const record of records) {
    if (record.type === 'cell-end') secondsOf.set(record.cell, (secondsOf.get(record.cell) ?? 0) + record.seconds);
    if (record.type !== 'trial') continue;
    const list = trialsOf.get(record.cell) ?? [];
    list.push(record);
    trialsOf.set(record.cell, list);
  }
  if (setup) {
    // A gate's history holds one cell's trials.
    const trials = [...trialsOf.values()].flat();
    const upstream = setup.decisive.boundary === 'upstream' && setup.decisive.atMs !== null;
    return [{
      cell: trials[0]?.cell ?? 'gate',
      method: trials[0]?.method ?? 'GET',
      proxyTimeoutMs: null,
      upstreamTimeoutMs: null,
      answerMs: answerMsOf(trials),
      trials: trials.length,
      pool: setup.proxy.keepaliveConnections,
      noUpstreamClose: upstream ? null : NO_UPSTREAM_CLOSE,
      firingRatePerSecond: null,
      ...(upstream ? windowOf(trials, undefined, setup.decisive.atMs!) : { closeMs: 0, curve: [], widthMs: 0, widthMsCi95: [0, 0] as [number, number] }),
      ...(typeof setup.proxy.keepaliveTimeoutMs === 'number' ? { proxyCloseMs: setup.proxy.keepaliveTimeoutMs } : {}),
    }];
  }
  const cells: CellRecord[] = [];
  for (const record of records) if (record.type === 'cell' && !cells.some((cell) => cell.id === record.id)) cells.push(record);
  return cells.filter((cell) => trialsOf.has(cell.id)).map((cell) => {
    const trials = trialsOf.get(cell.id)!;
    const close = cell.boundaries.find((boundary) => boundary.kind === 'upstream');
    return {
      cell: cell.id,
      method: cell.method,
      proxyTimeoutMs: cell.proxyTimeoutMs,
      upstreamTimeoutMs: cell.upstreamTimeoutMs,
      answerMs: answerMsOf(trials),
      trials: trials.length,
      pool: null,
      noUpstreamClose: close ? null : NO_UPSTREAM_CLOSE,
      firingRatePerSecond: secondsOf.get(cell.id) ? Math.round(trials.length / secondsOf.get(cell.id)!) : null,
      ...(close ? windowOf(trials, cell.stratumMs, close.atMs) : { closeMs: cell.effectiveCloseMs, curve: [], widthMs: 0, widthMsCi95: [0, 0] as [number, number] }),
      proxyCloseMs: cell.proxyTimeoutMs,
    };
  });
}
