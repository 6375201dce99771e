// Faults: toxics as a cell carries them. A fault is named on the command line as
// TYPE:STREAM[:VALUE][:KEY=VALUE...], e.g. latency:upstream:10ms,
// slow_close:downstream:20ms, latency:downstream:10ms:jitter=2ms, bandwidth:downstream:100
// (KB/s), limit_data:downstream:500 (bytes), reset_peer:upstream:0ms:toxicity=0.1.
import { z } from 'zod';
import { parseDuration } from '../util/duration.js';
import { MAX_TOXIC_ATTRIBUTE } from './limits.js';

export interface Fault {
  type: string;
  stream: 'upstream' | 'downstream';
  attributes: Record<string, number>;
  toxicity: number;
}

/** Per toxic type: the attribute VALUE sets, and which attributes are durations in ms. */
const FAULT_TYPES: Record<string, { main: string; durations: string[]; known: string[] }> = {
  latency: { main: 'latency', durations: ['latency', 'jitter'], known: ['latency', 'jitter'] },
  bandwidth: { main: 'rate', durations: [], known: ['rate'] },
  slow_close: { main: 'delay', durations: ['delay'], known: ['delay'] },
  timeout: { main: 'timeout', durations: ['timeout'], known: ['timeout'] },
  reset_peer: { main: 'timeout', durations: ['timeout'], known: ['timeout'] },
  slicer: { main: 'average_size', durations: [], known: ['average_size', 'size_variation', 'delay'] },
  limit_data: { main: 'bytes', durations: [], known: ['bytes'] },
};

export function parseFaultSpec(spec: string): Fault {
  const [type = '', stream = '', ...rest] = spec.split(':');
  const known = FAULT_TYPES[type];
  if (!known) throw new Error(`fault "${spec}": unknown type "${type}" (one of ${Object.keys(FAULT_TYPES).join(', ')})`);
  if (stream !== 'upstream' && stream !== 'downstream') throw new Error(`fault "${spec}": stream must be upstream or downstream, got "${stream}"`);
  const attributes: Record<string, number> = {};
  let toxicity = 1;
  for (const [index, part] of rest.entries()) {
    const [key, value] = part.includes('=') ? part.split('=', 2) as [string, string] : [index === 0 ? known.main : '', part];
    if (key === 'toxicity') {
      toxicity = Number(value);
      if (!(toxicity >= 0 && toxicity <= 1)) throw new Error(`fault "${spec}": toxicity must be in [0, 1]`);
      continue;
    }
    if (!known.known.includes(key)) throw new Error(`fault "${spec}": ${type} has no attribute "${key || part}" (${known.known.join(', ')}, toxicity)`);
    let number: number;
    try {
      number = known.durations.includes(key) ? parseDuration(value) : Number(value);
    } catch (error) {
      throw new Error(`fault "${spec}": ${(error as Error).message}`);
    }
    if (!Number.isFinite(number) || number < 0) throw new Error(`fault "${spec}": ${key} must be a non-negative ${known.durations.includes(key) ? 'duration' : 'number'}`);
    if (number > MAX_TOXIC_ATTRIBUTE) throw new Error(`fault "${spec}": ${key} must be at most ${MAX_TOXIC_ATTRIBUTE}${known.durations.includes(key) ? ' ms' : ''}`);
    // Toxiproxy's attributes are integers (ms, KB/s, bytes).
    attributes[key] = Math.round(number);
  }
  return { type, stream, attributes, toxicity };
}

/** A short, stable name for a fault set, for cell ids and tables ("none" for no faults). */
export function faultsLabel(faults: readonly Fault[]): string {
  if (faults.length === 0) return 'none';
  return faults.map((fault) => [fault.type, fault.stream,
    ...Object.entries(fault.attributes).filter(([, v]) => v !== 0).map(([k, v]) => (k === FAULT_TYPES[fault.type]?.main ? String(v) : `${k}=${v}`)),
    ...(fault.toxicity !== 1 ? [`toxicity=${fault.toxicity}`] : [])].join(':')).join('+');
}

const faultObjectSchema = z.object({
  type: z.enum(Object.keys(FAULT_TYPES) as [string, ...string[]]),
  stream: z.enum(['upstream', 'downstream']).default('downstream'),
  attributes: z.record(z.string(), z.number().nonnegative().max(MAX_TOXIC_ATTRIBUTE)).default({}),
  toxicity: z.number().min(0).max(1).default(1),
}).strict();

/**
 * A fault in a config file: the spec string, or the object form Toxiproxy's API takes. (Not a
 * z.union: a union reports "Invalid input" instead of what is wrong with the spec.)
 */
export const faultSchema = z.unknown().transform((value, ctx): Fault => {
  if (typeof value === 'string') {
    try {
      return parseFaultSpec(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  }
  const parsed = faultObjectSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  ctx.addIssue({ code: 'custom', message: `${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message} (or give a spec like "latency:upstream:10ms")` });
  return z.NEVER;
});
