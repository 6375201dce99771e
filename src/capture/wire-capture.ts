// `--capture`: tcpdump on a started topology's traffic for as long as it runs, with the clock
// anchors that put its packets on the history's clock. The history names the ring's files and
// who listens on each port, so `explain` reads the packets back from the run directory alone.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { HistorySink } from '../history/history-file.js';
import type { WireListener, WireScope } from '../history/records.js';
import { onCleanup } from '../util/cleanup.js';
import { startClockAnchors } from './clock-anchors.js';
import { SNAPLEN, startTcpdump, tcpdumpBinary, type Ring, type RunningCapture } from './tcpdump.js';

/** The folder of a run directory the captures go into. */
export const CAPTURE_FOLDER = 'capture';

/** tcpdump's packet-buffer timeout (ms): see stop(). */
const BLOCK_TIMEOUT_MS = 1000;


export interface WireCapture {
  stop(): Promise<void>;
}

/** The capture filter: the listeners' TCP ports (both directions) and the anchors' UDP port. */
function captureFilter(listeners: readonly WireListener[], anchorPort: number): string {
  const ports = [...new Set(listeners.map((listener) => listener.port))].map((port) => `port ${port}`).join(' or ');
  return `(tcp and (${ports})) or (udp and port ${anchorPort})`;
}

/** A file name from a group key (e.g. "P60000-K100-exact"), safe in a path. */
function fileStem(group: string): string {
  return group.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * A ring name no file in `folder` uses yet: a resumed sweep captures its topologies again, and
 * tcpdump would write over the first segment's ring.
 */
function freeRingName(folder: string, stem: string): string {
  const taken = new Set(fs.readdirSync(folder));
  for (let segment = 0; ; segment++) {
    const name = segment === 0 ? `${stem}.pcap` : `${stem}.r${segment}.pcap`;
    if (![...taken].some((file) => file.startsWith(name))) return name;
  }
}

/**
 * Starts capturing `scope` into `runDir`/capture/ and records it in the history. tcpdump listens
 * before this resolves, and the first anchor is sent after it does.
 */
export async function startWireCapture(scope: WireScope, runDir: string, group: string, history: HistorySink, ring: Ring): Promise<WireCapture> {
  const folder = path.join(runDir, CAPTURE_FOLDER);
  fs.mkdirSync(folder, { recursive: true });
  const file = path.join(CAPTURE_FOLDER, freeRingName(folder, fileStem(group)));
  // The anchors' socket first (its port goes in the filter), then tcpdump, then the first anchor.
  const started: { tcpdump?: RunningCapture } = {};
  const anchors = await startClockAnchors(scope.anchor, async (port) => {
    started.tcpdump = await startTcpdump({ binary: tcpdumpBinary(), iface: scope.iface, filter: captureFilter(scope.listeners, port), file: path.join(runDir, file), ring });
  });
  history.append({ type: 'capture', group, file, iface: scope.iface, listeners: scope.listeners, anchorPort: anchors.port, ring, snaplen: SNAPLEN });
  // On every path, Ctrl-C included: registered after the topology, so stopped before it.
  const stop = onCleanup(async () => {
    await anchors.stop();
    // libpcap takes packets from the kernel a block at a time, and hands over a block that is
    // not full only once tcpdump's 1 s timeout passes: stopped at once, tcpdump lost the last
    // 0.4-1 s of a sweep (57 of its 300 trials). --immediate-mode would not lose them, but
    // would wake tcpdump for every packet, on the cores the measurement shares.
    await delay(BLOCK_TIMEOUT_MS + 200);
    const stats = await started.tcpdump!.stop();
    history.append({ type: 'capture-end', group, ...stats });
  });
  return { stop };
}
