// The history: every record a run produces, in the order it happened, as JSON lines.
// Analysis reads nothing else, so a report can always be recomputed from a stored run.
import type { AnchorPath, BoundaryKind, CellSpec, ErrorClass } from '../vocabulary.js';
import type { MachineDescription } from '../util/machine.js';

/**
 * Times in the history (`sentAt`, `endedAt`, `at`, `t`) are milliseconds of CLOCK_MONOTONIC
 * (process.hrtime), which every process on the machine shares; the run record pairs it with
 * the wall clock once, for people.
 */
export interface RunRecord {
  type: 'run';
  startedAt: string;
  /** The monotonic clock (ms) at `startedAt`. */
  monotonicAtStart: number;
  runtime: string;
  proxy: string;
  /** The keepalive-lab version that measured (absent before 0.1.0's shards). */
  harness?: string;
  /** The machine it ran on (absent in older runs). */
  machine?: MachineDescription;
  versions: Record<string, string>;
  settings: Record<string, unknown>;
  /** In a merge of shards: the shard whose records follow (see MergeRecord). */
  shard?: number;
}

export interface ProbeSummary {
  samples: number;
  medianCloseMs: number;
  p5CloseMs: number;
  p95CloseMs: number;
  closedBy: Record<string, number>;
  advertisedKeepAlive: string | null;
}

export interface CellRecord extends CellSpec {
  type: 'cell';
  /** Prefix of this cell's trial ids (and of its priming requests' ids). */
  trialPrefix: string;
  effectiveCloseMs: number;
  probe: ProbeSummary;
  /** The upstream's own median idle time at close for the probe's connections (its clock), when
   *  it reports events: the cross-check of the client-side probe. */
  upstreamIdleCloseMs?: number;
  /** Probes run: a probe whose median disagrees with the upstream's own record is repeated. */
  probeAttempts?: number;
  boundaries: { kind: BoundaryKind; atMs: number }[];
  lanes: number;
  /** Each trial aimed evenly within this much gap around its offset (absent: at the offset). */
  stratumMs?: number;
  /** The randomized blocks the cell's trials are dealt into (absent: one run of lanes). */
  blocks?: number;
  /** The Node version the upstream reported when it started (e.g. v22.23.3). */
  upstreamNodeVersion?: string;
  /** A shard's copy of the reference cell (`--reference-cell`): the id of the cell it copies. */
  referenceOf?: string;
  /** In a merge: the shard that measured it (every record of a merge carries its shard). */
  shard?: number;
  /** A soak's cell: the mean arrivals per second it was sent. */
  soakRate?: number;
}

export interface TrialRecord {
  type: 'trial';
  cell: string;
  id: string;
  lane: number;
  method: string;
  boundary: BoundaryKind;
  /** The offset (the centre of the stratum of gap) the trial was planned at, relative to the boundary. */
  intendedOffsetMs: number;
  /** The point within the stratum the scheduler aimed at (drawn evenly); absent in runs made
   *  before strata, which aimed at the offset itself. */
  aimOffsetMs?: number;
  /** The sweep's randomized block the trial was fired in (0-based; absent before blocks). */
  block?: number;
  /**
   * The connection's idle gap: from when the previous answer left the upstream (its
   * x-keepalive-lab-sent-ns header) to this request's write, both on hrtime. With an upstream
   * that sends no such header, from when the client received the previous answer instead,
   * which reads the gap short by the proxy's and the client's delay in passing it on.
   */
  gapMs: number;
  /** gapMs minus the boundary's time: what analysis bins by. */
  gapOffsetMs: number;
  /** Where the gap starts: `upstream` (the upstream's send stamp) or `client` (the receipt). */
  gapClock: 'upstream' | 'client';
  /**
   * The gap from the client's receipt of the previous answer: close to the proxy's own idle
   * clock, which starts when the answer reaches it (later than the upstream's by any delay
   * on the way back, e.g. a downstream latency fault).
   */
  receiptGapMs: number;
  status: number | null;
  errorClass: ErrorClass;
  latencyMs: number;
  /** Monotonic ms of the request write and of the end of the answer (or error). */
  sentAt: number;
  endedAt: number;
  /** In a merge: the shard that measured it (its times are on that machine's clock). */
  shard?: number;
  /** Whether the client reused an idle socket (Node's http.Agent says; other clients do not). */
  reusedSocket?: boolean;
  /**
   * The gate's connection tap (between the proxy and the user's upstream): the upstream
   * connection the request's first attempt went out on, whether that connection had carried a
   * request before (false: the proxy opened it for this request), and how many attempts the
   * proxy made. Absent where no tap ran, or the request never reached the upstream.
   */
  upstreamConn?: number;
  upstreamReused?: boolean;
  upstreamAttempts?: number;
}

/**
 * Why the proxy logged a trial. nginx names the socket error (`prematurely_closed`,
 * `reset_by_peer`, ...); HAProxy logs only the requests it answered: `server_aborted` (a 5xx with
 * termination state S*, the server closed before its headers) and `retried` (answered after
 * `retries` attempts; HAProxy does not say why it retried).
 */
export type ProxyLogReason = 'prematurely_closed' | 'reset_by_peer' | 'broken_pipe' | 'refused' | 'timed_out' | 'server_aborted' | 'retried' | 'other';

export interface ProxyLogRecord {
  type: 'proxy-log';
  /** Monotonic ms when the harness read the line (nginx's own timestamps have whole seconds). */
  at: number;
  level: string;
  reason: ProxyLogReason;
  trial: string | null;
  message: string;
}

