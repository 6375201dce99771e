// A user's own HAProxy config, made runnable by the harness without changing what it decides:
// the backend's server lines point at the harness's chain, `bind` lines move to 127.0.0.1, and
// what HAProxy would do outside the run (daemon, chroot, pid file, stats socket, syslog) is
// commented out; its log goes to stderr in the harness's format. Lines are inserted, so the
// result carries a map back to the user's line numbers for haproxy -c's complaints.
// Pure: text in, text out.
import { UsageError } from '../../util/errors.js';
import { stripComment } from '../config-comment.js';
import type { PreparedProxyConf } from '../gate-flavour.js';
import { HAPROXY_LOG_FORMAT } from './render.js';

export interface UserHaproxyConfOptions {
  sourcePath: string;
  /** The backend (or listen section) to point at the harness (full configs); unset: `{{upstream}}`. */
  backend?: string;
  upstreamAddress: string;
  listenPort: number;
}

export interface PreparedHaproxyConf extends PreparedProxyConf {
  /** For each line of `text`, the user's line number (1-based), or null for an added line. */
  sourceLines: (number | null)[];
}

const SECTION = /^\s*(global|defaults|frontend|backend|listen|peers|resolvers|userlist|program|http-errors|ring|cache|mailers)(?:\s+(\S+))?(?:\s.*)?$/;
/** Global keywords that act outside the run: a second copy as a daemon, files in system paths. */
const GLOBAL_OUTSIDE = /^\s*(daemon|chroot|pidfile|user|group|uid|gid|stats\s+socket|log\s|log-send-hostname|nbproc|master-worker)/;
/** Per-section log settings the harness replaces with its own (it parses the log). */
const LOG_SETTINGS = /^\s*(log\s|log-format|option\s+(httplog|tcplog|httpslog|dontlognull)|no\s+log)/;

export interface Section {
  kind: string;
  name: string;
  /** Line index of the header and of the section's last line. */
  start: number;
  end: number;
}

export function sectionsOf(lines: readonly string[]): Section[] {
  const sections: Section[] = [];
  for (let i = 0; i < lines.length; i++) {
    // A section starts at a line whose first word is a section keyword (HAProxy ignores indentation).
    const header = SECTION.exec(stripComment(lines[i]!));
    if (!header) continue;
    if (sections.length > 0) sections.at(-1)!.end = i - 1;
    sections.push({ kind: header[1]!, name: header[2] ?? '', start: i, end: lines.length - 1 });
  }
  return sections;
}

/** HAProxy time syntax: a bare number is milliseconds; units us, ms, s, m, h, d. */
export function parseHaproxyTime(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(us|ms|s|m|h|d)?$/.exec(value);
  if (!match) throw new Error(`"${value}" is not an HAProxy time`);
  const units: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  return Number(match[1]) * units[match[2] ?? 'ms']!;
}

export function prepareUserHaproxyConf(source: string, options: UserHaproxyConfOptions): PreparedHaproxyConf {
  const file = options.sourcePath;
  const lines = source.split('\n');
  if (!options.backend && !source.includes('{{upstream}}')) {
    throw new UsageError(`--haproxy-conf ${file}: no {{upstream}} placeholder: put one where the upstream's address goes (server app {{upstream}}), or name the backend with --backend`);
  }
  const sections = sectionsOf(lines);
  const backend = findBackend(sections, lines, options);
  const settings = backendSettings(sections, lines, backend, file);
  // Rewrite in place first (the line count stays), then insert the harness's log lines.
  const listener = rewriteInPlace(sections, lines, backend, options, source.includes('{{listen}}'));
  const { text, sourceLines } = withHarnessLog(sections, lines);
  return {
    text,
    sourceLines,
    listenPort: listener?.port ?? options.listenPort,
    listenFromConfig: listener !== null,
    listenAt: listener?.at ?? null,
    includedFiles: [],
    upstreamBlock: backend.name,
    keepaliveTimeoutMs: settings.keepaliveTimeoutMs,
    keepaliveTimeoutFromConfig: true,
    keepaliveConnections: null,
    proxyNextUpstream: null,
    ...(settings.closes ? { noReuseReason: `backend ${backend.name} has option ${settings.closes}: HAProxy closes the server connection after each response, so none is reused at a close` } : {}),
    retrySetting: settings.retrySetting,
  };
}

