// What a gate run found: its verdict, why, and the evidence behind it. The CLI prints it, the
// library resolves with it, and the run directory keeps it (summary.json, the verdict record).
import type { ProxyLogReason } from '../history/records.js';
import type { ProbeResult } from '../probe/probe.js';
import type { GateProxySummary } from '../proxy/gate-flavour.js';
import type { ProxyName } from '../vocabulary.js';
import type { AcceptCapacity } from './accept-capacity.js';
import type { Fix, GateOutcome } from './gate-decision.js';
import type { ProxyIdleClose, ProxyKeptIdle } from './proxy-idle-probe.js';
import type { Look } from './sequential-design.js';
import type { Prediction } from '../predict/prediction.js';

export interface GateResult {
  outcome: GateOutcome;
  /** One line: why. */
  reason: string;
  proxy: GateProxySummary & { flavour: ProxyName;
    /** The proxy's idle close of upstream connections as measured (when it is at most --max-idle-wait), or null. */
    keepaliveTimeoutMeasured: ProxyIdleClose | ProxyKeptIdle | null;
    /** Copies of the prepared config that fired side by side (each its own process and pool). */
    copies: number };
  upstream: { label: string; probe: Omit<ProbeResult, 'closeTimesMs'> | null; closesIdle: boolean;
    /** How many new connections it answered at once without a held-up connect (null with --burst). */
    acceptCapacity: AcceptCapacity | null };
  decisive: { boundary: 'upstream' | 'proxy' | 'order' | 'none'; atMs: number | null; gapsMs: number[] };
  faults: string[];
  trials: number;
  failures: number;
  status502: number;
  errorClasses: Record<string, number>;
  /**
   * Upstream attempts that raced and that the proxy retried, so that the client saw no failure
   * (the proxy's log of failed attempts on reused connections, less the client's own 502s).
   */
  maskedAttempts: number;
  /**
   * What the connection tap saw of the trials' first attempts: how many reused an idle
   * proxy-to-upstream connection (only those can meet a close), how many went out on one the
   * proxy opened for them, and how many it did not see (null: the requests carry no trial id).
   */
  upstreamConnections: { reused: number; new: number; unseen: number } | null;
  /** Failures the evidence ties to the race (they decide), and the others by cause (they do not). */
  raceFailures: number;
  otherFailures: Record<string, number>;
  /** Why the run failed: failures the client saw, a race the proxy hid, or no decision. */
  failureKind: 'client' | 'masked' | 'undecided' | null;
  failureRate: number;
  /**
   * Exact one-sided bounds on the rate at the deciding look (each at error 1 - confidence;
   * the sequential design keeps the run's own errors within that), over the tally shrunk by the
   * bursts' dispersion when they disagree beyond their counts; and the plain 95% interval.
   */
  decisionInterval: [number, number];
  failureRateCi95: [number, number];
  proxyLog: Partial<Record<ProxyLogReason, number>>;
  /** One error-log message per reason, as nginx wrote it. */
  proxyLogSamples: Partial<Record<ProxyLogReason, string>>;
  maxFailureRate: number;
  confidence: number;
  /** The fewest failure-free trials a pass needs (the sequential design's first look that can pass). */
  trialsNeededToPass: number;
  /** The look that decided (trials, and the failures that pass or fail there), or null; with
   *  how far its bursts disagreed beyond their counts (1: no more than counts explain), which
   *  shrinks the tally the bounds are taken over (gate/burst-dispersion.ts). */
  decidingLook: (Look & { failures: number; burstDispersion: number }) | null;
  fix: Fix | null;
  seconds: number;
  /** The run directory that holds this run (trials.jsonl and the reports), or null. */
  runDir: string | null;
  /** With --traffic: the failures to expect there through the config's pool (keepalive-lab predict). */
  atTraffic?: Prediction;
}
