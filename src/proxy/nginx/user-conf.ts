// A user's own nginx config, made runnable by the harness without changing what it decides:
// the upstream block the proxy uses is pointed at the harness's chain, listeners move to
// 127.0.0.1, and files nginx would write outside its temp prefix (pid, logs, temp dirs) move
// into it. Every rewrite keeps the line count, so nginx's "in FILE:LINE" points at the user's
// own line. Pure: text in, text out.
import path from 'node:path';
import { UsageError } from '../../util/errors.js';
import { stripComment } from '../config-comment.js';
import { joinContinuedLines } from './continued-lines.js';
import { DEFAULT_KEEPALIVE_CONNECTIONS, DEFAULT_POOLING_SINCE, poolsByDefault } from './default-pooling.js';
import type { IncludedCopy, IncludedFile, PreparedProxyConf } from '../gate-flavour.js';

export interface UserConfOptions {
  /** The user's file, for messages and for resolving relative includes. */
  sourcePath: string;
  /** Name of the upstream block to point at the harness (full configs); unset: `{{upstream}}`. */
  upstreamBlock?: string;
  /** host:port the upstream block's server lines become. */
  upstreamAddress: string;
  /** Port for `{{listen}}` (templates). */
  listenPort: number;
  /** Temp prefix for pid, temp paths, and the copies of included files. */
  prefix: string;
  /**
   * The files an `include` names (an absolute path or glob), with their text: they are copied
   * into the prefix with the same rewrites, because a `listen` in an included file would
   * otherwise listen wherever it says. Unit tests give a table; the gate reads the disk.
   */
  readInclude: (pattern: string) => IncludedFile[];
  /** The binary's version (`nginx -v`): from 1.29.7 a block without `keepalive` pools anyway. */
  nginxVersion?: string;
}

const TEMP_PATHS = ['client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path'];

