// What the upstream program prints: its ready line ({"event":"listening",...}) and, with
// `--events -`, its connection events ({"t":..,"ev":..}), one JSON object per line.
import fs from 'node:fs';
import type { UpstreamEventRecord } from '../history/records.js';

export type UpstreamLine =
  | { kind: 'listening'; port: number; node: string }
  | { kind: 'event'; event: UpstreamEventRecord };

export function parseUpstreamLine(line: string): UpstreamLine | null {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (parsed.event === 'listening') return { kind: 'listening', port: Number(parsed.port), node: String(parsed.node) };
  if (typeof parsed.t === 'number' && typeof parsed.ev === 'string') return { kind: 'event', event: { type: 'upstream', ...parsed } as unknown as UpstreamEventRecord };
  return null;
}

/**
 * Reads an events file (`--events FILE`) as it grows: each call returns the events written since
 * the last one. The program buffers its writes, so a call may end mid-line; that part waits.
 */
export function eventFileReader(eventsPath: string): () => UpstreamEventRecord[] {
  let offset = 0;
  let carry = '';
  return () => {
    if (!fs.existsSync(eventsPath)) return [];
    const fd = fs.openSync(eventsPath, 'r');
    const fresh = Buffer.alloc(Math.max(0, fs.fstatSync(fd).size - offset));
    fs.readSync(fd, fresh, 0, fresh.length, offset);
    fs.closeSync(fd);
    offset += fresh.length;
    const lines = (carry + fresh.toString('utf8')).split('\n');
    carry = lines.pop() ?? '';
    return lines.flatMap((line) => {
      const parsed = parseUpstreamLine(line);
      return parsed?.kind === 'event' ? [parsed.event] : [];
    });
  };
}