/** The backend to point at the chain: named, or the one holding {{upstream}}; and there must be a frontend. */
function findBackend(sections: readonly Section[], lines: readonly string[], options: UserHaproxyConfOptions): Section {
  const file = options.sourcePath;
  const isBackend = (s: Section) => s.kind === 'backend' || s.kind === 'listen';
  const backend = options.backend
    ? sections.find((s) => isBackend(s) && s.name === options.backend)
    : sections.find((s) => isBackend(s) && lines.slice(s.start, s.end + 1).some((line) => line.includes('{{upstream}}')));
  if (!backend) {
    const names = sections.filter(isBackend).map((s) => s.name);
    if (options.backend) throw new UsageError(`--backend ${options.backend}: no backend or listen section of that name in ${file} (${names.length > 0 ? `it has: ${names.join(', ')}` : 'it has none'}): name the backend your frontend uses`);
    throw new UsageError(`--haproxy-conf ${file}: {{upstream}} must stand in a server line of a backend (backend app / server app {{upstream}})`);
  }
  if (!sections.some((s) => s.kind === 'frontend' || s.kind === 'listen')) throw new UsageError(`--haproxy-conf ${file}: no frontend or listen section: the gate needs an HTTP proxy config`);
  return backend;
}

/** The backend's settings as HAProxy reads them: its own, else the frontend's, else the defaults' above it. */
function backendSettings(sections: readonly Section[], lines: readonly string[], backend: Section, file: string): { keepaliveTimeoutMs: number; closes: string | null; retrySetting: string | null } {
  const valueIn = (section: Section | undefined, pattern: RegExp): { value: string; line: number } | null => {
    if (!section) return null;
    for (let i = section.start + 1; i <= section.end; i++) {
      const match = pattern.exec(stripComment(lines[i]!));
      if (match) return { value: match[1]!.trim(), line: i + 1 };
    }
    return null;
  };
  const defaultsAbove = (section: Section) => sections.filter((s) => s.kind === 'defaults' && s.start < section.start).at(-1);
  const frontend = sections.find((s) => s.kind === 'frontend' || s.kind === 'listen');
  const setting = (pattern: RegExp) => valueIn(backend, pattern) ?? (frontend ? valueIn(frontend, pattern) : null) ?? valueIn(defaultsAbove(backend), pattern);
  // HAProxy's idle keep-alive limit: timeout http-keep-alive, else http-request, else client.
  const timeout = setting(/^\s*timeout\s+http-keep-alive\s+(\S+)/) ?? setting(/^\s*timeout\s+http-request\s+(\S+)/) ?? setting(/^\s*timeout\s+client\s+(\S+)/);
  if (!timeout) throw new UsageError(`--haproxy-conf ${file}: no timeout http-keep-alive (nor http-request, nor client) for backend ${backend.name}: HAProxy would keep idle connections forever; set one`);
  let keepaliveTimeoutMs: number;
  try {
    keepaliveTimeoutMs = parseHaproxyTime(timeout.value);
  } catch {
    throw new UsageError(`--haproxy-conf ${file}:${timeout.line}: "${timeout.value}" is not a time HAProxy reads`);
  }
  const retries = setting(/^\s*(retries\s+\S+)/);
  const retryOn = setting(/^\s*(retry-on\s+.+)/);
  return {
    keepaliveTimeoutMs,
    closes: setting(/^\s*option\s+(httpclose|http-server-close)\b/)?.value ?? null,
    retrySetting: [retries?.value, retryOn?.value].filter(Boolean).join('; ') || null,
  };
}

/**
 * The rewrites that keep the line count: placeholders filled, what acts outside the run and the
 * user's logging commented out, the backend's servers pointed at the chain, every bind moved to
 * 127.0.0.1. Returns where clients reach it when a bind of the config says (null: {{listen}}).
 */
