// A user's own Caddyfile, made runnable by the harness without changing what it decides: the
// reverse_proxy that sends to the upstream is pointed at the harness's chain, every listener
// moves to 127.0.0.1 (`default_bind`, and each `bind`), and what would reach beyond the run is
// turned off (the admin endpoint, automatic HTTPS and its certificate requests). Lines are
// inserted, so the result carries a map back to the user's line numbers for Caddy's complaints.
// Pure: text in, text out.
import { UsageError } from '../../util/errors.js';
import { stripComment } from '../config-comment.js';
import type { GateConfOptions, PreparedProxyConf } from '../gate-flavour.js';

export interface PreparedCaddyfile extends PreparedProxyConf {
  /** For each line of `text`, the user's line number (1-based), or null for an added line. */
  sourceLines: (number | null)[];
}

/** What the harness's global options say; the user's own of these are commented out. */
const HARNESS_GLOBALS = ['admin off', 'auto_https off', 'default_bind 127.0.0.1'];
const GLOBAL_OUTSIDE = /^\s*(admin|auto_https|default_bind|http_port|https_port|email|acme_\w+|storage|servers)\b/;
/** Caddy's idle upstream limit when its transport sets none (2 min, Caddy's source). */
const DEFAULT_KEEPALIVE_MS = 120_000;
/**
 * Idle connections kept per upstream when `keepalive_idle_conns_per_host` is not set, measured
 * on 2.6.2 (40 requests at once, then idle): 32 with no `transport` block (Caddy's default
 * transport), but 2 with a `transport http { ... }` block (Go's DefaultMaxIdleConnsPerHost).
 */
const DEFAULT_IDLE_CONNS = 32;
const GO_DEFAULT_IDLE_CONNS = 2;

/** A Caddy (Go) duration: 500ms, 2s, 1m30s, 1d; a bare number is seconds. */
export function parseCaddyDuration(value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== value) throw new Error(`"${value}" is not a duration Caddy reads`);
  return parts.reduce((sum, part) => sum + Number(part[1]) * units[part[2]!]!, 0);
}

interface Line {
  index: number;
  tokens: string[];
  /** Brace depth before the line. */
  depth: number;
}

function linesOf(source: string): Line[] {
  let depth = 0;
  return source.split('\n').map((text, index) => {
    const tokens = stripComment(text).trim().split(/\s+/).filter(Boolean);
    const line = { index, tokens, depth };
    for (const token of tokens) {
      if (token.endsWith('{')) depth++;
      if (token === '}') depth--;
    }
    return line;
  });
}

const FLAG = '--caddyfile';

export function prepareUserCaddyfile(source: string, options: GateConfOptions): PreparedCaddyfile {
  const file = options.sourcePath;
  if (!options.pool && !source.includes('{{upstream}}')) {
    throw new UsageError(`${FLAG} ${file}: no {{upstream}} placeholder: put one where the upstream's address goes (reverse_proxy {{upstream}}), or name the address your reverse_proxy sends to with --caddy-upstream`);
  }
  const listen = `http://127.0.0.1:${options.listenPort}`;
  const text = source.replaceAll('http://{{listen}}', listen).replaceAll('{{listen}}', listen);
  const lines = linesOf(text);
  const output = text.split('\n');
  const target = pointAtChain(lines, output, options);
  const settings = targetSettings(lines, target, file);
  const listener = moveListeners(lines, output, file, listen);
  const sourceLines = addHarnessGlobals(lines, output);
  return {
    text: output.join('\n'),
    listenPort: listener?.port ?? options.listenPort,
    listenFromConfig: listener !== null,
    listenAt: listener?.at ?? null,
    includedFiles: [],
    upstreamBlock: options.pool ?? target.tokens.slice(1).filter((arg) => arg !== '{').join(' '),
    ...settings,
    proxyNextUpstream: null,
    sourceLines,
  };
}

/**
 * Finds the reverse_proxy that sends to the upstream (`{{upstream}}`, or the pool's address, on
 * its line or in a `to` line of its block) and points it at the chain, in `output`.
 */
function pointAtChain(lines: readonly Line[], output: string[], options: GateConfOptions): Line {
  const { pool } = options;
  const sendsThere = (token: string) => token === '{{upstream}}' || (pool !== undefined && (token === pool || token === `http://${pool}`));
  let target: Line | null = null;
  const proxiesTo: string[] = [];
  let inProxy: Line | null = null;
  for (const line of lines) {
    if (inProxy && line.depth <= inProxy.depth) inProxy = null;
    const [directive, ...args] = line.tokens;
    const names = directive === 'reverse_proxy' || (inProxy !== null && directive === 'to');
    if (!names) continue;
    proxiesTo.push(...args.filter((arg) => arg !== '{'));
    if (directive === 'reverse_proxy' && line.tokens.at(-1) === '{') inProxy = line;
    if (!args.some(sendsThere)) continue;
    target ??= directive === 'reverse_proxy' ? line : inProxy;
    output[line.index] = output[line.index]!.split(/(\s+)/).map((part) => (sendsThere(part) ? options.upstreamAddress : part)).join('');
  }
  if (target) return target;
  if (pool) throw new UsageError(`--caddy-upstream ${pool}: no reverse_proxy in ${options.sourcePath} sends to that address (${proxiesTo.length > 0 ? `it has: ${[...new Set(proxiesTo)].join(', ')}` : 'it has none'}): name the address as your reverse_proxy writes it`);
  throw new UsageError(`${FLAG} ${options.sourcePath}: {{upstream}} must stand where a reverse_proxy names its upstream (reverse_proxy {{upstream}})`);
}

