// A proxy as a local child process: its config written into its own working directory, run in
// the foreground with its log on stderr, ready when its port takes a connection, and stopped on
// every exit path (util/child.ts).
import fs from 'node:fs';
import path from 'node:path';
import { startChild, waitUntil, type ManagedChild } from '../util/child.js';
import { canConnect } from '../util/ports.js';
import { onCpus } from '../runtime/cpu-pinning.js';
import type { ProxyFlavour } from './flavour.js';

export interface LocalProxyOptions {
  binary: string;
  /** The config, ready to run. */
  confText: string;
  listenPort: number;
  /** Its working directory (the config, temp paths, pid). */
  prefix: string;
  /** The config's file name, where it is not the flavour's own. */
  configFile?: string;
  /** CPUs to run on (`--pin`), else wherever the scheduler puts it. */
  cpus?: readonly number[];
  onLogLine: (line: string) => void;
}

export interface LocalProxy {
  child: ManagedChild;
  confPath: string;
  stop(): Promise<void>;
}

type WithProcess = Pick<ProxyFlavour, 'name'> & { process: NonNullable<ProxyFlavour['process']> };

export async function startLocalProxy(flavour: WithProcess, options: LocalProxyOptions): Promise<LocalProxy> {
  const confPath = path.join(options.prefix, options.configFile ?? flavour.process.configFile);
  fs.writeFileSync(confPath, options.confText);
  const startupLines: string[] = [];
  const [command, args] = onCpus(options.cpus, options.binary, flavour.process.args(confPath, options.prefix));
  const child = startChild(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(flavour.process.env ? { env: { ...process.env, ...flavour.process.env(options.prefix) } } : {}),
    onStderrLine: (line) => {
      if (startupLines.length < 20) startupLines.push(line);
      options.onLogLine(line);
    },
  });
  let exitedEarly: number | string | null = null;
  void child.exited.then((code) => { exitedEarly = code; });
  try {
    await waitUntil(async () => {
      if (exitedEarly !== null) {
        const complaints = startupLines.filter((line) => flavour.process.complaint.test(line));
        throw new Error(`${flavour.name} exited (${exitedEarly}) at start: ${(complaints.length > 0 ? complaints : startupLines).join(' | ')}`);
      }
      return canConnect('127.0.0.1', options.listenPort);
    }, 10_000, () => `${flavour.name} did not listen on 127.0.0.1:${options.listenPort} within 10 s`);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { child, confPath, stop: child.stop };
}
