// A sweep: for each topology (pairing x close mode x retry policy) start it, probe the
// upstream's effective close, fire each cell's trials at the boundaries, and stream every
// record to the history. Knows nothing of verdicts: that is analysis.
import type { HistorySink } from '../history/history-file.js';
import type { CellRecord, TrialRecord } from '../history/records.js';
import { probeIdleClose, type ProbeResult } from '../probe/probe.js';
import type { Runtime, TopologySpec } from '../runtime/runtime.js';
import { boundariesFor, expandTopologyGroups, type TopologyGroup } from '../scenario/cells.js';
import type { SweepConfig } from '../scenario/sweep-config.js';
import { plannedTrialCount, runBoundaryTrials } from '../workload/boundary-trials.js';
import { assertSameUpstream, type ResumePlan } from './resume-plan.js';
import { monotonicMs } from '../workload/clock.js';
import { quantile } from '../util/stats.js';
import { withTopology, type TopologySession } from './topology-session.js';


export interface SweepHooks {
  /** Called once the plan is known, with the number of trials it will fire. */
  onPlan?: (totalTrials: number) => void;
  onTrial?: (trial: TrialRecord) => void;
  /** Called as a cell starts, with its planned trials and what onPlan estimated for it. */
  onCell?: (cell: CellRecord, plannedTrials: { actual: number; estimated: number }) => void;
  /** Scheduler spin window in ms (see PreciseScheduler). */
  spinMs?: number;
  /** Continue an interrupted run: skip its completed cells, fire only the missing trials. */
  resume?: ResumePlan;
}

export interface SweepOutcome {
  completed: boolean;
  reason?: string;
}

export function topologySpecFor(group: TopologyGroup, config: SweepConfig): TopologySpec {
  return {
    proxy: proxySpecFor(group, config),
    upstream: {
      keepAliveTimeoutMs: group.upstreamTimeoutMs,
      closeMode: group.upstreamClose,
      closeStyle: group.closeStyle,
      responseDelayMs: config.responseDelay,
      bodySize: config.bodySize,
      ...(group.upstreamNode !== undefined ? { node: group.upstreamNode } : {}),
    },
    ...(group.path === 'toxiproxy' ? { faultLayer: { faults: group.faults } } : {}),
    ...(config.out ? { artifactsDir: `${config.out}/logs`, artifactsName: group.key } : {}),
  };
}

/** The proxy's part of a topology: one pool per lane, with the group's idle timeout and retry policy. */
export function proxySpecFor(group: TopologyGroup, config: SweepConfig): TopologySpec['proxy'] {
  return {
    flavour: config.proxy,
    lanes: config.lanes,
    keepaliveTimeoutMs: group.proxyTimeoutMs,
    keepaliveRequests: config.keepaliveRequests,
    keepaliveConnections: 1,
    retry: group.retry,
    workerProcesses: config.workerProcesses,
  };
}

export async function runSweep(config: SweepConfig, runtime: Runtime, history: HistorySink, hooks: SweepHooks = {}): Promise<SweepOutcome> {
  const groups = expandTopologyGroups(config);
  recordStart(config, runtime, history, hooks.resume);
  const plan = sweepPlan(config, hooks.resume);
  hooks.onPlan?.(groups.reduce((sum, group) => sum + group.cells.reduce((n, cell) => n + (plan.completed(cell.id) ? 0 : plan.remaining(group, cell.id)), 0), 0));
  // Cells keep their place in the plan on a resume: the same seed, and ids that say which
  // segment measured them (c3 first, r1c3 after the first resume).
  let cellIndex = 0;
  for (const group of groups) {
    if (group.cells.every((cell) => plan.completed(cell.id))) {
      cellIndex += group.cells.length;
      continue;
    }
    // Idle closes the upstream reports, server side: during the probe they are the probe's.
    let idleCloses: number[] = [];
    const outcome = await withTopology(runtime, topologySpecFor(group, config), group.key, history, async (session) => {
      const probed = await crossCheckedProbe(async () => {
        idleCloses = [];
        const result = await probeIdleClose(session.topology.upstream, {
          samples: config.probeSamples,
          maxWaitMs: Math.max(30_000, 3 * group.upstreamTimeoutMs + 5_000),
        });
        await session.settleAndDrain();
        return { result, upstreamCloses: idleCloses };
      });
      for (const cell of group.cells) {
        const index = cellIndex++;
        if (plan.completed(cell.id)) continue;
        const stopped = await measureCell({ config, hooks, history, plan, group, cell, index, session, probed });
        if (stopped) return stopped;
      }
      return null;
    }, (record) => {
      if (record.ev === 'close' && record.by === 'server-idle' && typeof record.idleMs === 'number') idleCloses.push(record.idleMs);
    });
    if (outcome) return outcome;
  }
  return { completed: true };
}

/** The run's record, or on a resume the record of this segment. */
function recordStart(config: SweepConfig, runtime: Runtime, history: HistorySink, resume: ResumePlan | undefined): void {
  if (resume) {
    history.append({ type: 'resume', startedAt: new Date().toISOString(), monotonicAtStart: monotonicMs(), versions: runtime.versions });
    return;
  }
  history.append({
    type: 'run',
    startedAt: new Date().toISOString(),
    monotonicAtStart: monotonicMs(),
    runtime: runtime.name,
    proxy: config.proxy,
    versions: runtime.versions,
    settings: { ...config },
  });
}

interface SweepPlan {
  completed(cellId: string): boolean;
  /** Trials a cell still needs, estimated before its probe (with K for the effective close). */
  remaining(group: TopologyGroup, cellId: string): number;
}

