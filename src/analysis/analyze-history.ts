// Analysis: pure functions from a history to per-cell figures. Nothing here touches a socket
// or a clock, so every number in a report can be recomputed from trials.jsonl.
import type { CellRecord, FiringLoad, HistoryRecord, MergeRecord, ProbeSummary, ProxyLogReason, RunRecord, TrialRecord } from '../history/records.js';
import type { ErrorClass } from '../vocabulary.js';
import type { Fault } from '../faults/fault.js';
import type { ClientKind, CloseMode, Method, RetryPolicy } from '../vocabulary.js';
import { overdispersion, quantile, wilsonInterval } from '../util/stats.js';
import { windowWidths, type WindowWidth } from './window-width.js';
import { isOffTarget } from './disturbance.js';
import { MAX_STRATUM_MS } from '../scenario/strata.js';
import { runVersions } from '../history/run-versions.js';
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
  /** A shard's copy of the reference cell (`--reference-cell`): the cell it copies. */
  referenceOf?: string;
  /** In a merge of shards: the shard that measured it. */
  shard?: number;
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
  /** Failures per aimed request: depends on the offsets (more far offsets, a lower rate). W does not. */
  failureRate: number;
  rate502: number;
  /** Wilson's interval, with the trials divided by `rateDispersion`: it covers the spread between blocks. */
  failureRateCi95: [number, number];
  /** Between-block spread of the failure rate over what its counts predict (at least 1). */
  rateDispersion: number;
  /** The window's width W per boundary (ms of certain failure), with its interval. */
  windowWidth: WindowWidth[];
  /** Measured gap minus the aimed gap (ms): how well the workload hit its aims under its own load. */
  lateness: Lateness | null;
  /** The harness's load while the cell fired (lanes, the proxy's and the upstream's CPU). */
  load?: FiringLoad;
  rate502Ci95: [number, number];
  errorClasses: Partial<Record<ErrorClass, number>>;
  bins: GapBin[];
  window: WindowEdges[];
  /** Failed upstream attempts in the proxy's error log for this cell's trials, by reason; and
   *  how many of its untimed priming requests the log shows failing (not trials, not counted). */
  proxyLog: { attempts: number; reasons: Partial<Record<ProxyLogReason, number>>; primeAttempts?: number };
  /** Of the failed trials, how many the upstream saw arrive (it logs every request's trial id). */
  failedReachedUpstream: number;
}

export interface Lateness {
  p1Ms: number;
  p50Ms: number;
  p99Ms: number;
  /** Share of trials that landed more than half a stratum (or 0.25 ms) from their aim. */
  offTarget: number;
}

export interface RunAnalysis {
  run: RunRecord | null;
  /** The run's versions with those learnt as topologies started (e.g. `toxiproxy`). */
  versions: Record<string, string>;
  cells: CellAnalysis[];
  /** A merge of shards: its shards and the missing ones (null for a run of one machine). */
  merge: MergeRecord | null;
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
  const loadOf = new Map<string, FiringLoad>();
  const primeFailuresByCell = new Map<string, number>();
  const trialsSeenUpstream = new Set<string>();
  const trialsInProxyLog = new Set<string>();
  const logByCell = new Map<string, { attempts: number; reasons: Partial<Record<ProxyLogReason, number>> }>();
  for (const record of records) {
    if (record.type === 'trial') trialsByCell.get(record.cell)?.push(record);
    else if (record.type === 'cell-end') {
      if (record.completed) completedCells.add(record.cell);
      if (record.load) loadOf.set(record.cell, record.load);
    }
    else if (record.type === 'upstream' && record.ev === 'request' && record.trial) trialsSeenUpstream.add(record.trial);
    else if (record.type === 'proxy-log' && record.trial) {
      trialsInProxyLog.add(record.trial);
      const prefix = record.trial.slice(0, record.trial.indexOf('.'));
      // A priming request (id PREFIX.p...) is not a trial: each block's lanes warm up on
      // connections of any age, and one may meet the close untimed. Counted apart.
      if (record.trial.startsWith(`${prefix}.p`)) {
        const cellId = cellOfPrefix.get(prefix);
        if (cellId !== undefined) primeFailuresByCell.set(cellId, (primeFailuresByCell.get(cellId) ?? 0) + 1);
        continue;
      }
      const cellId = cellOfPrefix.get(prefix);
      if (cellId === undefined) continue;
      let entry = logByCell.get(cellId);
      if (!entry) logByCell.set(cellId, (entry = { attempts: 0, reasons: {} }));
      entry.attempts++;
      entry.reasons[record.reason] = (entry.reasons[record.reason] ?? 0) + 1;
    }
  }
  const run = records.find((r): r is RunRecord => r.type === 'run') ?? null;
  const versions = runVersions(records, run?.versions);
  return {
    run,
    versions,
    merge: records.find((r): r is MergeRecord => r.type === 'merge') ?? null,
    cells: cells.map((cell) => analyzeCell(cell, trialsByCell.get(cell.id) ?? [], {
      completed: completedCells.has(cell.id),
      ...(loadOf.has(cell.id) ? { load: loadOf.get(cell.id)! } : {}),
      proxyLog: { ...(logByCell.get(cell.id) ?? { attempts: 0, reasons: {} }), primeAttempts: primeFailuresByCell.get(cell.id) ?? 0 },
      trialsSeenUpstream,
      trialsInProxyLog,
      confidence,
    })),
  };
}

interface CellContext {
  completed: boolean;
  load?: FiringLoad;
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
  const { type: _type, trialPrefix: _trialPrefix, lanes: _lanes, stratumMs, blocks: _blocks, ...description } = cell;
  const rateDispersion = blockDispersion(trials, failures);
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
    failureRateCi95: wilsonInterval(failures / rateDispersion, n / rateDispersion, context.confidence),
    rateDispersion,
    windowWidth: windowWidths(trials, stratumMs, context.confidence),
    lateness: lateness(trials, stratumMs),
    ...(context.load ? { load: context.load } : {}),
    rate502Ci95: wilsonInterval(status502, n, context.confidence),
    errorClasses,
    bins,
    window: windowEdges(bins),
    proxyLog: context.proxyLog,
    failedReachedUpstream,
  };
}

/** Over-dispersion of the failure rate between the trials' blocks (1 for a run without blocks). */
function blockDispersion(trials: readonly TrialRecord[], failures: number): number {
  if (trials.length === 0) return 1;
  const pooled = failures / trials.length;
  const byBlock = new Map<number, [number, number]>();
  for (const trial of trials) {
    const [n, f] = byBlock.get(trial.block ?? 0) ?? [0, 0];
    byBlock.set(trial.block ?? 0, [n + 1, f + (isFailure(trial) ? 1 : 0)]);
  }
  return overdispersion([...byBlock.values()].map(([n, f]) => ({ estimate: f / n, variance: (pooled * (1 - pooled)) / n })), pooled);
}

function lateness(trials: readonly TrialRecord[], stratumMs: number | undefined): Lateness | null {
  if (trials.length === 0) return null;
  const late = trials.map((trial) => trial.gapOffsetMs - (trial.aimOffsetMs ?? trial.intendedOffsetMs));
  const round = (value: number) => Math.round(value * 1000) / 1000;
  return {
    p1Ms: round(quantile(late, 0.01)),
    p50Ms: round(quantile(late, 0.5)),
    p99Ms: round(quantile(late, 0.99)),
    offTarget: round(trials.filter((trial) => isOffTarget(trial, stratumMs ?? MAX_STRATUM_MS)).length / trials.length),
  };
}
