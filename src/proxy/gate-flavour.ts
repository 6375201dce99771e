// What the gate needs of a proxy flavour to run a user's own config of it: read the config (or
// render a template for a bare --proxy-timeout), point its pool at the harness's chain, check it
// with the proxy's own checker, and say what the proxy does with a raced request and how to fix
// it, in the flavour's own words. The gate itself (src/gate/) knows no flavour by name.
import type { RetryPolicy } from '../vocabulary.js';
import type { CodeDirective } from './config-code.js';

export interface IncludedFile {
  path: string;
  text: string;
}

/** A rewritten copy of an included file: where it goes, and the user's file it came from. */
export interface IncludedCopy extends IncludedFile {
  source: string;
}

/** A user's config (or the rendered template) made runnable by the harness, with what the gate reads from it. */
export interface PreparedProxyConf {
  text: string;
  /** Where clients reach the proxy. */
  listenPort: number;
  /** True when the port came from the user's own `listen` (it may be in use). */
  listenFromConfig: boolean;
  /** FILE:LINE of the `listen` the port came from, for messages. */
  listenAt: string | null;
  /** Rewritten copies of included files (nginx), to be written where the config's includes now point. */
  includedFiles: IncludedCopy[];
  /** The pool the harness points at its chain (nginx's upstream block, HAProxy's backend). */
  upstreamBlock: string;
  /** The pool's idle timeout as configured (the proxy's default when absent). */
  keepaliveTimeoutMs: number;
  keepaliveTimeoutFromConfig: boolean;
  /** Idle connections the pool keeps (nginx's `keepalive N`), null where it sets no bound or keeps none. */
  keepaliveConnections: number | null;
  /** Set when keepaliveConnections is the proxy's default, not the config's (nginx 1.29.7+ pools unasked). */
  keepaliveFromDefault?: boolean;
  /** nginx's `proxy_next_upstream` values as written (first occurrence), or null (its default, or another proxy). */
  proxyNextUpstream: string | null;
  /** The retry settings as written (nginx: proxy_next_upstream; HAProxy: retries, retry-on), or null for the proxy's own. */
  retrySetting: string | null;
  /** Set when the proxy never reuses an upstream connection: then nothing can race, and why. */
  noReuseReason?: string;
  /** The config's file name where it is not the flavour's own (a Caddyfile, where Caddy's own is JSON). */
  configFile?: string;
}


export interface GateConfOptions {
  /** The user's file (for messages and relative includes), or "(rendered)". */
  sourcePath: string;
  /** The pool to point at the harness (full configs); unset: the `{{upstream}}` placeholder's. */
  pool?: string;
  /** host:port the pool's servers become. */
  upstreamAddress: string;
  /** Port for `{{listen}}` (templates). */
  listenPort: number;
  /** The run's working directory for this copy of the proxy (pid, temp paths, included files). */
  prefix: string;
  /** The proxy binary's version: a proxy's defaults change with it (nginx 1.29.7 pools by default). */
  proxyVersion?: string;
}

/** How the gate's text names the proxy it ran. */
export type GateProxySummary = { label: string; version: string }
  & Pick<PreparedProxyConf, 'upstreamBlock' | 'keepaliveTimeoutMs' | 'keepaliveTimeoutFromConfig' | 'keepaliveConnections' | 'keepaliveFromDefault' | 'proxyNextUpstream' | 'retrySetting'>;

/** What the fix is made of, measured and derived (gate/gate-decision.ts). */
export interface FixParts {
  proxyLabel: string;
  /** The pool the user's config names, or null for the rendered template. */
  upstreamBlock: string | null;
  proxyTimeoutMs: number;
  upstreamCloseMs: number;
  /** The smallest safe Node keepAliveTimeout and headersTimeout (ms). */
  nodeKeepAliveTimeoutMs: number;
  nodeHeadersTimeoutMs: number;
  /** The proxy's idle timeout must stay at or below this (ms); 0: turn keep-alive off. */
  proxyKeepaliveTimeoutBelowMs: number;
}

export interface GateFlavour {
  /** The settings (and their flags) that name the user's config and, in a full config, its pool. */
  confSetting: string;
  confFlag: string;
  poolSetting: string;
  poolFlag: string;
  /** What the pool is called in this proxy's config ("upstream block", "backend"). */
  poolWord: string;
  /** The directive that says where it listens ("listen", "bind"). */
  listenWord: string;
  /** The setting that holds idle upstream connections, as written in its config. */
  idleDirective: string;
  /** The proxy's own config checker, for messages ("nginx -t"). */
  checker: string;
  /** The config the gate renders for a bare --proxy-timeout: a deploy guide's setup, as a template. */
  template(proxyTimeoutMs: number, keepaliveConnections: number, retry: RetryPolicy): string;
  prepare(source: string, options: GateConfOptions): PreparedProxyConf;
  /**
   * Writes the prepared config (and any file it includes) into `prefix` and runs the proxy's
   * checker: its complaint, naming the user's own files and lines, or null when it accepts it.
   */
  check(binary: string, prefix: string, conf: PreparedProxyConf, userPath: string | null): string | null;
  /**
   * The directives of the user's config (and the files it includes) that make the proxy run code
   * (proxy/config-code.ts): refused before the checker runs, unless --allow-config-code.
   */
  codeDirectives(source: string, conf: PreparedProxyConf, userPath: string): CodeDirective[];
  /**
   * What the checked config (after check() wrote it) would listen on off loopback, read with
   * the proxy's own view of it (nginx -T, caddy adapt, HAProxy's sections), naming the user's
   * files: the gate refuses such a config before the proxy starts.
   */
  offLoopbackListens(binary: string, prefix: string, conf: PreparedProxyConf, userPath: string | null): string[];
  /**
   * How a raced request reaches the client: `status`, a 502 with the raced attempt in the log
   * (nginx); `closed`, the client's connection closed without a status and nothing logged (HAProxy).
   */
  raceAnswer: 'status' | 'closed';
  /** Why the gate does not fire at this proxy's own idle close, or null when it does. */
  ownCloseNotFiredBecause: string | null;
  /**
   * Whether idle upstream connections outlive the proxy's idle timeout (HAProxy keeps them in its
   * idle pool after the client's session ends): then the order of the two timeouts protects
   * nothing unless the proxy's closes were measured. The text says what was measured instead.
   */
  poolOutlivesTimeout?: { note: string; undecided(timeoutMs: number, seen: string, upstreamSays: string): string };
  fix(parts: FixParts): string;
  /** The proxy line of the gate's text report. */
  describe(proxy: GateProxySummary): string;
}

/** A measured time: "1.00 s", "6.01 s", "61.0 s". */
export const measuredTime = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
/** A setting: whole seconds when it is one ("61 s"), else milliseconds ("500 ms"). */
export const settingTime = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);
