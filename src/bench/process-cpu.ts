// CPU time of the topology's processes while a benchmark runs, by role (nginx, the upstream,
// the fault layer), read from /proc: the processes are children of the runtime, out of the
// benchmark's reach, and gone when the sweep returns, so they are sampled while it runs.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpuTicks } from '../util/process-cpu.js';

function commandLine(pid: string): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return null;
  }
}

export interface CpuSampler {
  /** Takes a last sample and returns CPU ms per role (processes whose command line matched). */
  stop(): Record<string, number>;
}

/**
 * Samples every `intervalMs`. A process's CPU is the most its counter reached, so one that
 * exits loses at most its last interval (idle, at the end of a run). Only processes that start
 * after this call count: a role's pattern may match processes of other runs otherwise.
 */
export function sampleProcessCpu(roles: Record<string, RegExp>, intervalMs = 200): CpuSampler {
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const preexisting = new Set(fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)));
  const roleOf = new Map<string, string>();
  const ticksOf = new Map<string, number>();
  const sample = () => {
    for (const pid of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(pid) || preexisting.has(pid)) continue;
      if (!roleOf.has(pid)) {
        // Not remembered when nothing matched: a child between fork and exec still shows its
        // parent's command line.
        const line = commandLine(pid);
        const role = line === null ? undefined : Object.entries(roles).find(([, pattern]) => pattern.test(line))?.[0];
        if (role === undefined) continue;
        roleOf.set(pid, role);
      }
      const ticks = cpuTicks(pid);
      if (ticks !== null) ticksOf.set(pid, Math.max(ticks, ticksOf.get(pid) ?? 0));
    }
  };
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const msOf: Record<string, number> = Object.fromEntries(Object.keys(roles).map((role) => [role, 0]));
      for (const [pid, ticks] of ticksOf) msOf[roleOf.get(pid)!]! += (ticks / ticksPerSecond) * 1000;
      return msOf;
    },
  };
}
