// Debian's tcpdump, run for the length of one topology: a ring of bounded files in the run
// directory, so a capture of any length takes at most its ring's files x fileBytes of disk.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { processTreeCpuMs } from '../util/process-cpu.js';
import { startChild } from '../util/child.js';
import { UsageError } from '../util/errors.js';
import { which } from '../util/which.js';

export interface Ring {
  files: number;
  /** tcpdump starts the next file once one is larger than this: a file may hold one packet more. */
  fileBytes: number;
}

/**
 * The ring a limit (millions of bytes) becomes: up to 10 files (tcpdump -W) of whole millions of
 * bytes (-C takes nothing finer), so a ring can hold at most files x (fileBytes + one packet).
 * At this harness's ~145 bytes a packet and ~13 packets a trial, 200 MB holds about 100,000
 * trials (measured: 4,891 packets, 706 KB, for a sweep of 380 trials with its probe).
 */
export function ringFor(limitMb: number): Ring {
  const files = Math.min(10, Math.max(1, Math.floor(limitMb)));
  return { files, fileBytes: Math.floor(limitMb / files) * 1_000_000 };
}

/** Bytes kept of each packet: the headers and the request line with its trial id (a whole
 *  request of this harness fits; a long body is cut, which the ladder does not need). */
export const SNAPLEN = 512;

const CAPTURE_INSTALL = 'run scripts/setup.sh --capture (or apt-get install tcpdump)';

export interface CaptureStats {
  /** What tcpdump said when it stopped: packets written, and those the kernel dropped. */
  captured: number | null;
  dropped: number | null;
  /** tcpdump's own CPU over the capture (ms) and the capture's length (s): what capturing cost. */
  cpuMs: number | null;
  seconds: number;
}

export interface RunningCapture {
  /** Stops tcpdump (it writes out its buffer first) and returns its counts. */
  stop(): Promise<CaptureStats>;
}

/** tcpdump's path, or a one-line error naming the fix. */
export function tcpdumpBinary(): string {
  const binary = which('tcpdump');
  if (!binary) throw new UsageError(`--capture needs tcpdump, which is not installed: ${CAPTURE_INSTALL}`);
  return binary;
}

/**
 * Fails with one line when this process may not capture on `iface` (tcpdump needs CAP_NET_RAW):
 * compiling a filter for the interface opens it, and captures nothing.
 */
function checkCapturePrivilege(binary: string, iface: string): void {
  const result = spawnSync(binary, ['-i', iface, '-d', 'tcp'], { encoding: 'utf8', timeout: 10_000 });
  if (result.status === 0) return;
  const said = `${result.stderr ?? ''}`.trim().split('\n')[0] ?? '';
  const why = /permission|not permitted/i.test(said) ? 'this user may not capture packets' : `tcpdump failed: ${said || result.error?.message || `exit ${result.status}`}`;
  throw new UsageError(`--capture: ${why}; run as root, or let tcpdump capture (setcap cap_net_raw,cap_net_admin=eip ${binary})`);
}

/** Before anything starts: tcpdump is there, and this process may capture. */
export function assertCanCapture(): void {
  // A container network's bridge takes the same privilege, and exists only once a topology runs.
  checkCapturePrivilege(tcpdumpBinary(), 'lo');
}

export interface TcpdumpStart {
  binary: string;
  iface: string;
  filter: string;
  /** The ring's base path: tcpdump writes `${file}0`, `${file}1`, ... */
  file: string;
  ring: Ring;
}

/** Starts tcpdump and resolves once it listens (packets from then on are in the ring). */
export async function startTcpdump(start: TcpdumpStart): Promise<RunningCapture> {
  const stderr: string[] = [];
  let listening: () => void = () => {};
  const ready = new Promise<void>((resolve) => { listening = resolve; });
  const child = startChild(start.binary, [
    '-i', start.iface, '-n', '-s', String(SNAPLEN),
    // A 4 MiB kernel buffer: tcpdump's default (2 MiB) dropped packets on bursts of 128 lanes.
    '-B', '4096',
    // Packet-buffered: what was captured is on disk when a run is interrupted.
    '-U',
    // tcpdump running as root changes to its own user after opening the interface, which may not
    // write the run directory: stay this process's user.
    '-Z', os.userInfo().username,
    '-C', String(start.ring.fileBytes / 1_000_000), '-W', String(start.ring.files),
    '-w', start.file, start.filter,
  ], {
    // Its own process group: a terminal's Ctrl-C reaches the whole foreground group, and tcpdump
    // stopped by it at once would lose its last block (see wire-capture.ts); the harness's
    // cleanup stops it after the wait instead, and the reaper if the harness dies.
    detached: true,
    onStderrLine: (line) => {
      stderr.push(line);
      if (line.includes('listening on')) listening();
    },
  });
  const exited = child.exited.then((code) => {
    listening();
    return code;
  });
  await Promise.race([ready, exited]);
  if (child.process.exitCode !== null || child.process.signalCode !== null) {
    throw new Error(`tcpdump did not start: ${stderr.filter((line) => !line.includes('listening on')).join(' ').trim() || `exit ${child.process.exitCode}`}`);
  }
  const startedAt = performance.now();
  return {
    async stop() {
      const cpuMs = child.process.pid === undefined ? null : processTreeCpuMs(child.process.pid);
      const seconds = Math.round((performance.now() - startedAt) / 10) / 100;
      await child.stop();
      await exited;
      const count = (what: string) => {
        const line = stderr.find((text) => text.endsWith(what));
        return line ? Number(line.split(' ')[0]) : null;
      };
      return { captured: count('packets captured'), dropped: count('packets dropped by kernel'), cpuMs: cpuMs === null ? null : Math.round(cpuMs), seconds };
    },
  };
}
