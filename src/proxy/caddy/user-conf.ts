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

export function prepareUserCaddyfile(source: string, options: GateConfOptions): PreparedCaddyfile {
  const file = options.sourcePath;
  const flag = '--caddyfile';
  const pool = options.pool;
  if (!pool && !source.includes('{{upstream}}')) {
    throw new UsageError(`${flag} ${file}: no {{upstream}} placeholder: put one where the upstream's address goes (reverse_proxy {{upstream}}), or name the address your reverse_proxy sends to with --caddy-upstream`);
  }
  const listen = `http://127.0.0.1:${options.listenPort}`;
  const text = source.replaceAll('http://{{listen}}', listen).replaceAll('{{listen}}', listen);
  const lines = linesOf(text);
  const output = text.split('\n');
  const hasGlobal = lines.find((line) => line.tokens.length > 0)?.tokens.join(' ') === '{';

  // The reverse_proxy that sends to the upstream: its upstreams (on its line, or `to` lines).
  const sendsThere = (token: string) => token === '{{upstream}}' || (pool !== undefined && (token === pool || token === `http://${pool}`));
  let target: Line | null = null;
  const proxiesTo: string[] = [];
  let inProxy: Line | null = null;
  for (const line of lines) {
    if (inProxy && line.depth <= inProxy.depth) inProxy = null;
    const [directive, ...args] = line.tokens;
    if (directive === 'reverse_proxy') {
      if (line.tokens.at(-1) === '{') inProxy = line;
      proxiesTo.push(...args.filter((arg) => arg !== '{'));
      if (args.some(sendsThere)) target ??= line;
    } else if (inProxy && directive === 'to') {
      proxiesTo.push(...args);
      if (args.some(sendsThere)) target ??= inProxy;
    }
    if (args.some(sendsThere) && (directive === 'reverse_proxy' || (inProxy && directive === 'to'))) {
      output[line.index] = output[line.index]!.split(/(\s+)/).map((part) => (sendsThere(part) ? options.upstreamAddress : part)).join('');
    }
  }
  if (!target) {
    if (pool) throw new UsageError(`--caddy-upstream ${pool}: no reverse_proxy in ${file} sends to that address (${proxiesTo.length > 0 ? `it has: ${[...new Set(proxiesTo)].join(', ')}` : 'it has none'}): name the address as your reverse_proxy writes it`);
    throw new UsageError(`${flag} ${file}: {{upstream}} must stand where a reverse_proxy names its upstream (reverse_proxy {{upstream}})`);
  }

  // The target's own settings: inside its block, at any depth (transport http { keepalive ... }).
  const block: Line[] = [];
  if (target.tokens.at(-1) === '{') {
    for (const line of lines.slice(target.index + 1)) {
      if (line.depth <= target.depth) break;
      block.push(line);
    }
  }
  const setting = (name: string) => block.find((line) => line.tokens[0] === name);
  const keepalive = setting('keepalive');
  let keepaliveTimeoutMs = DEFAULT_KEEPALIVE_MS;
  let noReuseReason: string | undefined;
  if (keepalive?.tokens[1] === 'off') noReuseReason = `${file}:${keepalive.index + 1}: keepalive off: Caddy opens a new upstream connection for every request, so nothing can race`;
  else if (keepalive) {
    try {
      keepaliveTimeoutMs = parseCaddyDuration(keepalive.tokens[1] ?? '');
    } catch (error) {
      throw new UsageError(`${flag} ${file}:${keepalive.index + 1}: ${(error as Error).message}`);
    }
  }
  const idleConns = setting('keepalive_idle_conns_per_host');
  const retries = block.filter((line) => /^lb_(retries|try_duration|retry_match)$/.test(line.tokens[0] ?? '')).map((line) => line.tokens.join(' '));

  // Listeners: every `bind` moves to loopback; the port clients use is the first site's.
  let listenPort = options.listenPort;
  let listenFromConfig = false;
  let listenAt: string | null = null;
  let globalEnd = -1;
  for (const line of lines) {
    if (hasGlobal && globalEnd < 0) {
      if (line.depth === 1 && GLOBAL_OUTSIDE.test(stripComment(output[line.index]!))) output[line.index] = `\t# keepalive-lab: ${output[line.index]!.trim()}`;
      if (line.depth === 1 && line.tokens[0] === '}') globalEnd = line.index;
      continue;
    }
    if (line.tokens[0] === 'bind') output[line.index] = output[line.index]!.replace(/bind\s+.*$/, 'bind 127.0.0.1');
    if (line.depth === 0 && line.tokens.at(-1) === '{' && line.tokens.length > 1 && !listenAt) {
      for (const address of line.tokens.slice(0, -1).map((token) => token.replace(/,$/, ''))) {
        const match = /^(?:(https?):\/\/)?([^:/]*)(?::(\d+))?$/.exec(address);
        if (!match) continue;
        const host = match[2] ?? '';
        if (host !== '' && host !== '127.0.0.1' && host !== 'localhost') {
          throw new UsageError(`${flag} ${file}:${line.index + 1}: the site address ${address} matches requests by their host name, which the gate's requests (Host: 127.0.0.1) do not carry: use a port-only address (:8080) or {{listen}}`);
        }
        if (match[1] === 'https') throw new UsageError(`${flag} ${file}:${line.index + 1}: the gate speaks plain HTTP to the proxy: use http:// or a port-only address, or {{listen}}`);
        if (address === listen) break;
        listenPort = Number(match[3] ?? 80);
        listenFromConfig = true;
        listenAt = `${file}:${line.index + 1}`;
        break;
      }
    }
  }

  // The harness's global options: into the user's global block, or a block of their own.
  const sourceLines: (number | null)[] = output.map((_, i) => i + 1);
  const globals = HARNESS_GLOBALS.map((option) => `\t${option}`);
  if (hasGlobal) {
    const open = lines.find((line) => line.tokens.length > 0)!.index;
    output.splice(open + 1, 0, ...globals);
    sourceLines.splice(open + 1, 0, ...globals.map(() => null));
  } else {
    output.unshift('{', ...globals, '}');
    sourceLines.unshift(...[null, ...globals.map(() => null), null]);
  }
  return {
    text: output.join('\n'),
    listenPort,
    listenFromConfig,
    listenAt,
    includedFiles: [],
    upstreamBlock: pool ?? target.tokens.slice(1).filter((arg) => arg !== '{').join(' '),
    keepaliveTimeoutMs,
    keepaliveTimeoutFromConfig: keepalive !== undefined,
    keepaliveConnections: noReuseReason ? null : idleConns ? Number(idleConns.tokens[1]) : setting('transport') ? GO_DEFAULT_IDLE_CONNS : DEFAULT_IDLE_CONNS,
    proxyNextUpstream: null,
    retrySetting: retries.length > 0 ? retries.join('; ') : null,
    ...(noReuseReason ? { noReuseReason } : {}),
    sourceLines,
  };
}
