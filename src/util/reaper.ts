// The harness side of containers/reaper/local-reaper.mjs: registers what a run starts, so that
// it is stopped and removed even when the harness dies without running its own cleanup
// (kill -9, a crash in native code). Ordinary exits clean up through cleanup.ts first.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REAPER_PROGRAM = fileURLToPath(new URL('../../containers/reaper/local-reaper.mjs', import.meta.url));
let reaper: ChildProcess | null = null;

function send(line: string): void {
  if (!reaper) {
    reaper = spawn(process.execPath, [REAPER_PROGRAM], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    reaper.on('error', () => { reaper = null; });
    // Neither the process nor its pipe may keep the harness alive: its job starts when we end.
    reaper.unref();
    (reaper.stdin as unknown as { unref(): void }).unref();
  }
  reaper.stdin?.write(`${line}\n`);
}

/** A process, or with a negative number a whole process group, to stop if the harness dies. */
export function reapPidOnExit(pid: number): () => void {
  send(`+pid ${pid}`);
  return () => send(`-pid ${pid}`);
}

/**
 * The Docker engine's socket when it is a local one (DOCKER_HOST unset or unix://), else null:
 * a remote engine's objects are left to Testcontainers' Ryuk.
 */
export function localDockerSocket(env: NodeJS.ProcessEnv = process.env): string | null {
  const host = env.DOCKER_HOST;
  if (!host) return '/var/run/docker.sock';
  return host.startsWith('unix://') ? host.slice('unix://'.length) : null;
}

/** Registers a Docker container or network to be removed if the harness dies. */
export function reapDockerObjectOnExit(kind: 'container' | 'network', id: string): () => void {
  const socket = localDockerSocket();
  if (!socket || /\s/.test(socket)) return () => {};
  send(`+${kind} ${socket} ${id}`);
  return () => send(`-${kind} ${socket} ${id}`);
}

export function reapDirOnExit(dir: string): () => void {
  send(`+dir ${dir}`);
  return () => send(`-dir ${dir}`);
}
