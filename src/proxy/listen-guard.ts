// The gate rewrites a user's config to listen on 127.0.0.1, but a proxy's grammar (includes,
// quoting, sections that listen without a `listen` or `bind`) can always outrun a rewrite. So
// the guarantee is read from the kernel, not from the config: right after the proxy starts and
// then while it runs, every socket its process tree listens on must be on loopback; one that
// is not stops the run with one line (exit 2), naming the address.
import { UsageError } from '../util/errors.js';
import { listenersOf, type Listener } from '../util/listeners.js';

/** How often a running proxy's listeners are read again (a few ms of CPU for each read). */
export const GUARD_EVERY_MS = 2_000;

/** The sockets off loopback that the process tree under `rootPid` listens on now. */
function offLoopbackListeners(rootPid: number): Listener[] {
  // Once per address: a master and its workers hold the same sockets.
  const found = new Map<string, Listener>();
  for (const listener of listenersOf(rootPid)) if (!listener.loopback) found.set(`${listener.protocol} ${listener.shown}:${listener.port}`, listener);
  return [...found.values()];
}

function offLoopbackError(what: string, listeners: readonly Listener[]): UsageError {
  const where = listeners.map((listener) => `${listener.protocol} ${listener.shown}:${listener.port}`).join(', ');
  return new UsageError(`${what} listened off loopback (${where}), so it was stopped: the gate runs a proxy reachable from this host only; remove from the config what listens there`, 2);
}

export interface LoopbackGuard {
  stop(): void;
}

/**
 * Throws (offLoopbackError) if the tree listens off loopback now; else reads it again every
 * `everyMs` and calls `onOffLoopback` the first time it does, then stops reading.
 */
export function guardLoopback(rootPid: number, what: string, onOffLoopback: (error: UsageError) => void, everyMs = GUARD_EVERY_MS): LoopbackGuard {
  const now = offLoopbackListeners(rootPid);
  if (now.length > 0) throw offLoopbackError(what, now);
  const timer = setInterval(() => {
    const found = offLoopbackListeners(rootPid);
    if (found.length === 0) return;
    clearInterval(timer);
    onOffLoopback(offLoopbackError(what, found));
  }, everyMs);
  // The guard never keeps the process alive on its own.
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