export interface UpstreamEventRecord {
  type: 'upstream';
  t: number;
  ev: 'open' | 'request' | 'response' | 'close';
  conn: number;
  trial?: string;
  by?: string;
  idleMs?: number | null;
  /** `open`: the opener's port (the proxy's end of the connection), which names it in a capture. */
  peer?: number;
}

export interface CellEndRecord {
  type: 'cell-end';
  cell: string;
  completed: boolean;
  reason?: string;
  /** Seconds of firing (summed over the cell's blocks). */
  seconds: number;
  /** The harness's own load while the cell fired (absent before it was measured). */
  load?: FiringLoad;
}

/**
 * One run of lanes: a unit's share of one block (the cells of one topology that fire together),
 * with the share of its trials that landed off their stratum and what the machine did meanwhile.
 * `replaces`: the disturbed block this one fires again.
 */
export interface BlockRecord {
  type: 'block';
  block: number;
  cells: string[];
  seconds: number;
  trials: number;
  offTarget: number;
  replaces?: number;
  machineBusyShare?: number;
  machineStealShare?: number;
}

/**
 * What the harness's firing cost the topology, measured while the lanes of the cell's topology
 * fired: the proxy's and the upstream's CPU as a share of one core over those seconds (read
 * from /proc where the processes are this machine's; absent where they are not).
 */
export interface FiringLoad {
  lanes: number;
  seconds: number;
  proxyCpuShare?: number;
  upstreamCpuShare?: number;
  /** The whole machine (all cores, this harness included) while firing: the share busy, and the
   *  share the hypervisor took for other guests (steal): load that no setting here controls. */
  machineBusyShare?: number;
  machineStealShare?: number;
}

/** Versions learnt when a topology started (the upstream's Node, the fault layer's server). */
export interface VersionsRecord {
  type: 'versions';
  group: string;
  versions: Record<string, string>;
}

/** A sweep resumed into this history (`sweep --resume DIR`): when, and on what it ran. */
export interface ResumeRecord {
  type: 'resume';
  startedAt: string;
  monotonicAtStart: number;
  versions: Record<string, string>;
  harness?: string;
  machine?: MachineDescription;
}

/** One request of a soak run (Poisson arrivals through a shared pool): no aimed idle gap. */
export interface SoakRequestRecord {
  type: 'soak-request';
  cell: string;
  id: string;
  status: number | null;
  errorClass: ErrorClass;
  latencyMs: number;
  sentAt: number;
  endedAt: number;
}

/** Who listens on a port of a captured topology: what the packets to it are for. */
export type WireRole = 'proxy' | 'tap' | 'fault layer' | 'upstream';

export interface WireListener {
  role: WireRole;
  host: string;
  port: number;
}

/** Where a topology's traffic passes, for a capture: the interface, the clock anchors' way
 *  across it (unset: the loopback), and who listens where. */
export interface WireScope {
  iface: string;
  anchor?: AnchorPath;
  listeners: WireListener[];
}

/**
 * A packet capture of one topology's traffic (`--capture`): tcpdump's ring of files
 * `${file}0`, `${file}1`, ... (relative to the run directory), on `iface`, of the listeners'
 * TCP ports and the clock anchors' UDP port (capture/clock-anchors.ts).
 */
export interface CaptureRecord {
  type: 'capture';
  group: string;
  file: string;
  iface: string;
  listeners: WireListener[];
  anchorPort: number;
  ring: { files: number; fileBytes: number };
  snaplen: number;
  /** In a merge: the shard that captured it (its file then under capture/shard-I/). */
  shard?: number;
}

/** The capture's end: what tcpdump wrote and what the kernel dropped (null: it did not say). */
export interface CaptureEndRecord {
  type: 'capture-end';
  group: string;
  captured: number | null;
  dropped: number | null;
  /** tcpdump's CPU (ms) over the capture's seconds: what capturing took from the machine. */
  cpuMs: number | null;
  seconds: number;
}

/** What one shard of a sweep measured and on what (`shard.json`, analysis/shard-manifest.ts). */
export interface ShardManifest {
  harness: string;
  /** Hash of every setting that changes what is measured (scenario/shards.ts): equal in every shard of one sweep. */
  matrixHash: string;
  shard: { index: number; count: number };
  /** The topologies and cells it measured (its reference copy included). */
  groups: string[];
  cells: string[];
  referenceCell?: string;
  completed: boolean;
  runtime: string;
  machine?: MachineDescription;
  versions: Record<string, string>;
  /** The machine while its blocks fired: seconds of firing, mean busy and stolen shares. */
  load: { seconds: number; blocks: number; machineBusyShare: number | null; machineStealShare: number | null; maxStealShare: number | null };
}

/**
 * A merge of shards (`keepalive-lab merge`): what each shard was, where it was read from, and
 * the shards missing. Every record after it carries `shard`, the shard that wrote it; each
 * shard's own run record follows as a `shard-run`.
 */
export interface MergeRecord {
  type: 'merge';
  mergedAt: string;
  harness: string;
  matrixHash: string;
  count: number;
  shards: (ShardManifest & { from: string })[];
  missing: number[];
}

export type HistoryRecord = RunRecord | ResumeRecord | VersionsRecord | CellRecord | TrialRecord | ProxyLogRecord | UpstreamEventRecord | CellEndRecord | BlockRecord | SoakRequestRecord
  | CaptureRecord | CaptureEndRecord | MergeRecord;
