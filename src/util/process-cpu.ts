// CPU time of processes and of the machine, read from /proc: what the harness's own firing
// cost the proxy and the upstream (the window widens when the proxy's event loop is busy, so
// a measured window comes with the load it was measured under), and what a capture's tcpdump
// took.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond: number | undefined;

/** The kernel's clock ticks per second (utime and stime count in them). */
function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

/** Fields of /proc/PID/stat after the command name (which may hold spaces), or null once it exited. */
function statFields(pid: string): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** utime + stime of a whole process (all its threads), in clock ticks; null once it exited. */
export function cpuTicks(pid: string): number | null {
  const fields = statFields(pid);
  return fields === null ? null : Number(fields[11]) + Number(fields[12]);
}

/** A process and its descendants (nginx's master and its workers), from the parent links in /proc. */
function processTree(rootPid: number): string[] {
  const childrenOf = new Map<string, string[]>();
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const parent = statFields(pid)?.[1];
    if (parent === undefined) continue;
    childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), pid]);
  }
  const tree = [String(rootPid)];
  for (let i = 0; i < tree.length; i++) tree.push(...(childrenOf.get(tree[i]!) ?? []));
  return tree;
}

/** CPU milliseconds a process tree has used so far; null where /proc does not show it (not Linux, or gone). */
export function processTreeCpuMs(rootPid: number): number | null {
  if (!fs.existsSync(`/proc/${rootPid}/stat`)) return null;
  let ticks = 0;
  for (const pid of processTree(rootPid)) ticks += cpuTicks(pid) ?? 0;
  return (ticks / clockTicks()) * 1000;
}

/** The machine's CPU time so far (all cores, clock ticks): total, idle (with I/O wait) and stolen by the hypervisor. */
export interface MachineCpuTimes {
  total: number;
  idle: number;
  steal: number;
}

export function machineCpuTimes(): MachineCpuTimes | null {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
    return { total: user! + nice! + system! + idle! + iowait! + irq! + softirq! + steal!, idle: idle! + iowait!, steal: steal! };
  } catch {
    return null;
  }
}

/** Between two readings: the share of the machine's CPU that was busy (stolen time included) and that was stolen. */
export function machineShares(before: MachineCpuTimes, after: MachineCpuTimes): { busy: number; steal: number } | null {
  const total = after.total - before.total;
  if (total <= 0) return null;
  return { busy: 1 - (after.idle - before.idle) / total, steal: (after.steal - before.steal) / total };
}
