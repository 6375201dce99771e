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
import { withTopology } from './topology-session.js';


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
  const resume = hooks.resume;
  if (resume) {
    history.append({ type: 'resume', startedAt: new Date().toISOString(), monotonicAtStart: monotonicMs(), versions: runtime.versions });
  } else {
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
  const completed = (cellId: string) => resume?.completedCells.has(cellId) ?? false;
  const doneIn = (cellId: string) => Object.values(resume?.trialsDone.get(cellId) ?? {}).reduce((sum, n) => sum + (n ?? 0), 0);
  // A cell's boundaries are known only after the probe; estimate with K for the effective close.
  const perBoundary = config.offsets.length * config.trials;
  const estimate = (group: TopologyGroup) => perBoundary * boundariesFor(config.boundaries, group.proxyTimeoutMs, group.upstreamTimeoutMs).length;
  hooks.onPlan?.(groups.reduce((sum, group) => sum + group.cells.reduce((n, cell) => n + (completed(cell.id) ? 0 : Math.max(0, estimate(group) - doneIn(cell.id))), 0), 0));
  // Cells keep their place in the plan on a resume: the same seed, and ids that say which
  // segment measured them (c3 first, r1c3 after the first resume).
  let cellIndex = 0;
  for (const group of groups) {
    if (group.cells.every((cell) => completed(cell.id))) {
      cellIndex += group.cells.length;
      continue;
    }
    // Idle closes the upstream reports, server side: during the probe they are the probe's.
    let idleCloses: number[] = [];
    const outcome = await withTopology(runtime, topologySpecFor(group, config), group.key, history, async ({ topology, settleAndDrain }) => {
      const { probe, upstreamIdleCloseMs, attempts } = await crossCheckedProbe(async () => {
        idleCloses = [];
        const result = await probeIdleClose(topology.upstream, {
          samples: config.probeSamples,
          maxWaitMs: Math.max(30_000, 3 * group.upstreamTimeoutMs + 5_000),
        });
        await settleAndDrain();
        return { result, upstreamCloses: idleCloses };
      });
      const effectiveCloseMs = probe.medianCloseMs;
      const { closeTimesMs: _samples, ...probeSummary } = probe;
      for (const cell of group.cells) {
        if (completed(cell.id)) {
          cellIndex++;
          continue;
        }
        const trialPrefix = `${resume?.segment ?? ''}c${cellIndex++}`;
        const alreadyDone = resume?.trialsDone.get(cell.id);
        if (resume) assertSameUpstream(resume, cell.id, topology.versions.upstreamNode);
        const boundaries = boundariesFor(config.boundaries, group.proxyTimeoutMs, effectiveCloseMs)
          .map((kind) => ({ kind, atMs: kind === 'upstream' ? effectiveCloseMs : group.proxyTimeoutMs }));
        const cellRecord: CellRecord = {
          type: 'cell', ...cell, trialPrefix, effectiveCloseMs, probe: probeSummary,
          ...(upstreamIdleCloseMs !== undefined ? { upstreamIdleCloseMs } : {}), probeAttempts: attempts, boundaries, lanes: config.lanes,
          ...(topology.versions.upstreamNode ? { upstreamNodeVersion: topology.versions.upstreamNode } : {}) };
        history.append(cellRecord);
        hooks.onCell?.(cellRecord, {
          actual: plannedTrialCount({ boundaries, offsetsMs: config.offsets, trialsPerOffset: config.trials, alreadyDone }),
          estimated: Math.max(0, estimate(group) - doneIn(cell.id)),
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
          seed: config.seed + cellIndex,
          maxSeconds: config.maxCellSeconds,
          spinMs: hooks.spinMs,
          onTrial: hooks.onTrial,
          // With no proxy, the client is the thing measured; P is its own idle timeout.
          ...(cell.client !== undefined ? { client: { kind: cell.client, idleTimeoutMs: group.proxyTimeoutMs } } : {}),
        }, history);
        await settleAndDrain();
        history.append({ type: 'cell-end', cell: cell.id, completed: outcome.completed, ...(outcome.reason ? { reason: outcome.reason } : {}), seconds: (Date.now() - started) / 1000 });
        // On disk before the next cell: a crash later loses nothing of this one, and a full disk
        // stops the sweep here (one line, exit 1) instead of measuring into nothing.
        await history.flush();
        if (!outcome.completed && !outcome.reason?.startsWith('time limit')) return { completed: false, reason: `${cell.id}: ${outcome.reason}` };
      }
      return null;
    }, (record) => {
      if (record.ev === 'close' && record.by === 'server-idle' && typeof record.idleMs === 'number') idleCloses.push(record.idleMs);
    });
    if (outcome) return outcome;
  }
  return { completed: true };
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
