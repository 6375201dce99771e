// tcpdump stamps packets with the wall clock; the history runs on the monotonic clock. To put
// both on one timeline the harness sends a UDP datagram (an anchor) across the captured interface
// ten times a second, and reads the monotonic clock just before the send and just after the
// datagram went to the kernel (and the capture). The next anchor carries those two
// readings: each pair brackets the wall-clock stamp the capture gave the earlier one. (Pairing
// the clocks once from Node is not enough: performance.timeOrigin differed by 1.2 ms between two
// processes; and a reading put in the datagram itself was 0.05-0.1 ms early, the send's own time.)
import dgram from 'node:dgram';
import { monotonicMs } from '../workload/clock.js';
import type { AnchorPath } from '../vocabulary.js';

export const ANCHOR_TAG = 'keepalive-lab-clock ';
// Ten a second: a small ring on a busy run keeps under a second of packets, and each file
// should hold pairs (an anchor is paired by the next one).
const ANCHOR_EVERY_MS = 100;
/** Where anchors to a container go: the discard port, on which nothing listens there. */
const DISCARD_PORT = 9;
/** A bracket wider than this (the process was descheduled in the send) pairs nothing. */
export const MAX_BRACKET_MS = 0.2;

export interface ClockAnchors {
  /** The UDP port the anchors go to (the capture's filter must include it). */
  port: number;
  /** Sends the last anchors and stops. */
  stop(): Promise<void>;
}

/**
 * Sends anchors until stopped, from a UDP socket of its own: to itself on 127.0.0.1 (the local
 * runtime's loopback), or along `path` (across a container network's bridge, to the discard
 * port of a container, where nothing listens; an unconnected socket ignores the ICMP answer).
 * The socket is bound to the loopback or to the bridge's own address, never to every interface.
 * The first anchor goes once `beforeFirst` (given the socket's port, e.g. to start the capture
 * that must see it) resolved.
 */
export async function startClockAnchors(path: AnchorPath | undefined, beforeFirst: (port: number) => Promise<void>): Promise<ClockAnchors> {
  const socket = dgram.createSocket('udp4');
  // Anchors to itself arrive back at this socket; reading them is not needed.
  socket.on('message', () => {});
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, path?.from ?? '127.0.0.1', () => resolve());
  });
  const port = socket.address().port;
  const to = path === undefined ? { host: '127.0.0.1', port } : { host: path.to, port: DISCARD_PORT };
  let sequence = 0;
  let previous = '-';
  const send = () => new Promise<void>((resolve) => {
    const sent = sequence;
    sequence += 1;
    const before = monotonicMs();
    // dgram looks an address up on the next tick, then hands the datagram to the kernel within
    // the send: a tick queued after it runs once the datagram is out.
    socket.send(`${ANCHOR_TAG}${sent} ${previous}`, to.port, to.host);
    process.nextTick(() => {
      previous = `${sent} ${before} ${monotonicMs()}`;
      resolve();
    });
  });
  try {
    await beforeFirst(port);
  } catch (error) {
    socket.close();
    throw error;
  }
  await send();
  const timer = setInterval(() => void send(), ANCHOR_EVERY_MS);
  timer.unref();
  return {
    port,
    async stop() {
      clearInterval(timer);
      // Two: the second carries the first's bracket.
      await send();
      await send();
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}

export interface AnchorPacket {
  wallMs: number;
  payload: Buffer;
}

/** Pairs the anchors' wall-clock stamps with the monotonic readings that bracket their sends. */
export interface AnchorPair {
  wallMs: number;
  monotonicMs: number;
  /** Half the bracket: how far the pairing may be off. */
  errorMs: number;
}

export function anchorPairs(packets: readonly AnchorPacket[]): AnchorPair[] {
  const wallOf = new Map<number, number>();
  const brackets: { sequence: number; before: number; after: number }[] = [];
  for (const packet of packets) {
    const text = packet.payload.toString('latin1');
    if (!text.startsWith(ANCHOR_TAG)) continue;
    const [sequence, previous, before, after] = text.slice(ANCHOR_TAG.length).split(' ').map(Number);
    if (!Number.isInteger(sequence)) continue;
    wallOf.set(sequence!, packet.wallMs);
    if (Number.isInteger(previous) && Number.isFinite(before) && Number.isFinite(after)) brackets.push({ sequence: previous!, before: before!, after: after! });
  }
  const paired = brackets.flatMap(({ sequence, before, after }) => {
    const wallMs = wallOf.get(sequence);
    return wallMs === undefined ? [] : [{ wallMs, monotonicMs: (before + after) / 2, errorMs: (after - before) / 2 }];
  });
  const narrow = paired.filter((pair) => pair.errorMs * 2 <= MAX_BRACKET_MS);
  // On a machine that stalled in every send, the narrowest bracket is the best pairing there is.
  return narrow.length > 0 ? narrow : [...paired].sort((a, b) => a.errorMs - b.errorMs).slice(0, 1);
}

/**
 * Maps the capture's wall-clock stamps to the monotonic clock: between two anchors by
 * interpolating their pairings (the wall clock may be slewed meanwhile), outside them by the
 * nearest. Null without an anchor.
 */
export function wallToMonotonic(anchors: readonly { wallMs: number; monotonicMs: number }[]): ((wallMs: number) => number) | null {
  const sorted = [...anchors].sort((a, b) => a.wallMs - b.wallMs);
  if (sorted.length === 0) return null;
  return (wallMs) => {
    let after = sorted.findIndex((anchor) => anchor.wallMs >= wallMs);
    if (after === -1) after = sorted.length - 1;
    const next = sorted[after]!;
    const previous = sorted[Math.max(0, after - 1)]!;
    if (next === previous || next.wallMs === previous.wallMs || wallMs > next.wallMs) return wallMs + (next.monotonicMs - next.wallMs);
    const share = (wallMs - previous.wallMs) / (next.wallMs - previous.wallMs);
    const offset = (previous.monotonicMs - previous.wallMs) + share * ((next.monotonicMs - next.wallMs) - (previous.monotonicMs - previous.wallMs));
    return wallMs + offset;
  };
}
