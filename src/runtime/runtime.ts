// The runtime-neutral interface: a described topology (data) goes in, a started topology
// (addresses, logs, stop) comes out. Suites and the CLI never know which runtime runs them.
import type { ProxyLogRecord, UpstreamEventRecord, WireScope } from '../history/records.js';
import type { Fault } from '../faults/fault.js';
import type { LaneProxySpec } from '../proxy/flavour.js';
import type { UpstreamSpec } from '../upstream/upstream-spec.js';
import type { Endpoint, ProxyName } from '../vocabulary.js';

import type { PinnedCpus } from './cpu-pinning.js';

export interface TopologySpec {
  /**
   * The proxy: a flavour (src/proxy/registry.ts) and its lanes. A pass-through flavour (`none`)
   * starts nothing: clients reach the upstream straight (`proxy` is the upstream's address).
   */
  proxy: LaneProxySpec & { flavour: ProxyName };
  upstream: UpstreamSpec;
  /** Put a Toxiproxy between the proxy and the upstream, with these faults (may be none). */
  faultLayer?: { faults: Fault[] };
  /** The CPUs the proxy and the upstream run on (`--pin`; local processes only). */
  cpus?: PinnedCpus;
  /** Folder to copy the proxy's config and logs into when the topology stops. */
  artifactsDir?: string;
  /** Name for the copied artifacts (several topologies may share a folder). */
  artifactsName?: string;
}

export interface StartedTopology {
  runtime: string;
  /** Where clients send requests through the proxy. */
  proxy: Endpoint;
  /** The upstream itself, reachable without the proxy (for the probe). */
  upstream: Endpoint;
  versions: Record<string, string>;
  /** How long the proxy log and upstream events may lag behind what they record (ms). */
  logLagMs?: number;
  /** The proxy's and the upstream's process ids on this machine, where the runtime knows them
   *  (local processes): their CPU while firing is read from /proc. */
  processIds?: { proxy?: number; upstream?: number };
  /** Where the topology's traffic passes, for a packet capture: the interface to capture on, the
   *  addresses the clock anchors go from and to across it (unset: the loopback), and who
   *  listens where. */
  wire?: WireScope;
  /** Proxy log records read since the last call. */
  drainProxyLog(): ProxyLogRecord[];
  /** Upstream connection events recorded since the last call. */
  drainUpstreamEvents(): UpstreamEventRecord[];
  stop(): Promise<void>;
}

export interface Runtime {
  name: string;
  /** Versions known before anything starts (proxy binary, harness Node). */
  versions: Record<string, string>;
  start(spec: TopologySpec): Promise<StartedTopology>;
  /**
   * Fetches what running the upstream under these Node versions needs (binaries, images), so
   * that a version that cannot be had is a one-line error before anything starts.
   */
  prepareUpstreamNode(requested: readonly string[]): Promise<void>;
}
