// Analysis: pure functions from a history to per-cell figures. Nothing here touches a socket
// or a clock, so every number in a report can be recomputed from trials.jsonl.
import type { CellRecord, HistoryRecord, ProbeSummary, ProxyLogReason, RunRecord, TrialRecord } from '../history/records.js';
import type { ErrorClass } from '../vocabulary.js';
import type { Fault } from '../faults/fault.js';
import type { ClientKind, CloseMode, Method, RetryPolicy } from '../vocabulary.js';
import { wilsonInterval } from '../util/stats.js';
import { binTrials, isFailure, windowEdges, type GapBin, type WindowEdges } from './bins.js';

export interface CellAnalysis {
  id: string;
  proxyTimeoutMs: number;
  upstreamTimeoutMs: number;
  upstreamClose: CloseMode;
  closeStyle: 'fin' | 'rst';
  effectiveCloseMs: number;
  method: Method;
  retry: RetryPolicy;
  faults: Fault[];
  path: 'direct' | 'toxiproxy';
  /** The requested upstream Node version (`--upstream-node`), and the one that ran. */
  upstreamNode?: string;
  upstreamNodeVersion?: string;
  /** With no proxy: the client measured (raw, node-agent, node-agent-timeout, undici). */
  client?: ClientKind;
  probe: ProbeSummary;
  upstreamIdleCloseMs?: number;
  probeAttempts?: number;
  boundaries: CellRecord['boundaries'];
  completed: boolean;
  trials: number;
  ok: number;
  status502: number;
  /** Trials whose connection the proxy closed (or reset) without any status: HAProxy's way of
   *  failing a raced request, where nginx answers 502. Counted in `failures` too. */
  closedWithoutResponse: number;
  /** Every trial that did not get a successful answer: 502s, other 5xx, closes, resets, timeouts. */
  failures: number;
  failureRate: number;
  rate502: number;
  failureRateCi95: [number, number];
  rate502Ci95: [number, number];
  errorClasses: Partial<Record<ErrorClass, number>>;
  bins: GapBin[];
  window: WindowEdges[];
  /** Failed upstream attempts in the proxy's error log for this cell (trials and primes). */
  proxyLog: { attempts: number; reasons: Partial<Record<ProxyLogReason, number>> };
  /** Of the failed trials, how many the upstream saw arrive (it logs every request's trial id). */
  failedReachedUpstream: number;
}

export interface RunAnalysis {
  run: RunRecord | null;
  /** The run's versions with those learnt as topologies started (e.g. `toxiproxy`). */
  versions: Record<string, string>;
  cells: CellAnalysis[];
}

export function analyzeHistory(records: readonly HistoryRecord[], confidence = 0.95): RunAnalysis {
  // A resumed cell has a record per segment that measured it: the first describes the cell
  // (its probe, its effective close), and every segment's trial prefix counts.
  const cells: CellRecord[] = [];
  const cellOfPrefix = new Map<string, string>();
  for (const record of records) {
    if (record.type !== 'cell') continue;
    cellOfPrefix.set(record.trialPrefix, record.id);
    if (!cells.some((cell) => cell.id === record.id)) cells.push(record);
  }
  const trialsByCell = new Map<string, TrialRecord[]>(cells.map((cell) => [cell.id, []]));
  const completedCells = new Set<string>();
  const trialsSeenUpstream = new Set<string>();
  const trialsInProxyLog = new Set<string>();
  const logByCell = new Map<string, { attempts: number; reasons: Partial<Record<ProxyLogReason, number>> }>();
  for (const record of records) {
    if (record.type === 'trial') trialsByCell.get(record.cell)?.push(record);
    else if (record.type === 'cell-end' && record.completed) completedCells.add(record.cell);
    else if (record.type === 'upstream' && record.ev === 'request' && record.trial) trialsSeenUpstream.add(record.trial);
    else if (record.type === 'proxy-log' && record.trial) {
      trialsInProxyLog.add(record.trial);
      const prefix = record.trial.slice(0, record.trial.indexOf('.'));
      const cellId = cellOfPrefix.get(prefix);
      if (cellId === undefined) continue;
      let entry = logByCell.get(cellId);
      if (!entry) logByCell.set(cellId, (entry = { attempts: 0, reasons: {} }));
      entry.attempts++;
      entry.reasons[record.reason] = (entry.reasons[record.reason] ?? 0) + 1;
    }
  }
  const run = records.find((r): r is RunRecord => r.type === 'run') ?? null;
  const versions: Record<string, string> = { ...run?.versions };
  for (const record of records) {
    if (record.type !== 'versions') continue;
    for (const [name, version] of Object.entries(record.versions)) {
      // Several topologies may report different values (e.g. no fault layer in one): list each once.
      const seen = versions[name]?.split(', ') ?? [];
      if (!seen.includes(version)) versions[name] = [...seen, version].join(', ');
    }
  }
  return {
    run,
    versions,
    cells: cells.map((cell) => analyzeCell(cell, trialsByCell.get(cell.id) ?? [], {
      completed: completedCells.has(cell.id),
      proxyLog: logByCell.get(cell.id) ?? { attempts: 0, reasons: {} },
      trialsSeenUpstream,
      trialsInProxyLog,
      confidence,
    })),
  };
}

interface CellContext {
  completed: boolean;
  proxyLog: CellAnalysis['proxyLog'];
  trialsSeenUpstream: ReadonlySet<string>;
  trialsInProxyLog: ReadonlySet<string>;
  confidence: number;
}

export function analyzeCell(cell: CellRecord, trials: readonly TrialRecord[], context: CellContext): CellAnalysis {
  const errorClasses: Partial<Record<ErrorClass, number>> = {};
  let failures = 0;
  let failedReachedUpstream = 0;
  for (const trial of trials) {
    errorClasses[trial.errorClass] = (errorClasses[trial.errorClass] ?? 0) + 1;
    if (isFailure(trial)) {
      failures++;
      if (context.trialsSeenUpstream.has(trial.id)) failedReachedUpstream++;
    }
  }
  const status502 = errorClasses['502'] ?? 0;
  const n = trials.length;
  const bins = binTrials(trials, context.confidence, (trial) => context.trialsInProxyLog.has(trial.id));
  // The cell's own description passes through; only the record's bookkeeping stays behind.
  const { type: _type, trialPrefix: _trialPrefix, lanes: _lanes, ...description } = cell;
  return {
    ...description,
    completed: context.completed,
    trials: n,
    ok: errorClasses.ok ?? 0,
    status502,
    closedWithoutResponse: (errorClasses.eof ?? 0) + (errorClasses.reset ?? 0),
    failures,
    failureRate: n === 0 ? 0 : failures / n,
    rate502: n === 0 ? 0 : status502 / n,
    failureRateCi95: wilsonInterval(failures, n, context.confidence),
    rate502Ci95: wilsonInterval(status502, n, context.confidence),
    errorClasses,
    bins,
    window: windowEdges(bins),
    proxyLog: context.proxyLog,
    failedReachedUpstream,
  };
}
