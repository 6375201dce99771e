// HAProxy as a local child process: foreground (-db), its log on stderr.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startChild, waitUntil, type ManagedChild } from '../../util/child.js';
import { UsageError } from '../../util/errors.js';
import { canConnect } from '../../util/ports.js';
import { describeOutput, which } from '../../util/which.js';

export const HAPROXY_INSTALL_HINT = 'install it with "sudo apt-get install -y haproxy", or name the binary with --haproxy-bin / KEEPALIVE_LAB_HAPROXY_BIN';

export function resolveHaproxyBinary(configured?: string): string {
  const wanted = configured ?? process.env.KEEPALIVE_LAB_HAPROXY_BIN ?? 'haproxy';
  const found = which(wanted);
  if (!found) throw new UsageError(`haproxy binary "${wanted}" not found: ${HAPROXY_INSTALL_HINT}`);
  return found;
}

export function haproxyVersion(binary: string): string {
  // "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/"
  const result = spawnSync(binary, ['-v'], { encoding: 'utf8', timeout: 10_000 });
  const version = /HAProxy version (\S+)/i.exec(`${result.stdout}${result.stderr}`)?.[1];
  if (!version) throw new UsageError(`${binary} is not HAProxy: "${binary} -v" ${describeOutput(result)}: name HAProxy with --haproxy-bin / KEEPALIVE_LAB_HAPROXY_BIN`);
  return version;
}

/**
 * `haproxy -c` of a config file: null when HAProxy accepts it, else its first complaint
 * (e.g. "[ALERT] ... parsing [/path/haproxy.cfg:12] : unknown keyword 'foo' ...").
 */
export function testHaproxyConf(binary: string, confPath: string): string | null {
  const result = spawnSync(binary, ['-c', '-f', confPath], { encoding: 'utf8', timeout: 30_000 });
  if (result.status === 0) return null;
  const lines = `${result.stderr}${result.stdout}`.split('\n');
  const complaint = lines.find((line) => /\[ALERT\]/.test(line)) ?? lines.find((line) => line.trim() !== '') ?? `exit ${result.status}`;
  // "[NOTICE]   (1) : ..." / "[ALERT]    (1234) : config : parsing [...]": drop the pid.
  return complaint.replace(/^\[(\w+)\]\s+\(\d+\)\s*:\s*/, '[$1] ').trim();
}

export interface LocalHaproxy {
  child: ManagedChild;
  confPath: string;
  stop(): Promise<void>;
}

export interface LocalHaproxyOptions {
  binary: string;
  confText: string;
  listenPort: number;
  workDir: string;
  onLogLine: (line: string) => void;
}

export async function startLocalHaproxy(options: LocalHaproxyOptions): Promise<LocalHaproxy> {
  const confPath = path.join(options.workDir, 'haproxy.cfg');
  fs.writeFileSync(confPath, options.confText);
  const startupLines: string[] = [];
  const child = startChild(options.binary, ['-db', '-f', confPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    onStderrLine: (line) => {
      if (startupLines.length < 20) startupLines.push(line);
      options.onLogLine(line);
    },
  });
  let exitedEarly: number | string | null = null;
  void child.exited.then((code) => { exitedEarly = code; });
  try {
    await waitUntil(async () => {
      if (exitedEarly !== null) throw new Error(`haproxy exited (${exitedEarly}) at start: ${startupLines.filter((l) => /\[ALERT\]/.test(l)).join(' | ') || startupLines.join(' | ')}`);
      return canConnect('127.0.0.1', options.listenPort);
    }, 10_000, () => `haproxy did not listen on 127.0.0.1:${options.listenPort} within 10 s`);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { child, confPath, stop: child.stop };
}
