// A run's capture read back: the ring's files that are left, their packets decoded and put on
// the history's monotonic clock by the clock anchors. The files are data from a run directory:
// read only inside its capture/ folder, never through a symlink.
import fs from 'node:fs';
import path from 'node:path';
import type { CaptureRecord } from '../history/records.js';
import { openRegularFile } from '../util/run-dir-files.js';
import { anchorPairs, wallToMonotonic } from './clock-anchors.js';
import { decodePacket, type DecodedSegment } from './packet-decode.js';
import { readPcap, type PcapPacket } from './pcap-format.js';
import { CAPTURE_FOLDER } from './wire-capture.js';

export interface CapturedPacket extends DecodedSegment {
  /** When the kernel saw it, on the history's monotonic clock (ms). */
  atMs: number;
  /** The packet as captured, to write back out (`explain --pcap`). */
  raw: PcapPacket;
}

export interface CaptureReading {
  record: CaptureRecord;
  linkType: number;
  snaplen: number;
  /** TCP packets of the topology, in the order the kernel saw them. */
  packets: CapturedPacket[];
  /** The ring's files read (the oldest may have been overwritten: the ring keeps the newest). */
  files: string[];
  anchors: number;
  /** How far the packets' times may be off the history's clock (the widest bracket used). */
  clockErrorMs: number;
}

/** The ring's files of `record` in `runDir`, oldest packets first. */
function captureFiles(runDir: string, record: CaptureRecord): string[] {
  // capture/, or a merge's capture/shard-I/: a history is data, so no other folder is read.
  const named = path.posix.dirname(record.file);
  const folder = path.join(runDir, /^capture(\/shard-\d+)?$/.test(named) ? named : CAPTURE_FOLDER);
  const base = path.basename(record.file);
  let names: string[];
  try {
    names = fs.readdirSync(folder);
  } catch {
    return [];
  }
  return names.filter((name) => name.startsWith(base) && /^\d+$/.test(name.slice(base.length))).map((name) => path.join(folder, name));
}

/** Reads the capture; null when none of its files are left. */
export function readCapture(runDir: string, record: CaptureRecord): CaptureReading | null {
  const files = captureFiles(runDir, record);
  if (files.length === 0) return null;
  let linkType = 1;
  let snaplen = record.snaplen;
  const raw: PcapPacket[] = [];
  for (const file of files) {
    const fd = openRegularFile(file);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    // A ring file tcpdump had only just opened holds no header yet.
    if (bytes.length === 0) continue;
    const parsed = readPcap(bytes);
    ({ linkType, snaplen } = parsed);
    raw.push(...parsed.packets);
  }
  raw.sort((a, b) => a.wallMs - b.wallMs);
  const decoded = raw.flatMap((packet) => {
    const segment = decodePacket(linkType, packet.data);
    return segment ? [{ ...segment, raw: packet }] : [];
  });
  const anchors = anchorPairs(decoded.filter((segment) => segment.protocol === 'udp' && (segment.srcPort === record.anchorPort || segment.dstPort === record.anchorPort))
    .map((segment) => ({ wallMs: segment.raw.wallMs, payload: segment.payload })));
  const toMonotonic = wallToMonotonic(anchors);
  if (!toMonotonic) throw new Error(`${files.join(', ')}: no clock anchor in the capture, so its packets cannot be put on the history's clock`);
  const packets = decoded.filter((segment) => segment.protocol === 'tcp')
    .map((segment) => ({ ...segment, atMs: Math.round(toMonotonic(segment.raw.wallMs) * 1000) / 1000 }));
  return { record, linkType, snaplen, packets, files, anchors: anchors.length, clockErrorMs: Math.max(...anchors.map((anchor) => anchor.errorMs)) };
}