type TargetSettings = Pick<PreparedProxyConf, 'keepaliveTimeoutMs' | 'keepaliveTimeoutFromConfig' | 'keepaliveConnections' | 'retrySetting' | 'noReuseReason'>;

/** The target's own settings: inside its block, at any depth (transport http { keepalive ... }). */
function targetSettings(lines: readonly Line[], target: Line, file: string): TargetSettings {
  const block: Line[] = [];
  if (target.tokens.at(-1) === '{') {
    for (const line of lines.slice(target.index + 1)) {
      if (line.depth <= target.depth) break;
      block.push(line);
    }
  }
  const setting = (name: string) => block.find((line) => line.tokens[0] === name);
  const keepalive = setting('keepalive');
  const idleConns = setting('keepalive_idle_conns_per_host');
  const retries = block.filter((line) => /^lb_(retries|try_duration|retry_match)$/.test(line.tokens[0] ?? '')).map((line) => line.tokens.join(' '));
  const common = { keepaliveTimeoutFromConfig: keepalive !== undefined, retrySetting: retries.length > 0 ? retries.join('; ') : null };
  if (keepalive?.tokens[1] === 'off') {
    return { ...common, keepaliveTimeoutMs: DEFAULT_KEEPALIVE_MS, keepaliveConnections: null,
      noReuseReason: `${file}:${keepalive.index + 1}: keepalive off: Caddy opens a new upstream connection for every request, so nothing can race` };
  }
  let keepaliveTimeoutMs = DEFAULT_KEEPALIVE_MS;
  try {
    if (keepalive) keepaliveTimeoutMs = parseCaddyDuration(keepalive.tokens[1] ?? '');
  } catch (error) {
    throw new UsageError(`${FLAG} ${file}:${keepalive!.index + 1}: ${(error as Error).message}`);
  }
  const keepaliveConnections = idleConns ? Number(idleConns.tokens[1]) : setting('transport') ? GO_DEFAULT_IDLE_CONNS : DEFAULT_IDLE_CONNS;
  return { ...common, keepaliveTimeoutMs, keepaliveConnections };
}

/**
 * Every `bind` moves to loopback and the user's global options that reach beyond the run are
 * commented out, in `output`. Returns the port clients use when the first site's address names
 * one (null: the {{listen}} placeholder's).
 */
function moveListeners(lines: readonly Line[], output: string[], file: string, listen: string): { port: number; at: string } | null {
  const hasGlobal = firstLine(lines)?.tokens.join(' ') === '{';
  let inGlobal = hasGlobal;
  let listener: { port: number; at: string } | null | undefined;
  for (const line of lines) {
    if (inGlobal) {
      if (line.depth === 1 && GLOBAL_OUTSIDE.test(stripComment(output[line.index]!))) output[line.index] = `\t# keepalive-lab: ${output[line.index]!.trim()}`;
      if (line.depth === 1 && line.tokens[0] === '}') inGlobal = false;
      continue;
    }
    if (line.tokens[0] === 'bind') output[line.index] = output[line.index]!.replace(/bind\s+.*$/, 'bind 127.0.0.1');
    if (listener === undefined && line.depth === 0 && line.tokens.at(-1) === '{' && line.tokens.length > 1) listener = siteListener(line, file, listen);
  }
  return listener ?? null;
}

/** The port a site block's first address listens on; null for the {{listen}} placeholder's. */
function siteListener(line: Line, file: string, listen: string): { port: number; at: string } | null {
  const address = line.tokens[0]!.replace(/,$/, '');
  const at = `${file}:${line.index + 1}`;
  const match = /^(?:(https?):\/\/)?([^:/]*)(?::(\d+))?$/.exec(address);
  if (!match) throw new UsageError(`${FLAG} ${at}: "${address}" is not a site address the gate can listen on: use a port-only address (:8080) or {{listen}}`);
  const host = match[2] ?? '';
  if (host !== '' && host !== '127.0.0.1' && host !== 'localhost') {
    throw new UsageError(`${FLAG} ${at}: the site address ${address} matches requests by their host name, which the gate's requests (Host: 127.0.0.1) do not carry: use a port-only address (:8080) or {{listen}}`);
  }
  if (match[1] === 'https') throw new UsageError(`${FLAG} ${at}: the gate speaks plain HTTP to the proxy: use http:// or a port-only address, or {{listen}}`);
  return address === listen ? null : { port: Number(match[3] ?? 80), at };
}

/** The harness's global options, into the user's global block or a block of their own; the map to the user's lines. */
function addHarnessGlobals(lines: readonly Line[], output: string[]): (number | null)[] {
  const sourceLines: (number | null)[] = output.map((_, i) => i + 1);
  const globals = HARNESS_GLOBALS.map((option) => `\t${option}`);
  const first = firstLine(lines);
  if (first?.tokens.join(' ') === '{') {
    output.splice(first.index + 1, 0, ...globals);
    sourceLines.splice(first.index + 1, 0, ...globals.map(() => null));
  } else {
    output.unshift('{', ...globals, '}');
    sourceLines.unshift(null, ...globals.map(() => null), null);
  }
  return sourceLines;
}

function firstLine(lines: readonly Line[]): Line | undefined {
  return lines.find((line) => line.tokens.length > 0);
}
