// Which runtime runs a topology: `--runtime auto|local|containers` or KEEPALIVE_LAB_RUNTIME.
// `auto` takes containers when a Docker engine answers and local otherwise, and says why.
import type { ProxyFlavour } from '../proxy/flavour.js';
import { proxyFlavour } from '../proxy/registry.js';
import { UsageError } from '../util/errors.js';
import { containersRuntime, dockerEngine } from './load-containers.js';
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

/** Why a flavour runs on the local runtime only: no image (no proxy: the clients run in the harness). */
function localOnlyBecause(flavour: ProxyFlavour): string | null {
  if (flavour.passThrough) return `--proxy ${flavour.name} runs on the local runtime only (the clients run in the harness, next to the upstream): use --runtime local`;
  if (!flavour.container) return `--proxy ${flavour.name} runs on the local runtime only (no ${flavour.title} image is set up for containers): use --runtime local`;
  return null;
}

export async function selectRuntime(choice: RuntimeChoice, local: LocalRuntimeOptions = {}): Promise<SelectedRuntime> {
  if (choice === 'local') return { runtime: localRuntime(local), note: 'runtime: local' };
  const flavour = proxyFlavour(local.proxy);
  const localOnly = localOnlyBecause(flavour);
  if (localOnly) {
    if (choice === 'containers') throw new UsageError(localOnly);
    return { runtime: localRuntime(local), note: `runtime: local (auto: --proxy ${flavour.name} runs on the local runtime only)` };
  }
  const containers = () => containersRuntime({ proxy: flavour.name });
  if (choice === 'containers') return { runtime: await containers(), note: 'runtime: containers' };
  const engine = await dockerEngine();
  if ('host' in engine) return { runtime: await containers(), note: 'runtime: containers (auto: a Docker engine answered)' };
  return { runtime: localRuntime(local), note: `runtime: local (auto: ${engine.reason.split(':')[0]})` };
}
