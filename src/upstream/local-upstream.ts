// The upstream program as a local child process of the harness's own Node binary.
import { startChild, waitUntil, type ManagedChild } from '../util/child.js';
import type { UpstreamEventRecord } from '../history/records.js';
import { eventFileReader, parseUpstreamLine } from './upstream-output.js';
import { UPSTREAM_PROGRAM, upstreamArgs, type UpstreamSpec } from './upstream-spec.js';
import { onCpus } from '../runtime/cpu-pinning.js';

export interface LocalUpstream {
  port: number;
  nodeVersion: string;
  child: ManagedChild;
  /** Events written since the last call (the program appends them to a file, buffered). */
  drainEvents(): UpstreamEventRecord[];
  stop(): Promise<void>;
}

export async function startLocalUpstream(spec: UpstreamSpec, port: number, eventsPath: string, nodeBinary = process.execPath, cpus?: readonly number[]): Promise<LocalUpstream> {
  let ready: { port: number; node: string } | null = null;
  const errors: string[] = [];
  const [command, args] = onCpus(cpus, nodeBinary, [UPSTREAM_PROGRAM, ...upstreamArgs(spec), '--port', String(port), '--events', eventsPath, '--exit-with-stdin']);
  const child = startChild(command, args, {
    onStdoutLine: (line) => {
      const parsed = parseUpstreamLine(line);
      if (parsed?.kind === 'listening') ready = parsed;
    },
    onStderrLine: (line) => errors.push(line),
  });
  let exitCode: number | string | null = null;
  void child.exited.then((code) => { exitCode = code; });
  try {
    await waitUntil(() => {
      if (exitCode !== null) throw new Error(`upstream exited (${exitCode}) at start: ${errors.join(' | ')}`);
      return ready !== null;
    }, 10_000, () => `upstream did not listen within 10 s: ${errors.join(' | ')}`);
  } catch (error) {
    await child.stop();
    throw error;
  }
  const started = ready as unknown as { port: number; node: string };
  return {
    port: started.port,
    nodeVersion: started.node,
    child,
    drainEvents: eventFileReader(eventsPath),
    stop: child.stop,
  };
}
