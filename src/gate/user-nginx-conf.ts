// A user's own nginx config, made runnable by the harness without changing what it decides:
// the upstream block the proxy uses is pointed at the harness's chain, listeners move to
// 127.0.0.1, and files nginx would write outside its temp prefix (pid, logs, temp dirs) move
// into it. Every rewrite keeps the line count, so nginx's "in FILE:LINE" points at the user's
// own line. Pure: text in, text out.
import path from 'node:path';
import { UsageError } from '../util/errors.js';
import { stripComment } from './config-comment.js';

export interface UserConfOptions {
  /** The user's file, for messages and for resolving relative includes. */
  sourcePath: string;
  /** Name of the upstream block to point at the harness (full configs); unset: `{{upstream}}`. */
  upstreamBlock?: string;
  /** host:port the upstream block's server lines become. */
  upstreamAddress: string;
  /** Port for `{{listen}}` (templates). */
  listenPort: number;
  /** Temp prefix for pid, temp paths. */
  prefix: string;
}

export interface PreparedUserConf {
  text: string;
  /** Where clients reach the proxy. */
  listenPort: number;
  /** True when the port came from the user's own `listen` (it may be in use). */
  listenFromConfig: boolean;
  /** The `listen` line the port came from, for messages. */
  listenLine: number | null;
  upstreamBlock: string;
  /** The upstream block's keepalive_timeout (nginx's default 60 s when absent). */
  keepaliveTimeoutMs: number;
  keepaliveTimeoutFromConfig: boolean;
  /** `keepalive N` of the block: idle connections cached per worker; null: none (no reuse). */
  keepaliveConnections: number | null;
  /** `proxy_next_upstream` values as written (first occurrence), or null for nginx's default. */
  proxyNextUpstream: string | null;
  /** The retry settings as written (nginx: proxy_next_upstream; HAProxy: retries, retry-on), or null for the proxy's own. */
  retrySetting: string | null;
  /** Set when the proxy never reuses an upstream connection: then nothing can race, and why. */
  noReuseReason?: string;
}

const TEMP_PATHS = ['client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path'];

