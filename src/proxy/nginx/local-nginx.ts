// nginx as a local child process: own prefix dir, `daemon off`, error log read from stderr.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startChild, waitUntil, type ManagedChild } from '../../util/child.js';
import { UsageError } from '../../util/errors.js';
import { canConnect } from '../../util/ports.js';
import { describeOutput, which } from '../../util/which.js';
import { renderNginxConf, type NginxSpec } from './render.js';

export const NGINX_INSTALL_HINT = 'install it with "sudo apt-get install -y nginx", or name the binary with --nginx-bin / KEEPALIVE_LAB_NGINX_BIN';

export function resolveNginxBinary(configured?: string): string {
  const wanted = configured ?? process.env.KEEPALIVE_LAB_NGINX_BIN ?? 'nginx';
  const found = which(wanted);
  if (!found) throw new UsageError(`nginx binary "${wanted}" not found: ${NGINX_INSTALL_HINT}`);
  return found;
}

export function nginxVersion(binary: string): string {
  // `nginx -v` prints "nginx version: nginx/1.22.1" on stderr.
  const result = spawnSync(binary, ['-v'], { encoding: 'utf8', timeout: 10_000 });
  const version = /nginx\/(\S+)/.exec(`${result.stdout}${result.stderr}`)?.[1];
  // A binary that is not nginx would otherwise fail later, at start, after things ran.
  if (!version) throw new UsageError(`${binary} is not nginx: "${binary} -v" ${describeOutput(result)}: name nginx with --nginx-bin / KEEPALIVE_LAB_NGINX_BIN`);
  return version;
}

export interface LocalNginx {
  child: ManagedChild;
  confPath: string;
  stop(): Promise<void>;
}

export interface LocalNginxOptions {
  binary: string;
  /** The harness's own config, rendered from a spec; or `confText`, a config ready to run. */
  spec?: NginxSpec;
  confText?: string;
  listenPort: number;
  upstream: string;
  prefix: string;
  onErrorLine: (line: string) => void;
}

export async function startLocalNginx(options: LocalNginxOptions): Promise<LocalNginx> {
  const { binary, spec, listenPort, upstream, prefix } = options;
  const confPath = path.join(prefix, 'nginx.conf');
  if (!spec && options.confText === undefined) throw new Error('startLocalNginx: give a spec or a config text');
  fs.writeFileSync(confPath, options.confText ?? renderNginxConf(spec!, { listen: `127.0.0.1:${listenPort}`, upstream, prefix }));
  const startupLines: string[] = [];
  const child = startChild(binary, ['-p', prefix, '-c', confPath, '-e', 'stderr'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    onStderrLine: (line) => {
      if (startupLines.length < 20) startupLines.push(line);
      options.onErrorLine(line);
    },
  });
  let exitedEarly: number | string | null = null;
  void child.exited.then((code) => { exitedEarly = code; });
  try {
    await waitUntil(async () => {
      if (exitedEarly !== null) throw new Error(`nginx exited (${exitedEarly}) at start: ${startupLines.filter((l) => /\[(emerg|alert|crit|error)\]/.test(l)).join(' | ') || startupLines.join(' | ')}`);
      return canConnect('127.0.0.1', listenPort);
    }, 10_000, () => `nginx did not listen on 127.0.0.1:${listenPort} within 10 s`);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { child, confPath, stop: child.stop };
}

/**
 * `nginx -t` of a config file: null when nginx accepts it, else nginx's own first complaint
 * (e.g. 'unknown directive "foo" in /path/nginx.conf:12').
 */
export function testNginxConf(binary: string, prefix: string, confPath: string): string | null {
  const result = spawnSync(binary, ['-t', '-p', prefix, '-c', confPath, '-e', 'stderr'], { encoding: 'utf8', timeout: 30_000 });
  if (result.status === 0) return null;
  const lines = `${result.stderr}${result.stdout}`.split('\n');
  const complaint = lines.find((line) => /\[(emerg|alert|crit)\]/.test(line)) ?? lines.find((line) => line.trim() !== '') ?? `exit ${result.status}`;
  // "nginx: [emerg] ..." (the -t preamble) or "2026/11/24 08:59:27 [emerg] 23228#23228: ..." (the log).
  return complaint.replace(/^nginx: /, '').replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: /, '$1 ').trim();
}
