// What a proxy flavour is to the harness: one interface that each flavour under src/proxy/<name>/
// implements, as each toxic implements toxics/toxic.ts. Runtimes, sweeps, the gate and reports
// ask the flavour; none of them knows a flavour by its name (registry.ts lists them).
import type { ProxyLogRecord } from '../history/records.js';
import type { ProxyName, RetryPolicy } from '../vocabulary.js';
import type { GateFlavour } from './gate-flavour.js';

/**
 * The harness's own proxy config for a sweep or a soak: one pool per lane, each routed by the
 * lane's path (lanes.ts), so that a lane's requests meet only its own upstream connection.
 */
export interface LaneProxySpec {
  lanes: number;
  /** P: how long the proxy keeps an idle upstream connection. */
  keepaliveTimeoutMs: number;
  keepaliveRequests: number;
  /** Idle connections kept per lane's pool (a soak's shared pool: its size). */
  keepaliveConnections: number;
  retry: RetryPolicy;
  workerProcesses: number;
}

export interface LaneAddresses {
  /** Where the proxy listens, as `host:port`. */
  listen: string;
  /** Where it sends requests (the upstream, or a fault layer in front of it), as `host:port`. */
  upstream: string;
  /** Its working directory (temp paths, pid, logs), as the proxy process sees it. */
  prefix: string;
}

/** The proxy's program: how it is found, named and asked for its version. */
export interface ProxyBinary {
  /** The program's name on PATH. */
  program: string;
  /** The setting that names another binary (`nginxBin`), its flag and environment variable. */
  setting: string;
  flag: string;
  env: string;
  /** How to install it on Debian/Ubuntu. */
  install: string;
  /** Arguments that make it print its version, and where the version stands in what it prints. */
  versionArgs: string[];
  versionPattern: RegExp;
}

/** How the proxy runs as a process in the foreground, its log on stderr (locally and in a container). */
export interface ProxyProcess {
  /** The config's file name in the working directory (and in the run's artifacts). */
  configFile: string;
  /** The command line after the program, for a config at `confPath` and a working directory. */
  args(confPath: string, prefix: string): string[];
  /** Environment it needs beside the harness's (e.g. a home inside its working directory). */
  env?(prefix: string): Record<string, string>;
  /** Start-up lines that explain a failed start (the rest is chatter). */
  complaint: RegExp;
  renderLanes(spec: LaneProxySpec, addresses: LaneAddresses): string;
  /** One line of its log as a record keyed to a trial, or null for a line that says nothing about one. */
  parseLogLine(line: string, readAt: number): ProxyLogRecord | null;
}

/** The flavour as a container: the image (a default the environment may override) and its readiness. */
export interface ProxyImage {
  variable: string;
  reference: string;
  /** The program inside the image. */
  program: string;
  /** A log line that says it is ready; unset: ready when its listen port answers HTTP. */
  readyLine?: RegExp;
  /** Where its log names its version (the image's tag may not say), as the first group. */
  versionInLog?: RegExp;
}

export interface ProxyFlavour {
  name: ProxyName;
  /** Its name in sentences ("nginx", "HAProxy"). */
  title: string;
  /**
   * No proxy at all (`none`): the clients reach the upstream, or the fault layer in front of it,
   * straight; what is measured is the client's own pool.
   */
  passThrough?: boolean;
  /** The retry policies a sweep may set, each mapped to the flavour's own settings by its render. */
  retryPolicies: readonly RetryPolicy[];
  /** Sweep settings beneath the user's: its default retry policy and the one that changes its race. */
  sweepDefaults: Record<string, unknown>;
  /** Whether the load-balancer profiles (src/scenario/profiles.ts, nginx settings) apply. */
  takesProfiles?: boolean;
  /** The setting that holds idle upstream connections, as its users know it. */
  idleSetting: string;
  /** What its log is, for reports. */
  logTitle: string;
  binary?: ProxyBinary;
  process?: ProxyProcess;
  container?: ProxyImage;
  /** Versions a run records besides the proxy's own (no proxy: the clients'). */
  extraVersions?(): Record<string, string>;
  /**
   * Advice when a pairing fails although the proxy closes idle connections first: what this
   * flavour's own close does to clients (HAProxy's ends the client's connection too).
   */
  unsafeAfterOwnClose?(proxyTimeoutMs: number): string;
  /** What the gate needs to run a user's config of this flavour; unset: not a gate proxy. */
  gate?: GateFlavour;
}
