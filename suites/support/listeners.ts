// Every listening socket of a child's process tree, sampled while it runs (src/util/listeners.ts
// reads them): the security suite's proof that nothing of a run listened off loopback.
import type { ChildProcess } from 'node:child_process';
import { listenersOf, type Listener } from '../../src/util/listeners.js';

/**
 * Every listening socket of a child's process tree, sampled every 20 ms until it exits, with
 * its exit code and what it wrote on stderr.
 */
export async function listenersWhileRunning(child: ChildProcess): Promise<{ code: number | null; stderr: string; listeners: Listener[] }> {
  let stderr = '';
  child.stderr?.on('data', (part: Buffer) => { stderr += part.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const seen = new Map<string, Listener>();
  let running = true;
  void exited.then(() => { running = false; });
  while (running) {
    for (const listener of listenersOf(child.pid!)) seen.set(`${listener.pid}:${listener.address}:${listener.port}`, listener);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { code: await exited, stderr, listeners: [...seen.values()] };
}
