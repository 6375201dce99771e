// What the upstream program prints: its ready line ({"event":"listening",...}) and, with
// `--events -`, its connection events ({"t":..,"ev":..}), one JSON object per line.
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
