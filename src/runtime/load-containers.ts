// The containers runtime's code, loaded only when a run uses it. Its Docker client,
// testcontainers, brings ~150 packages (ssh2, cpu-features and protobufjs among them, each with
// an install script) that a local-only user never runs: it is an optional peer dependency, and
// nothing outside src/runtime/containers/ and the gate's --upstream-image imports it but through
// here. A run that needs it and lacks it gets one line with the install command (exit 2).
import { UsageError } from '../util/errors.js';
import type { Runtime } from './runtime.js';

/** The version the containers runtime is built and tested against (12.0.1: the last on Node 20). */
export const TESTCONTAINERS_VERSION = '12.0.1';
export const TESTCONTAINERS_INSTALL = `npm install --save-dev testcontainers@${TESTCONTAINERS_VERSION}`;

/** Whether an import failed because testcontainers (or a part of it) is not installed. */
function isMissingTestcontainers(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && /['"]testcontainers['"]/.test(message ?? '');
}

/**
 * Loads a module that imports testcontainers; its absence is one line naming the install
 * (UsageError). `what`: the flag or call that needs it; `otherwise`: the way round it, if any.
 */
export async function withTestcontainers<T>(what: string, load: () => Promise<T>, otherwise = ''): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (!isMissingTestcontainers(error)) throw error;
    throw new UsageError(`${what} needs testcontainers, an optional peer dependency of keepalive-lab that is not installed: run "${TESTCONTAINERS_INSTALL}"${otherwise ? ` (${otherwise})` : ''}`);
  }
}

/** The containers runtime (runtime/containers/), loaded on first use. */
export async function containersRuntime(options: { proxy?: string } = {}): Promise<Runtime> {
  const loaded = await withTestcontainers('--runtime containers', () => import('./containers/containers-runtime.js'), 'or use --runtime local');
  return loaded.containersRuntime(options);
}

/**
 * Is there a Docker engine to run containers on, and is the client installed? The engine's host,
 * or why not (testcontainers missing is a reason like a stopped engine, not an error).
 */
export async function dockerEngine(): Promise<{ host: string } | { reason: string }> {
  let loaded: typeof import('./containers/docker-engine.js');
  try {
    loaded = await withTestcontainers('the containers runtime', () => import('./containers/docker-engine.js'));
  } catch (error) {
    if (error instanceof UsageError) return { reason: error.message };
    throw error;
  }
  const engine = await loaded.dockerEngine();
  return 'client' in engine ? { host: engine.client.info.containerRuntime.host } : engine;
}
