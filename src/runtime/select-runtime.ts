// Which runtime runs a topology: `--runtime auto|local|containers` or KEEPALIVE_LAB_RUNTIME.
// `auto` takes containers when a Docker engine answers and local otherwise, and says why.
import { UsageError } from '../util/errors.js';
import { containersRuntime } from './containers/containers-runtime.js';
import { dockerEngine } from './containers/docker-engine.js';
import { localRuntime, type LocalRuntimeOptions } from './local-runtime.js';
import type { Runtime } from './runtime.js';

export const RUNTIME_CHOICES = ['auto', 'local', 'containers'] as const;
export type RuntimeChoice = (typeof RUNTIME_CHOICES)[number];

export interface SelectedRuntime {
  runtime: Runtime;
  /** One line for the user: what was picked and why. */
  note: string;
}

/** The choice from a flag, else KEEPALIVE_LAB_RUNTIME, else local. */
export function runtimeChoice(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): RuntimeChoice {
  const [value, source] = flag !== undefined ? [flag, '--runtime'] : [env.KEEPALIVE_LAB_RUNTIME ?? 'local', 'KEEPALIVE_LAB_RUNTIME'];
  if (!(RUNTIME_CHOICES as readonly string[]).includes(value)) throw new UsageError(`${source}: "${value}" is not a runtime; use ${RUNTIME_CHOICES.join(', ')}`);
  return value as RuntimeChoice;
}

/**
 * HAProxy runs on the local runtime only: no registry here to pull an HAProxy image from, and
 * no image of it is built offline yet.
 */
export const HAPROXY_LOCAL_ONLY = '--proxy haproxy runs on the local runtime only (no HAProxy image is set up for containers): use --runtime local';

/** The client-side race is measured with the clients in the harness's own process, on this machine. */
export const NO_PROXY_LOCAL_ONLY = '--proxy none runs on the local runtime only (the clients run in the harness, next to the upstream): use --runtime local';

export async function selectRuntime(choice: RuntimeChoice, local: LocalRuntimeOptions = {}): Promise<SelectedRuntime> {
  if (choice === 'local') return { runtime: localRuntime(local), note: 'runtime: local' };
  if (local.proxy === 'haproxy' || local.proxy === 'none') {
    if (choice === 'containers') throw new UsageError(local.proxy === 'haproxy' ? HAPROXY_LOCAL_ONLY : NO_PROXY_LOCAL_ONLY);
    return { runtime: localRuntime(local), note: `runtime: local (auto: --proxy ${local.proxy} runs on the local runtime only)` };
  }
  if (choice === 'containers') return { runtime: await containersRuntime(), note: 'runtime: containers' };
  const engine = await dockerEngine();
  if ('client' in engine) return { runtime: await containersRuntime(), note: 'runtime: containers (auto: a Docker engine answered)' };
  return { runtime: localRuntime(local), note: `runtime: local (auto: ${engine.reason.split(':')[0]})` };
}
