// What a resumed sweep still has to measure, read from the interrupted run's history alone:
// its settings, what it ran on, which cells completed and how many trials each partial cell
// holds per (boundary, offset). Pure, so the rules are unit-tested without a sweep.
import type { CellRecord, HistoryRecord, RunRecord } from '../history/records.js';
import { parseSweepConfig, type SweepConfig } from '../scenario/sweep-config.js';
import { proxyFlavours } from '../proxy/registry.js';
import { UsageError } from '../util/errors.js';
import { pairKey } from '../workload/boundary-trials.js';
import { HARNESS_VERSION } from '../util/machine.js';

export interface ResumePlan {
  config: SweepConfig;
  runtimeName: string;
  versions: Record<string, string>;
  completedCells: Set<string>;
  /** The first record of each cell measured so far (what it was measured on). */
  cellRecords: Map<string, CellRecord>;
  /** Per partial cell: trials in the history per pairKey(boundary, intended offset). */
  trialsDone: Map<string, Record<string, number>>;
  /** Distinguishes this resume's trial ids from every earlier segment's ("r1", "r2", ...). */
  segment: string;
  /** The keepalive-lab version that started the run (absent in runs made before it was recorded). */
  harness?: string;
}

export function resumePlan(history: readonly HistoryRecord[], dir: string): ResumePlan {
  if (history.some((r) => r.type === 'merge')) throw new UsageError(`--resume ${dir}: a merge of shards is not resumed: resume the shard that stopped in its own directory, then merge again`);
  const run = history.find((r): r is RunRecord => r.type === 'run');
  if (!run) throw new UsageError(`--resume ${dir}: its history has no run record; it is not a sweep's --out directory`);
  // A run directory is data, never a source of programs to run: the binaries the run was given
  // are not taken from it. The resume runs what this invocation names (--nginx-bin, ... beside
  // --resume, else PATH), and assertSameSetup refuses it unless their versions match the run's.
  const programs = new Set(['toxiproxyBin', ...proxyFlavours().flatMap((flavour) => (flavour.binary ? [flavour.binary.setting] : []))]);
  const settings = Object.fromEntries(Object.entries(run.settings).filter(([key]) => !programs.has(key)));
  const config = parseSweepConfig(settings, `--resume ${dir}: the recorded settings`);
  const completedCells = new Set<string>();
  const cellRecords = new Map<string, CellRecord>();
  const trialsDone = new Map<string, Record<string, number>>();
  for (const record of history) {
    if (record.type === 'cell' && !cellRecords.has(record.id)) cellRecords.set(record.id, record);
    else if (record.type === 'cell-end' && record.completed) completedCells.add(record.cell);
    else if (record.type === 'trial') {
      const counts = trialsDone.get(record.cell) ?? {};
      const key = pairKey(record.boundary, record.intendedOffsetMs);
      counts[key] = (counts[key] ?? 0) + 1;
      trialsDone.set(record.cell, counts);
    }
  }
  for (const id of completedCells) trialsDone.delete(id);
  const resumes = history.filter((r) => r.type === 'resume').length;
  return { config, runtimeName: run.runtime, versions: run.versions, completedCells, cellRecords, trialsDone, segment: `r${resumes + 1}`, ...(run.harness ? { harness: run.harness } : {}) };
}

/**
 * A resume must measure on the setup the run started on: the same runtime and the same version
 * of every component both know. Anything else would mix two setups in one cell.
 */
export function assertSameSetup(plan: ResumePlan, runtimeName: string, versions: Record<string, string>, dir: string, harness = HARNESS_VERSION): void {
  if (plan.harness !== undefined && plan.harness !== harness) {
    throw new UsageError(`--resume ${dir}: the run was started by keepalive-lab ${plan.harness}, this is ${harness}: resume it with ${plan.harness}, or start a new run`);
  }
  if (runtimeName !== plan.runtimeName) {
    throw new UsageError(`--resume ${dir}: the run was measured on the ${plan.runtimeName} runtime, this one is ${runtimeName}: resume it on ${plan.runtimeName}, or start a new run`);
  }
  const changed = Object.entries(plan.versions).filter(([name, version]) => name in versions && versions[name] !== version);
  if (changed.length > 0) {
    const list = changed.map(([name, version]) => `${name} ${version} -> ${versions[name]}`).join(', ');
    throw new UsageError(`--resume ${dir}: the setup changed since the run started (${list}): a resumed run must measure on the same setup; start a new run`);
  }
}

/** A partial cell continues only under the upstream Node it started with (a cache or image may have moved on). */
export function assertSameUpstream(plan: ResumePlan, cellId: string, upstreamNodeVersion: string | undefined): void {
  const before = plan.cellRecords.get(cellId)?.upstreamNodeVersion;
  if (before !== undefined && upstreamNodeVersion !== undefined && before !== upstreamNodeVersion) {
    throw new UsageError(`--resume: cell ${cellId} was measured with upstream Node ${before}, this upstream runs ${upstreamNodeVersion}: a resumed cell must not mix two setups; start a new run`);
  }
}
