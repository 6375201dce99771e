// Where the proxy and the upstream run on the machine's CPUs (`--pin`). Left to the scheduler,
// the two land on one core in some runs and on two in others, and the window moves with it:
// measured here (2 vCPUs, K 10 ms, POST), nginx and the upstream on one core failed about four
// times as often in a soak as on two, and each layout repeated run after run (docs/predict.md).
// Pinning holds the layout still, so that runs compare. Processes are started under
// `taskset -c`, so that every process and thread they make keeps the CPUs.
import os from 'node:os';
import { UsageError } from '../util/errors.js';
import { which } from '../util/which.js';

export const PIN_LAYOUTS = ['split', 'shared'] as const;
export type PinLayout = (typeof PIN_LAYOUTS)[number];

/** The CPUs each part runs on (numbers as Linux counts them). */
export interface PinnedCpus {
  proxy: number[];
  upstream: number[];
}

/**
 * `split`: the proxy on the last CPU, the upstream on the one before it (as on a host where the
 * two do not share a core); `shared`: both on the last CPU. The harness stays where the
 * scheduler puts it: on two CPUs, mostly the other one.
 */
export function pinnedCpus(layout: PinLayout, cpus = os.availableParallelism()): PinnedCpus {
  if (layout === 'split' && cpus < 2) throw new UsageError(`--pin split needs 2 CPUs or more: this machine has ${cpus}; use --pin shared`);
  const last = cpus - 1;
  return layout === 'split' ? { proxy: [last], upstream: [last - 1] } : { proxy: [last], upstream: [last] };
}

/** Fails in one line, before anything starts, where taskset is missing (util-linux). */
export function assertCanPin(): void {
  if (process.platform !== 'linux') throw new UsageError(`--pin: pinning processes to CPUs needs Linux's taskset (this is ${process.platform}): leave --pin out`);
  if (!which('taskset')) throw new UsageError('--pin needs taskset: apt-get install util-linux');
}

/** The command that starts `command args` on these CPUs (or as it is, with none). */
export function onCpus(cpus: readonly number[] | undefined, command: string, args: readonly string[]): [string, string[]] {
  return cpus && cpus.length > 0 ? ['taskset', ['-c', cpus.join(','), command, ...args]] : [command, [...args]];
}
