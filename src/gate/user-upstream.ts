// The user's own upstream: any HTTP/1.1 server, started from a command line (local) or reached
// at a URL the user runs. The command gets its port in env PORT and as a {port} placeholder,
// runs through the shell in its own process group (so everything it starts is stopped with it),
// and must listen within a time limit; what it printed is the error when it does not.
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { onCleanup } from '../util/cleanup.js';
import { UsageError } from '../util/errors.js';
import { canConnect, freePort, hostPort, socketHost } from '../util/ports.js';
import { reapPidOnExit } from '../util/reaper.js';
import type { Endpoint } from '../vocabulary.js';

export interface UserUpstream {
  endpoint: Endpoint;
  /** How it was given, for messages and reports. */
  label: string;
  stop(): Promise<void>;
}

const LISTEN_TIMEOUT_MS = 15_000;
const KILL_AFTER_MS = 2000;

export async function startUpstreamCommand(command: string, env: Record<string, string> = {}, listenTimeoutMs = LISTEN_TIMEOUT_MS): Promise<UserUpstream> {
  const port = await freePort();
  const line = command.replaceAll('{port}', String(port));
  const child = spawn('/bin/sh', ['-c', line], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env, PORT: String(port) } });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream! }).on('line', (text) => {
      output.push(text);
      if (output.length > 20) output.shift();
    });
  }
  let exitCode: number | string | null = null;
  const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => { exitCode = code ?? signal ?? 'unknown'; resolve(); }));
  // Its own process group: a shell, and whatever it started, go together.
  const group = -child.pid!;
  const forget = reapPidOnExit(group);
  const stop = onCleanup(async () => {
    if (exitCode === null) {
      signalGroup(group, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(group, 'SIGKILL'), KILL_AFTER_MS);
      await exited;
      clearTimeout(timer);
    }
    // The shell may exit before the server it started: the group goes in any case.
    signalGroup(group, 'SIGKILL');
    forget();
  });
  const said = () => output.filter((text) => text.trim() !== '').slice(-2).join(' | ') || 'nothing';
  const deadline = Date.now() + listenTimeoutMs;
  for (;;) {
    if (exitCode !== null) {
      await stop();
      throw new UsageError(`--upstream-cmd "${command}" exited (${exitCode}) before listening on port ${port}; it said: ${said()}`);
    }
    if (await canConnect('127.0.0.1', port, 200)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new UsageError(`--upstream-cmd "${command}" did not listen on 127.0.0.1:${port} within ${listenTimeoutMs / 1000} s: it must listen on env PORT or the {port} placeholder (it said: ${said()})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { endpoint: { host: '127.0.0.1', port }, label: command, stop };
}

export async function upstreamAtUrl(url: string): Promise<UserUpstream> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--upstream-url: "${url}" is not a URL: give http://HOST:PORT`);
  }
  if (parsed.protocol !== 'http:') throw new UsageError(`--upstream-url ${url}: only http:// upstreams (the race is measured on plain HTTP/1.1)`);
  const endpoint = { host: socketHost(parsed), port: Number(parsed.port || 80) };
  if (!(await canConnect(endpoint.host, endpoint.port, 2000))) {
    throw new UsageError(`--upstream-url ${url}: nothing answers at ${hostPort(endpoint.host, endpoint.port)}: start the upstream first, or give --upstream-cmd`);
  }
  return { endpoint, label: url, stop: async () => {} };
}

function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(group, signal);
  } catch {
    // Already gone.
  }
}
