// The fault layer of the local runtime: a real toxiproxy-server when one is on PATH (or named
// by KEEPALIVE_LAB_TOXIPROXY_BIN), else the embedded server as a child process, so that its
// timers and sockets do not share the harness's event loop. Either way it is driven through
// toxiproxy-node-client.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Toxiproxy } from 'toxiproxy-node-client';
import { startChild, waitUntil, type ManagedChild } from '../util/child.js';
import { UsageError } from '../util/errors.js';
import { toxiproxyVersionName } from './fault-proxy.js';
import { freePort } from '../util/ports.js';
import { which } from '../util/which.js';

// The server's own entry (main.ts), not the CLI's. src/toxiproxy/ and dist/toxiproxy/ are both
// two levels below the package root.
const SERVER_ENTRY = fileURLToPath(new URL('../../dist/toxiproxy/main.js', import.meta.url));

export interface LocalToxiproxy {
  url: string;
  /** e.g. "embedded keepalive-lab-embedded/2.x-api" or "toxiproxy-server 2.12.0". */
  version: string;
  child: ManagedChild;
  stop(): Promise<void>;
}

/**
 * The toxiproxy-server to run: the one named (--toxiproxy-bin, else KEEPALIVE_LAB_TOXIPROXY_BIN),
 * else one on PATH, else null for the embedded server. Called before anything starts, so that a
 * wrong name is bad input with nothing left behind.
 */
export function resolveToxiproxyBinary(configuredBinary?: string): string | null {
  const real = configuredBinary ? which(configuredBinary) : process.env.KEEPALIVE_LAB_TOXIPROXY_BIN ? which(process.env.KEEPALIVE_LAB_TOXIPROXY_BIN) : which('toxiproxy-server');
  if (configuredBinary && !real) throw new UsageError(`--toxiproxy-bin ${configuredBinary}: no such executable: give the path of toxiproxy-server, or drop the flag to use the embedded server`);
  if (!configuredBinary && process.env.KEEPALIVE_LAB_TOXIPROXY_BIN && !real) throw new UsageError(`KEEPALIVE_LAB_TOXIPROXY_BIN: toxiproxy binary "${process.env.KEEPALIVE_LAB_TOXIPROXY_BIN}" not found: unset it to use the embedded server`);
  if (!real && !fs.existsSync(SERVER_ENTRY)) throw new UsageError(`the embedded Toxiproxy needs the build (${SERVER_ENTRY}): run "npm run build"`);
  return real;
}

export async function startLocalToxiproxy(configuredBinary?: string): Promise<LocalToxiproxy> {
  const real = resolveToxiproxyBinary(configuredBinary);
  const port = await freePort();
  const output: string[] = [];
  const child = real
    ? startChild(real, ['-host', '127.0.0.1', '-port', String(port)], { onStderrLine: (line) => output.push(line), onStdoutLine: (line) => output.push(line) })
    : startChild(process.execPath, [SERVER_ENTRY, '--host', '127.0.0.1', '--port', String(port)], { onStderrLine: (line) => output.push(line) });
  const url = `http://127.0.0.1:${port}`;
  let exited: number | string | null = null;
  void child.exited.then((code) => { exited = code; });
  let version = '';
  try {
    await waitUntil(async () => {
      if (exited !== null) throw new Error(`toxiproxy exited (${exited}) at start: ${output.slice(-3).join(' | ')}`);
      try {
        version = (await new Toxiproxy(url).getVersion()).trim();
        return true;
      } catch {
        return false;
      }
    }, 10_000, () => `toxiproxy did not answer on ${url} within 10 s: ${output.slice(-3).join(' | ')}`);
  } catch (error) {
    await child.stop();
    throw error;
  }
  const name = toxiproxyVersionName(version);
  return { url, version: real ? `toxiproxy-server ${name}` : `embedded ${name}`, child, stop: child.stop };
}
