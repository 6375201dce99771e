// A soak run: for each topology (pairing x retry policy) start it, probe the upstream's
// effective close (for the report), and send each cell's Poisson traffic through one shared
// upstream pool, streaming every request to the history.
import type { HistorySink } from '../history/history-file.js';
import type { CellRecord, SoakRequestRecord } from '../history/records.js';
import { probeIdleClose } from '../probe/probe.js';
import type { Runtime, TopologySpec } from '../runtime/runtime.js';
import { expandTopologyGroups, type TopologyGroup } from '../scenario/cells.js';
import { crossCheckedProbe, topologySpecFor } from '../sweep/run-sweep.js';
import { withTopology } from '../sweep/topology-session.js';
import { ringFor } from '../capture/tcpdump.js';
import { pinHarness, pinnedCpus } from '../runtime/cpu-pinning.js';
import { monotonicMs } from '../workload/clock.js';
import type { CellSpec } from '../vocabulary.js';
import { runSoak } from './run-soak.js';
import type { SoakConfig } from './soak-config.js';

export interface SoakHooks {
  onCell?: (cell: CellRecord) => void;
  onRequest?: (record: SoakRequestRecord) => void;
  /** Capture each topology's packets into this run directory (`--capture`). */
  captureInto?: string;
}

/**
 * The sweep's topology with one shared pool: all requests on lane 0, whose pool keeps
 * `soak.pool` idle connections (where the flavour bounds it: nginx's `keepalive N`).
 */
function soakTopologySpec(group: TopologyGroup, config: SoakConfig): TopologySpec {
  const spec = topologySpecFor(group, config.sweep);
  return { ...spec, proxy: { ...spec.proxy, lanes: 1, keepaliveConnections: config.soak.pool } };
}

export async function runSoakCells(config: SoakConfig, runtime: Runtime, history: HistorySink, hooks: SoakHooks = {}): Promise<{ completed: boolean; reason?: string }> {
  // --pin: the harness moves off the proxy's and the upstream's CPUs while it runs.
  const unpin = config.sweep.pin ? pinHarness(pinnedCpus(config.sweep.pin)) : () => {};
  try {
    return await soakTopologies(config, runtime, history, hooks);
  } finally {
    unpin();
  }
}

async function soakTopologies(config: SoakConfig, runtime: Runtime, history: HistorySink, hooks: SoakHooks): Promise<{ completed: boolean; reason?: string }> {
  history.append({
    type: 'run',
    startedAt: new Date().toISOString(),
    monotonicAtStart: monotonicMs(),
    runtime: runtime.name,
    proxy: config.sweep.proxy,
    versions: runtime.versions,
    settings: { mode: 'soak', ...config.sweep, soak: config.soak },
  });
  let cellIndex = 0;
  for (const group of expandTopologyGroups(config.sweep)) {
    let idleCloses: number[] = [];
    const outcome = await withTopology(runtime, soakTopologySpec(group, config), group.key, history, async ({ topology, settleAndDrain }) => {
      // The sweep's probe, checked against the upstream's own idle closes: the soak's ages at
      // reuse are read against it, and a busy moment can move the client's view of the close.
      const { probe, upstreamIdleCloseMs } = await crossCheckedProbe(group.upstreamClose === 'exact' ? group.upstreamTimeoutMs : undefined, async () => {
        idleCloses = [];
        const result = await probeIdleClose(topology.upstream, { samples: 20, maxWaitMs: Math.max(30_000, 3 * group.upstreamTimeoutMs + 5_000) });
        await settleAndDrain();
        return { result, upstreamCloses: idleCloses };
      });
      const { closeTimesMs: _samples, ...probeSummary } = probe;
      /** One cell's traffic at one rate; its failure to complete ends the run. */
      const soakCell = async (cell: CellSpec, ratePerSecond: number) => {
        const trialPrefix = `s${cellIndex++}`;
        const cellRecord: CellRecord = { type: 'cell', ...cell, trialPrefix, effectiveCloseMs: probe.medianCloseMs, probe: probeSummary, boundaries: [], lanes: 1, soakRate: ratePerSecond,
          ...(upstreamIdleCloseMs !== undefined ? { upstreamIdleCloseMs } : {}) };
        history.append(cellRecord);
        hooks.onCell?.(cellRecord);
        const started = Date.now();
        const outcome = await runSoak(topology.proxy, {
          cell,
          trialPrefix,
          ratePerSecond,
          durationMs: config.soak.duration,
          maxClientConnections: config.soak.clientConnections,
          seed: config.sweep.seed + cellIndex,
          ...(hooks.onRequest ? { onRequest: hooks.onRequest } : {}),
        }, history);
        await settleAndDrain();
        history.append({ type: 'cell-end', cell: cell.id, completed: outcome.completed, ...(outcome.reason ? { reason: outcome.reason } : {}), seconds: (Date.now() - started) / 1000 });
        return outcome.completed ? null : { completed: false, reason: `${cell.id}: ${outcome.reason}` };
      };
      for (const cell of group.cells) {
        for (const ratePerSecond of config.soak.rate) {
          // Several rates: each its own cell, named by its rate.
          const outcome = await soakCell({ ...cell, id: config.soak.rate.length > 1 ? `${cell.id}@${ratePerSecond}/s` : cell.id }, ratePerSecond);
          if (outcome) return outcome;
        }
      }
      return null;
    }, {
      onUpstreamEvent: (record) => {
        if (record.ev === 'close' && record.by === 'server-idle' && typeof record.idleMs === 'number') idleCloses.push(record.idleMs);
      },
      ...(hooks.captureInto !== undefined ? { captureInto: { runDir: hooks.captureInto, ring: ringFor(config.sweep.captureLimit) } } : {}),
    });
    if (outcome) return outcome;
  }
  return { completed: true };
}

/** The pairings' cell ids a soak of this config measures (the sweep's ids for them). */
export function soakPairingIds(config: SoakConfig): string[] {
  return expandTopologyGroups(config.sweep).flatMap((group) => group.cells.map((cell) => cell.id));
}