function sweepPlan(config: SweepConfig, resume: ResumePlan | undefined): SweepPlan {
  const doneIn = (cellId: string) => Object.values(resume?.trialsDone.get(cellId) ?? {}).reduce((sum, n) => sum + (n ?? 0), 0);
  const perBoundary = config.offsets.length * config.trials;
  return {
    completed: (cellId) => resume?.completedCells.has(cellId) ?? false,
    remaining: (group, cellId) => Math.max(0, perBoundary * boundariesFor(config.boundaries, group.proxyTimeoutMs, group.upstreamTimeoutMs).length - doneIn(cellId)),
  };
}

interface CellRun {
  config: SweepConfig;
  hooks: SweepHooks;
  history: HistorySink;
  plan: SweepPlan;
  group: TopologyGroup;
  cell: TopologyGroup['cells'][number];
  /** The cell's place in the plan (its trial ids and its seed). */
  index: number;
  session: TopologySession;
  probed: { probe: ProbeResult; upstreamIdleCloseMs?: number; attempts: number };
}

/** One cell: its record, its trials at its boundaries, its end. A reason when the sweep must stop. */
async function measureCell(run: CellRun): Promise<SweepOutcome | null> {
  const { config, hooks, history, group, cell, session } = run;
  const { topology } = session;
  const resume = hooks.resume;
  const effectiveCloseMs = run.probed.probe.medianCloseMs;
  const { closeTimesMs: _samples, ...probeSummary } = run.probed.probe;
  const trialPrefix = `${resume?.segment ?? ''}c${run.index}`;
  const alreadyDone = resume?.trialsDone.get(cell.id);
  if (resume) assertSameUpstream(resume, cell.id, topology.versions.upstreamNode);
  const boundaries = boundariesFor(config.boundaries, group.proxyTimeoutMs, effectiveCloseMs)
    .map((kind) => ({ kind, atMs: kind === 'upstream' ? effectiveCloseMs : group.proxyTimeoutMs }));
  const upstreamIdleCloseMs = run.probed.upstreamIdleCloseMs;
  const cellRecord: CellRecord = {
    type: 'cell', ...cell, trialPrefix, effectiveCloseMs, probe: probeSummary,
    ...(upstreamIdleCloseMs !== undefined ? { upstreamIdleCloseMs } : {}), probeAttempts: run.probed.attempts, boundaries, lanes: config.lanes,
    ...(topology.versions.upstreamNode ? { upstreamNodeVersion: topology.versions.upstreamNode } : {}) };
  history.append(cellRecord);
  hooks.onCell?.(cellRecord, {
    actual: plannedTrialCount({ boundaries, offsetsMs: config.offsets, trialsPerOffset: config.trials, alreadyDone }),
    estimated: run.plan.remaining(group, cell.id),
  });
  const started = Date.now();
  const outcome = await runBoundaryTrials(topology.proxy, {
    cell,
    trialPrefix,
    boundaries,
    offsetsMs: config.offsets,
    trialsPerOffset: config.trials,
    ...(alreadyDone ? { alreadyDone } : {}),
    lanes: config.lanes,
    // (The seed counts cells from 1, as it always has: a run's trial order stays reproducible.)
    seed: config.seed + run.index + 1,
    maxSeconds: config.maxCellSeconds,
    spinMs: hooks.spinMs,
    onTrial: hooks.onTrial,
    // With no proxy, the client is the thing measured; P is its own idle timeout.
    ...(cell.client !== undefined ? { client: { kind: cell.client, idleTimeoutMs: group.proxyTimeoutMs } } : {}),
  }, history);
  await session.settleAndDrain();
  history.append({ type: 'cell-end', cell: cell.id, completed: outcome.completed, ...(outcome.reason ? { reason: outcome.reason } : {}), seconds: (Date.now() - started) / 1000 });
  // On disk before the next cell: a crash later loses nothing of this one, and a full disk
  // stops the sweep here (one line, exit 1) instead of measuring into nothing.
  await history.flush();
  return !outcome.completed && !outcome.reason?.startsWith('time limit') ? { completed: false, reason: `${cell.id}: ${outcome.reason}` } : null;
}

/** How much later than the upstream's own record the client may see a close (ms): the FIN's
 *  transit and the client's scheduling, ~0.5-1.1 ms on a quiet machine here. */
const PROBE_LAG_TOLERANCE_MS = 2.5;
const PROBE_ATTEMPTS = 3;

/**
 * The client-side probe, checked against the upstream's own idle closes when it reports them.
 * The client sees each close late by its own scheduling, never early, so a busy moment can move
 * the probe's median: once in CI it came out 4.5 ms late while the upstream's closes sat within
 * 1.5 ms, and every trial missed the window. Such a probe is repeated (up to 3 in all).
 */
async function crossCheckedProbe(runProbe: () => Promise<{ result: ProbeResult; upstreamCloses: number[] }>): Promise<{ probe: ProbeResult; upstreamIdleCloseMs?: number; attempts: number }> {
  let last: { probe: ProbeResult; upstreamIdleCloseMs?: number; attempts: number } | null = null;
  for (let attempt = 1; attempt <= PROBE_ATTEMPTS; attempt++) {
    const { result, upstreamCloses } = await runProbe();
    if (upstreamCloses.length < Math.min(10, result.samples)) return { probe: result, attempts: attempt };
    const upstreamIdleCloseMs = Math.round(quantile(upstreamCloses, 0.5) * 1000) / 1000;
    last = { probe: result, upstreamIdleCloseMs, attempts: attempt };
    if (Math.abs(result.medianCloseMs - upstreamIdleCloseMs) <= PROBE_LAG_TOLERANCE_MS) return last;
  }
  return last!;
}
