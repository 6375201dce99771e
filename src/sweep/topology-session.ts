// One started topology of a run, as the sweep and the soak both use it: the versions it learnt
// go into the history, its proxy log and upstream events are drained into the history every
// 500 ms and after each cell, and it stops only after the last log lines had time to arrive.
// With --capture, its packets are captured from when it is up until it stops.
import { setTimeout as delay } from 'node:timers/promises';
import type { HistorySink } from '../history/history-file.js';
import type { UpstreamEventRecord } from '../history/records.js';
import type { Runtime, StartedTopology, TopologySpec } from '../runtime/runtime.js';
import { startWireCapture, type WireCapture } from '../capture/wire-capture.js';
import type { Ring } from '../capture/tcpdump.js';

/** nginx writes its error line before it answers, but the pipe and the upstream's buffered
 *  event file lag a little: wait this long before the last drain of a cell. */
const LOG_SETTLE_MS = 150;
const DRAIN_EVERY_MS = 500;

export interface TopologySession {
  topology: StartedTopology;
  /** Waits for the logs to catch up, then drains them into the history (after a cell, a probe). */
  settleAndDrain(): Promise<void>;
}

export interface TopologyOptions {
  /** Sees each upstream event as it is drained (the sweep collects the upstream's idle closes with it). */
  onUpstreamEvent?: (record: UpstreamEventRecord) => void;
  /** Capture the topology's packets into this run directory (`--capture`), in this ring. */
  captureInto?: { runDir: string; ring: Ring };
}

/** Starts `spec`, runs `body` with it, and stops it whatever happens. */
export async function withTopology<T>(runtime: Runtime, spec: TopologySpec, groupKey: string, history: HistorySink,
  body: (session: TopologySession) => Promise<T>, options: TopologyOptions = {}): Promise<T> {
  const { onUpstreamEvent, captureInto } = options;
  const topology = await runtime.start(spec);
  // Versions known only once a topology runs (the fault layer's) belong in the history too.
  const extraVersions = Object.entries(topology.versions).filter(([name, version]) => runtime.versions[name] !== version);
  if (extraVersions.length > 0) history.append({ type: 'versions', group: groupKey, versions: Object.fromEntries(extraVersions) });
  const drain = () => {
    for (const record of topology.drainProxyLog()) history.append(record);
    for (const record of topology.drainUpstreamEvents()) {
      history.append(record);
      onUpstreamEvent?.(record);
    }
  };
  const settleAndDrain = async () => {
    await delay(topology.logLagMs ?? LOG_SETTLE_MS);
    drain();
  };
  const capture = captureInto !== undefined ? await startCapture(topology, captureInto, groupKey, history) : null;
  const drainTimer = setInterval(drain, DRAIN_EVERY_MS);
  try {
    return await body({ topology, settleAndDrain });
  } finally {
    clearInterval(drainTimer);
    await settleAndDrain();
    await capture?.stop();
    await topology.stop();
    // What the proxy and the upstream wrote while stopping (their last log lines, the closes of
    // the connections still open) arrives after the drain above: once more, now that they ended.
    drain();
  }
}

/** The capture of a started topology; one that failed to start stops the topology first. */
async function startCapture(topology: StartedTopology, into: { runDir: string; ring: Ring }, groupKey: string, history: HistorySink): Promise<WireCapture> {
  try {
    if (!topology.wire) throw new Error(`--capture: this ${topology.runtime} topology's traffic passes no interface of this machine (a Docker engine in a VM or on another host): capture where the engine runs, or use --runtime local`);
    return await startWireCapture(topology.wire, into.runDir, groupKey, history, into.ring);
  } catch (error) {
    await topology.stop();
    throw error;
  }
}

export interface TopologyToStart extends TopologyOptions {
  spec: TopologySpec;
  key: string;
}

/**
 * Starts every topology (in order), runs `body` with all of them up, and stops them all whatever
 * happens (in reverse order): the sweep fires its cells in interleaved blocks, so every
 * topology of the run is up at once.
 */
export async function withTopologies<T>(runtime: Runtime, topologies: readonly TopologyToStart[], history: HistorySink,
  body: (sessions: TopologySession[]) => Promise<T>): Promise<T> {
  const open = (index: number, sessions: TopologySession[]): Promise<T> => {
    const next = topologies[index];
    if (next === undefined) return body(sessions);
    return withTopology(runtime, next.spec, next.key, history, (session) => open(index + 1, [...sessions, session]), next);
  };
  return open(0, []);
}