export function prepareUserNginxConf(source: string, options: UserConfOptions): PreparedUserConf {
  const file = options.sourcePath;
  const lines = source.split('\n');
  // Without {{listen}}, clients go where the user's own listen says (it may be in use).
  const listenPlaceholder = source.includes('{{listen}}');
  if (!options.upstreamBlock && !source.includes('{{upstream}}')) {
    throw new UsageError(`--nginx-conf ${file}: no {{upstream}} placeholder: put one where the upstream's address goes, or name the upstream block with --upstream-block`);
  }

  // Find the upstream block: named, or the one holding {{upstream}}.
  const blocks = findUpstreamBlocks(lines);
  const block = options.upstreamBlock
    ? blocks.find((b) => b.name === options.upstreamBlock)
    : blocks.find((b) => lines.slice(b.start, b.end + 1).some((line) => line.includes('{{upstream}}')));
  if (!block) {
    if (options.upstreamBlock) {
      throw new UsageError(`--upstream-block ${options.upstreamBlock}: no upstream block of that name in ${file} (${blocks.length > 0 ? `it has: ${blocks.map((b) => b.name).join(', ')}` : 'it has none'}): name the block your proxy_pass uses`);
    }
    throw new UsageError(`--nginx-conf ${file}: {{upstream}} must stand in a server line of an upstream block (upstream NAME { server {{upstream}}; keepalive 32; })`);
  }

  let keepaliveTimeoutMs = 60_000;
  let keepaliveTimeoutFromConfig = false;
  let keepaliveConnections: number | null = null;
  let replacedServer = false;
  for (let i = block.start; i <= block.end; i++) {
    // Only what lies inside the block's braces (a block may open and close on one line).
    const line = lines[i]!;
    const from = i === block.start ? line.indexOf('{') + 1 : 0;
    const to = i === block.end ? closingBrace(line, i === block.start ? from : 0) : line.length;
    const inside = line.slice(from, to);
    let rewritten = inside;
    for (const { name, value, text } of statements(stripComment(inside))) {
      if (name === 'keepalive_timeout') {
        try {
          keepaliveTimeoutMs = parseNginxTime(value);
        } catch {
          throw new UsageError(`--nginx-conf ${file}:${i + 1}: keepalive_timeout "${value}" is not a time nginx reads here`);
        }
        keepaliveTimeoutFromConfig = true;
      } else if (name === 'keepalive') {
        keepaliveConnections = Number(value);
      } else if (name === 'server' && options.upstreamBlock) {
        // Every server of the block becomes the harness's chain: the first carries it, the
        // rest go (as comments when alone on their line), so that line numbers stay.
        rewritten = rewritten.replace(text, replacedServer ? '' : `server ${options.upstreamAddress};`);
        replacedServer = true;
      }
    }
    if (rewritten !== inside) {
      lines[i] = rewritten.trim() === '' ? `    # keepalive-lab: server line replaced` : line.slice(0, from) + rewritten + line.slice(to);
    }
  }

  let listenPort = options.listenPort;
  let listenFromConfig = false;
  let listenLine: number | null = null;
  let proxyNextUpstream: string | null = null;
  let depth = 0;
  const httpLine = lines.findIndex((line) => /^\s*http\s*\{/.test(stripComment(line)));
  const presentTempPaths = new Set<string>();
  // Listens already moved to 127.0.0.1 in the current server block: `listen 80; listen [::]:80;`
  // would become the same address twice, which nginx refuses.
  let serverListens = new Set<number>();
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.replaceAll('{{upstream}}', options.upstreamAddress).replaceAll('{{listen}}', `127.0.0.1:${options.listenPort}`);
    const text = stripComment(line).trim();
    const name = /^(\w+)/.exec(text)?.[1];
    // proxy_next_upstream may share a line with other directives (location / { ...; }).
    const nextUpstream = statements(stripComment(line)).find((statement) => statement.name === 'proxy_next_upstream');
    if (nextUpstream && proxyNextUpstream === null) proxyNextUpstream = nextUpstream.value;
    if (name === 'server' && text.includes('{')) serverListens = new Set();
    if (depth === 0 && name && ['pid', 'daemon', 'error_log', 'user'].includes(name)) {
      // The harness owns these (its own pid file, the error log on stderr, no daemon).
      line = `# keepalive-lab: ${line.trim()}`;
    } else if (name === 'error_log') {
      line = line.replace(/error_log\s+[^;]*;/, 'error_log stderr info;');
    } else if (name === 'access_log') {
      line = line.replace(/access_log\s+[^;]*;/, 'access_log off;');
    } else if (name === 'include') {
      // The prepared copy lives elsewhere: a relative include is the user's file's neighbour.
      line = line.replace(/include\s+([^;\s]+)\s*;/, (whole, target: string) =>
        path.isAbsolute(target) ? whole : `include ${path.resolve(path.dirname(file), target)};`);
    } else if (name === 'listen' && !listenPlaceholder) {
      const parsed = /listen\s+([^;\s]+)([^;]*);/.exec(line);
      if (parsed) {
        const port = listenPortOf(parsed[1]!);
        if (port === null) throw new UsageError(`--nginx-conf ${file}:${i + 1}: "listen ${parsed[1]}" is not a TCP port the gate can reach: use a template with {{listen}}`);
        if (/\bssl\b|\bquic\b|\bhttp2\b/.test(parsed[2]!)) throw new UsageError(`--nginx-conf ${file}:${i + 1}: the gate speaks plain HTTP/1.1 to the proxy; this listen has "${parsed[2]!.trim()}": use a template with {{listen}}`);
        line = serverListens.has(port) ? `# keepalive-lab: ${line.trim()} (the same port on 127.0.0.1 as above)` : line.replace(parsed[0], `listen 127.0.0.1:${port}${parsed[2]};`);
        serverListens.add(port);
        if (!listenFromConfig) {
          listenPort = port;
          listenFromConfig = true;
          listenLine = i + 1;
        }
      }
    }
    if (name && TEMP_PATHS.includes(name)) presentTempPaths.add(name);
    for (const char of stripComment(lines[i]!)) depth += char === '{' ? 1 : char === '}' ? -1 : 0;
    lines[i] = line;
  }
  if (httpLine === -1) throw new UsageError(`--nginx-conf ${file}: no http { } block: the gate needs an HTTP proxy config`);
  if (!listenPlaceholder && !listenFromConfig) throw new UsageError(`--nginx-conf ${file}: no listen directive: add one, or use a template with {{listen}}`);
  // Temp paths into the prefix, on the http line itself (no line added before the user's).
  const temp = TEMP_PATHS.filter((name) => !presentTempPaths.has(name)).map((name) => `${name} ${options.prefix}/${name.replace('_path', '')};`).join(' ');
  lines[httpLine] = lines[httpLine]!.replace(/http\s*\{/, `http { ${temp}`);
  // Appended after the user's last line: their line numbers are untouched.
  lines.push('# keepalive-lab:', `pid ${options.prefix}/nginx.pid;`, 'error_log stderr info;', 'daemon off;');
  return {
    text: lines.join('\n'),
    listenPort,
    listenFromConfig,
    listenLine,
    upstreamBlock: block.name,
    keepaliveTimeoutMs,
    keepaliveTimeoutFromConfig,
    keepaliveConnections,
    proxyNextUpstream,
    retrySetting: proxyNextUpstream,
    ...(keepaliveConnections === null ? { noReuseReason: `upstream ${block.name} has no keepalive directive: nginx opens a new upstream connection per request, so none is reused at a close` } : {}),
  };
}

/** The simple directives of a fragment of config: `name value;`, wherever they sit on the line. */
function statements(fragment: string): { name: string; value: string; text: string }[] {
  const found: { name: string; value: string; text: string }[] = [];
  for (const match of fragment.matchAll(/(?<=^|[;{}])\s*((\w+)\s+([^;{}]*?)\s*;)/g)) found.push({ name: match[2]!, value: match[3]!.trim(), text: match[1]! });
  return found;
}

/** Index of the brace closing the block that is open at `from` (depth 1) on this line. */
function closingBrace(line: string, from: number): number {
  let depth = 1;
  for (let i = from; i < line.length; i++) {
    if (line[i] === '{') depth++;
    if (line[i] === '}' && --depth === 0) return i;
  }
  return line.length;
}

interface UpstreamBlockSpan {
  name: string;
  /** Line index of `upstream NAME {` and of its closing brace. */
  start: number;
  end: number;
}

function findUpstreamBlocks(lines: readonly string[]): UpstreamBlockSpan[] {
  const blocks: UpstreamBlockSpan[] = [];
  for (let i = 0; i < lines.length; i++) {
    const opening = /^\s*upstream\s+([\w.-]+)\s*\{/.exec(stripComment(lines[i]!));
    if (!opening) continue;
    let depth = 0;
    for (let j = i; j < lines.length; j++) {
      for (const char of stripComment(lines[j]!)) depth += char === '{' ? 1 : char === '}' ? -1 : 0;
      if (depth === 0) {
        blocks.push({ name: opening[1]!, start: i, end: j });
        break;
      }
    }
  }
  return blocks;
}

/** nginx time syntax: 60, 60s, 500ms, 1m, 1h (a bare number is seconds, unlike the CLI's durations). */
export function parseNginxTime(value: string): number {
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  const re = /(\d+)(ms|s|m|h|d)/gy;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = re.exec(value)) !== null) {
    total += Number(match[1]) * units[match[2]!]!;
    consumed = re.lastIndex;
  }
  if (consumed !== value.length || consumed === 0) throw new Error(`"${value}" is not an nginx time`);
  return total;
}

/** The port of a listen address: 8080, *:8080, 0.0.0.0:8080, [::]:8080, localhost:8080. */
function listenPortOf(address: string): number | null {
  const match = /(?:^|:)(\d+)$/.exec(address);
  if (!match) return null;
  const port = Number(match[1]);
  return port > 0 && port < 65536 ? port : null;
}