export function prepareUserNginxConf(source: string, options: UserConfOptions): PreparedProxyConf {
  const file = options.sourcePath;
  const lines = joinContinuedLines(source.split('\n'));
  // Without {{listen}}, clients go where the user's own listen says (it may be in use).
  const listenPlaceholder = source.includes('{{listen}}');
  if (!options.upstreamBlock && !source.includes('{{upstream}}')) {
    throw new UsageError(`--nginx-conf ${file}: no {{upstream}} placeholder: put one where the upstream's address goes, or name the upstream block with --upstream-block`);
  }

  const block = findBlock(lines, options);

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

  const httpLine = lines.findIndex((line) => /^\s*http\s*\{/.test(stripComment(line)));
  const pass = new ListenAndPathPass(options, source.includes('{{listen}}'));
  pass.rewrite(lines, file, 0);
  const { listenFromConfig, proxyNextUpstream } = pass;
  const listenPort = pass.listenPort ?? options.listenPort;
  if (httpLine === -1) throw new UsageError(`--nginx-conf ${file}: no http { } block: the gate needs an HTTP proxy config`);
  if (!listenPlaceholder && !listenFromConfig) throw new UsageError(`--nginx-conf ${file}: no listen directive: add one, or use a template with {{listen}}`);
  // Temp paths into the prefix, on the http line itself (no line added before the user's), and
  // no access log: with none named, nginx writes its compiled-in one, outside the prefix
  // (/var/log/nginx/access.log on Debian), or into a logs/ folder the prefix lacks (a build with
  // the default --prefix, whose `nginx -t` then failed).
  const temp = TEMP_PATHS.filter((name) => !pass.presentTempPaths.has(name)).map((name) => `${name} ${options.prefix}/${name.replace('_path', '')};`).join(' ');
  lines[httpLine] = lines[httpLine]!.replace(/http\s*\{/, `http { access_log off; ${temp}`);
  // Appended after the user's last line: their line numbers are untouched.
  lines.push('# keepalive-lab:', `pid ${options.prefix}/nginx.pid;`, 'error_log stderr info;', 'daemon off;');
  return {
    text: lines.join('\n'),
    listenPort,
    listenFromConfig,
    listenAt: pass.listenAt,
    includedFiles: pass.includedFiles,
    upstreamBlock: block.name,
    keepaliveTimeoutMs,
    keepaliveTimeoutFromConfig,
    proxyNextUpstream,
    retrySetting: proxyNextUpstream,
    ...withoutKeepalive(block.name, keepaliveConnections, options.nginxVersion),
  };
}

/**
 * A block with no `keepalive`: before nginx 1.29.7 nothing is reused (and nothing can race); from
 * 1.29.7 on, nginx keeps 32 idle connections anyway. Either way the user hears about the other.
 */
function withoutKeepalive(name: string, keepaliveConnections: number | null, version: string | undefined): Pick<PreparedProxyConf, 'keepaliveConnections' | 'keepaliveFromDefault' | 'noReuseReason'> {
  if (keepaliveConnections !== null) return { keepaliveConnections };
  if (version !== undefined && poolsByDefault(version)) return { keepaliveConnections: DEFAULT_KEEPALIVE_CONNECTIONS, keepaliveFromDefault: true };
  return {
    keepaliveConnections,
    noReuseReason: `upstream ${name} has no keepalive directive: nginx${version ? ` ${version}` : ''} opens a new upstream connection per request, so none is reused at a close; ` +
      `nginx ${DEFAULT_POOLING_SINCE} and later pool upstream connections by default (keepalive ${DEFAULT_KEEPALIVE_CONNECTIONS}), where this pass does not hold: gate with that nginx (--nginx-bin) before upgrading`,
  };
}

/** The upstream block: named, or the one holding {{upstream}}. */
function findBlock(lines: readonly string[], options: UserConfOptions): UpstreamBlockSpan {
  const blocks = findUpstreamBlocks(lines);
  const block = options.upstreamBlock
    ? blocks.find((b) => b.name === options.upstreamBlock)
    : blocks.find((b) => lines.slice(b.start, b.end + 1).some((line) => line.includes('{{upstream}}')));
  if (!block) {
    if (options.upstreamBlock) {
      throw new UsageError(`--upstream-block ${options.upstreamBlock}: no upstream block of that name in ${options.sourcePath} (${blocks.length > 0 ? `it has: ${blocks.map((b) => b.name).join(', ')}` : 'it has none'}): name the block your proxy_pass uses`);
    }
    throw new UsageError(`--nginx-conf ${options.sourcePath}: {{upstream}} must stand in a server line of an upstream block (upstream NAME { server {{upstream}}; keepalive 32; })`);
  }
  return block;
}

/**
 * The line-by-line rewrites, over the main file and (recursively, at each include) the files
 * it includes: every `listen` moves to 127.0.0.1 wherever it stands on a line, the harness owns
 * pid, daemon, user and logs, relative includes resolve against the main file's directory (as
 * nginx resolves them against its config prefix) and point at rewritten copies.
 */
class ListenAndPathPass {
  listenPort: number | null = null;
  listenFromConfig = false;
  listenAt: string | null = null;
  proxyNextUpstream: string | null = null;
  readonly presentTempPaths = new Set<string>();
  readonly includedFiles: IncludedCopy[] = [];
  // Listens already moved to 127.0.0.1 in the current server block: `listen 80; listen [::]:80;`
  // would become the same address twice, which nginx refuses.
  private serverListens = new Set<number>();
  private includeCount = 0;
  private cacheCount = 0;
  /** Files being rewritten, outermost first: a file that includes itself would never end. */
  private readonly including: string[] = [];
  private readonly mainDir: string;

  constructor(private readonly options: UserConfOptions, private readonly listenPlaceholder: boolean) {
    this.mainDir = path.dirname(options.sourcePath);
  }

  rewrite(lines: string[], file: string, startDepth: number): void {
    let depth = startDepth;
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i]!.replaceAll('{{upstream}}', this.options.upstreamAddress).replaceAll('{{listen}}', `127.0.0.1:${this.options.listenPort}`);
      const text = stripComment(line).trim();
      const name = /^(\w+)/.exec(text)?.[1];
      const found = statements(stripComment(line));
      // proxy_next_upstream may share a line with other directives (location / { ...; }).
      const nextUpstream = found.find((statement) => statement.name === 'proxy_next_upstream');
      if (nextUpstream && this.proxyNextUpstream === null) this.proxyNextUpstream = nextUpstream.value;
      if (/(^|[;{}\s])server\s*\{/.test(stripComment(line))) this.serverListens = new Set();
      if (depth === 0 && name && ['pid', 'daemon', 'error_log', 'user'].includes(name)) {
        // The harness owns these (its own pid file, the error log on stderr, no daemon).
        line = `# keepalive-lab: ${line.trim()}`;
      } else {
        // Whatever writes files, wherever it stands on the line, writes into the run's prefix
        // or nowhere: a log in a server block once wrote to the path the user's config named.
        for (const statement of found) {
          const moved = this.movedWrite(statement);
          if (moved !== null) line = line.replace(statement.text, moved);
        }
      }
      // Includes and listens wherever they stand on the line (`server { listen 80; ... }`).
      for (const statement of found.filter((s) => s.name === 'include')) line = line.replace(statement.text, `include ${this.includeCopy(statement.value, depth)};`);
      for (const statement of found.filter((s) => s.name === 'listen')) line = this.moveListen(line, statement, text, file, i);
      if (name && TEMP_PATHS.includes(name)) this.presentTempPaths.add(name);
      for (const char of stripComment(lines[i]!)) depth += char === '{' ? 1 : char === '}' ? -1 : 0;
      lines[i] = line;
    }
  }

  /** A statement that writes files, made to write into the prefix (or not at all); null for any other. */
  private movedWrite({ name, value }: { name: string; value: string }): string | null {
    if (name === 'error_log') return 'error_log stderr info;';
    if (name === 'access_log') return 'access_log off;';
    if (/^(proxy|fastcgi|uwsgi|scgi)_store$/.test(name)) return `${name} off;`;
    if (TEMP_PATHS.includes(name)) {
      // The path goes into the prefix; its levels (e.g. "1 2") stay.
      const [, ...levels] = value.split(/\s+/);
      return `${name} ${this.options.prefix}/${name.replace('_path', '')}${levels.length > 0 ? ` ${levels.join(' ')}` : ''};`;
    }
    if (/^(proxy|fastcgi|uwsgi|scgi)_cache_path$/.test(name)) {
      const [, ...params] = value.split(/\s+/);
      return `${name} ${this.options.prefix}/cache-${++this.cacheCount}${params.length > 0 ? ` ${params.join(' ')}` : ''};`;
    }
    return null;
  }

  /** One `listen` statement onto 127.0.0.1 with its port (or away, when the port is already there). */
  private moveListen(line: string, statement: { value: string; text: string }, lineText: string, file: string, index: number): string {
    const [address = '', ...params] = statement.value.split(/\s+/);
    const where = `${file}:${index + 1}`;
    const port = listenPortOf(address);
    if (port === null) throw new UsageError(`--nginx-conf ${where}: "listen ${address}" is not a TCP port the gate can reach: use a template with {{listen}}`);
    const rest = params.length > 0 ? ` ${params.join(' ')}` : '';
    if (/\bssl\b|\bquic\b|\bhttp2\b/.test(rest)) throw new UsageError(`--nginx-conf ${where}: the gate speaks plain HTTP/1.1 to the proxy; this listen has "${rest.trim()}": use a template with {{listen}}`);
    let moved: string;
    if (this.serverListens.has(port)) {
      // Alone on its line it becomes a comment; beside other directives it goes.
      moved = lineText === statement.text ? `# keepalive-lab: ${statement.text} (the same port on 127.0.0.1 as above)` : '';
      if (lineText === statement.text) return moved;
    } else {
      moved = `listen 127.0.0.1:${port}${rest};`;
    }
    this.serverListens.add(port);
    if (!this.listenPlaceholder && !this.listenFromConfig) {
      this.listenPort = port;
      this.listenFromConfig = true;
      this.listenAt = where;
    }
    return line.replace(statement.text, moved);
  }

  /** Where an include now points: rewritten copies of what it names, in a directory of their own. */
  private includeCopy(target: string, depth: number): string {
    const pattern = path.isAbsolute(target) ? target : path.resolve(this.mainDir, target);
    const matches = this.options.readInclude(pattern);
    // Nothing matched: nginx says so itself (a glob may match nothing, a plain path may not).
    if (matches.length === 0) return pattern;
    const dir = `${this.options.prefix}/include-${++this.includeCount}`;
    for (const match of matches) {
      if (this.including.includes(match.path)) {
        throw new UsageError(`--nginx-conf: ${[...this.including, match.path].join(' includes ')}: an include loop, which nginx cannot load either: break it`);
      }
      const lines = joinContinuedLines(match.text.split('\n'));
      this.including.push(match.path);
      this.rewrite(lines, match.path, depth);
      this.including.pop();
      this.includedFiles.push({ path: `${dir}/${path.basename(match.path)}`, text: lines.join('\n'), source: match.path });
    }
    // The same name or glob over the copies: nginx includes them in the same order.
    return `${dir}/${path.basename(pattern)}`;
  }
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
