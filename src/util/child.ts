// Child processes a runtime starts: spawned with their output read line by line, and stopped
// (SIGTERM, then SIGKILL) on every exit path through the cleanup registry.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import readline from 'node:readline';
import { onCleanup } from './cleanup.js';
import { reapPidOnExit } from './reaper.js';

export interface ManagedChild {
  process: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

export interface ChildOptions extends SpawnOptions {
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /** How long to wait after SIGTERM before SIGKILL. */
  killAfterMs?: number;
}

export function startChild(command: string, args: string[], options: ChildOptions = {}): ManagedChild {
  const { onStdoutLine, onStderrLine, killAfterMs = 2000, ...spawnOptions } = options;
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...spawnOptions });
  const forgetPid = child.pid !== undefined ? reapPidOnExit(child.pid) : () => {};
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      // Unregister at once: a pid the kernel may hand out again must not be reaped later.
      forgetPid();
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? 'error'));
  });
  if (child.stdout) {
    if (onStdoutLine) readline.createInterface({ input: child.stdout }).on('line', onStdoutLine);
    else child.stdout.resume();
  }
  if (child.stderr) {
    if (onStderrLine) readline.createInterface({ input: child.stderr }).on('line', onStderrLine);
    else child.stderr.resume();
  }
  const stop = onCleanup(async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    await exited;
    clearTimeout(timer);
  });
  return { process: child, exited, stop };
}

/** Resolves when `predicate` is true, polling; rejects with `describe()` after `timeoutMs`. */
export async function waitUntil(predicate: () => Promise<boolean> | boolean, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(describe());
}
