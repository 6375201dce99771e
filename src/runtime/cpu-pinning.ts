// Where the proxy and the upstream run on the machine's CPUs (`--pin`). Left to the scheduler,
// the two land on one core in some runs and on two in others, and the window moves with it:
// measured here (2 vCPUs, K 10 ms, POST, 30 s soaks at 100/s), nginx and the upstream on one
// core failed 169 and 208 per 10,000, on two 40 and 43; unpinned, 17 to 116 (docs/predict.md).
// Pinning holds the layout still, so that runs compare. Processes are started under
// `taskset -c`, so that every process and thread they make keeps the CPUs; the harness itself
// moves to the CPUs left, where there are any, so that it does not take turns with them.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { UsageError } from '../util/errors.js';
import { which } from '../util/which.js';

export const PIN_LAYOUTS = ['split', 'shared'] as const;

/** The CPUs this process may use, read once before any pinning narrows them (numbered 0..n-1). */
const MACHINE_CPUS = os.availableParallelism();
export type PinLayout = (typeof PIN_LAYOUTS)[number];

/** The CPUs each part runs on (numbers as Linux counts them); the harness's, where any are left. */
export interface PinnedCpus {
  proxy: number[];
  upstream: number[];
  harness: number[] | null;
}

/**
 * `split`: the proxy on the last CPU, the upstream on the one before it (as on a host where the
 * two do not share a core); `shared`: both on the last CPU. The harness gets the CPUs before
 * them: with `shared` from 2 CPUs on, with `split` from 3 (on 2, it shares one with them).
 */
export function pinnedCpus(layout: PinLayout, cpus = MACHINE_CPUS): PinnedCpus {
  if (layout === 'split' && cpus < 2) throw new UsageError(`--pin split needs 2 CPUs or more: this machine has ${cpus}; use --pin shared`);
  const last = cpus - 1;
  const firstTaken = layout === 'split' ? last - 1 : last;
  const harness = firstTaken > 0 ? Array.from({ length: firstTaken }, (_, cpu) => cpu) : null;
  return layout === 'split' ? { proxy: [last], upstream: [last - 1], harness } : { proxy: [last], upstream: [last], harness };
}

/**
 * Moves this process (every thread) to the harness's CPUs, and returns what puts it back: a
 * library call leaves its caller as it found it.
 */
export function pinHarness(cpus: PinnedCpus): () => void {
  if (!cpus.harness) return () => {};
  const pid = String(process.pid);
  const before = /affinity list: (\S+)/.exec(spawnSync('taskset', ['-c', '-p', pid], { encoding: 'utf8' }).stdout ?? '')?.[1];
  spawnSync('taskset', ['-a', '-c', '-p', cpus.harness.join(','), pid], { stdio: 'ignore' });
  return () => {
    if (before) spawnSync('taskset', ['-a', '-c', '-p', before, pid], { stdio: 'ignore' });
  };
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