function rewriteInPlace(sections: readonly Section[], lines: string[], backend: Section, options: UserHaproxyConfOptions, listenPlaceholder: boolean): { port: number; at: string } | null {
  let listener: { port: number; at: string } | null = null;
  let replacedServer = false;
  const boundPorts = new Set<number>();
  for (const section of sections) {
    for (let i = section.start + 1; i <= section.end; i++) {
      let line = lines[i]!.replaceAll('{{upstream}}', options.upstreamAddress).replaceAll('{{listen}}', `127.0.0.1:${options.listenPort}`);
      const text = stripComment(line);
      if (section.kind === 'global' && GLOBAL_OUTSIDE.test(text)) line = `    # keepalive-lab: ${line.trim()}`;
      else if (section.kind !== 'global' && LOG_SETTINGS.test(text)) line = `    # keepalive-lab: ${line.trim()}`;
      else if (section === backend && options.backend && /^\s*server\s/.test(text)) {
        // Every server of the backend becomes the harness's chain: the first carries it.
        const parsed = /^(\s*)server\s+(\S+)\s+\S+(.*)$/.exec(text);
        line = replacedServer || !parsed ? `    # keepalive-lab: ${line.trim()} (one server: the harness's chain)` : `${parsed[1]}server ${parsed[2]} ${options.upstreamAddress}${parsed[3]}`;
        replacedServer = true;
      } else if (/^\s*bind\s/.test(text)) {
        const where = `${options.sourcePath}:${i + 1}`;
        const bound = loopbackBind(line, text, where, boundPorts);
        line = bound.line;
        if (!listenPlaceholder && !listener && (section.kind === 'frontend' || section.kind === 'listen')) listener = { port: bound.firstPort, at: where };
      }
      lines[i] = line;
    }
  }
  if (!listenPlaceholder && !listener) throw new UsageError(`--haproxy-conf ${options.sourcePath}: no bind line: add one, or use a template with {{listen}}`);
  return listener;
}

/** Every bind of every section, also beside a {{listen}}: nothing may listen off loopback. */
function loopbackBind(line: string, text: string, where: string, boundPorts: Set<number>): { line: string; firstPort: number } {
  const parsed = /^(\s*)bind\s+(\S+)(.*)$/.exec(text)!;
  if (/\b(ssl|quic)\b/.test(parsed[3]!)) throw new UsageError(`--haproxy-conf ${where}: the gate speaks plain HTTP/1.1 to the proxy; this bind has "${parsed[3]!.trim()}": use a template with {{listen}}`);
  // `bind :80,:8080` is two addresses; each becomes 127.0.0.1 with its port. Options such
  // as v4v6 or interface make no sense on 127.0.0.1: the ports alone.
  const ports = parsed[2]!.split(',').map((address) => {
    const port = Number(/:(\d+)$/.exec(address)?.[1] ?? NaN);
    if (!(port > 0 && port < 65536)) throw new UsageError(`--haproxy-conf ${where}: "bind ${address}" is not a TCP port the gate can reach: use a template with {{listen}}`);
    return port;
  });
  const fresh = ports.filter((port) => !boundPorts.has(port));
  for (const port of fresh) boundPorts.add(port);
  return {
    line: fresh.length === 0 ? `    # keepalive-lab: ${line.trim()} (the same port on 127.0.0.1 as above)` : `${parsed[1]}bind ${fresh.map((port) => `127.0.0.1:${port}`).join(',')}`,
    firstPort: ports[0]!,
  };
}

/** The harness's log: to stderr, in its own format, from every section that can log; with the map to the user's lines. */
function withHarnessLog(sections: readonly Section[], lines: readonly string[]): { text: string; sourceLines: (number | null)[] } {
  const out: string[] = [];
  const sourceLines: (number | null)[] = [];
  const add = (line: string, from: number | null) => {
    out.push(line);
    sourceLines.push(from);
  };
  const hasGlobal = sections.some((s) => s.kind === 'global');
  if (!hasGlobal) add('global', null);
  if (!hasGlobal) add('    log stderr format raw local0 info', null);
  lines.forEach((line, i) => {
    add(line, i + 1);
    const section = sections.find((s) => s.start === i);
    if (section?.kind === 'global') add('    log stderr format raw local0 info', null);
    if (section && ['defaults', 'frontend', 'listen'].includes(section.kind)) {
      add('    log global', null);
      add(`    log-format "${HAPROXY_LOG_FORMAT}"`, null);
    }
  });
  return { text: out.join('\n') + '\n', sourceLines };
}
