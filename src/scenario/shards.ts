// Sharding a sweep over machines (a CI matrix, a Kubernetes Indexed Job): which topologies
// shard I of N measures. Pure, so the rules are unit-tested without a sweep.
//
// The unit dealt out is a topology group (the cells that share one started proxy and upstream),
// not a single cell: a group's methods fire interleaved on the same lanes, so splitting GET and
// POST of one topology over two machines would change each one's load, and a cell's schedule
// would depend on N. A cell's trials and interval thus always come from one machine.
//
// Assignment is the test runners' (vitest --shard, Playwright, Jest): each key is hashed, the
// keys are sorted by hash and sliced into N contiguous runs as even as can be. The hash of a
// key does not depend on the order flags listed values in, nor on N's other keys, so the same
// matrix gives every shard the same slice on every machine.
import { createHash } from 'node:crypto';

export interface ShardSpec {
  /** 1-based, as `--shard I/N` says it. */
  index: number;
  count: number;
}

/** A stable 32-bit number from a text (the first 4 bytes of its SHA-256). */
export function keyHash(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0);
}

/**
 * The keys shard `index` of `count` takes: sorted by hash (ties by key), sliced into `count`
 * runs whose lengths differ by at most one. A shard past the keys' number takes none.
 */
export function shardSlice(keys: readonly string[], shard: ShardSpec): string[] {
  const hashes = new Map([...new Set(keys)].map((key) => [key, keyHash(key)]));
  const sorted = [...hashes.keys()].sort((a, b) => hashes.get(a)! - hashes.get(b)! || (a < b ? -1 : a > b ? 1 : 0));
  const base = Math.floor(sorted.length / shard.count);
  const extra = sorted.length % shard.count;
  // The first `extra` shards take one key more.
  const start = (shard.index - 1) * base + Math.min(shard.index - 1, extra);
  const length = base + (shard.index <= extra ? 1 : 0);
  return sorted.slice(start, start + length);
}

/** The groups shard `shard` measures, in the matrix's order (every group when unsharded). */
export function groupsOfShard<G extends { key: string }>(groups: readonly G[], shard: ShardSpec | undefined): G[] {
  if (!shard) return [...groups];
  const taken = new Set(shardSlice(groups.map((group) => group.key), shard));
  return groups.filter((group) => taken.has(group.key));
}

/**
 * What must match for shards to be parts of one sweep: every setting that changes what is
 * measured, as canonical JSON (keys sorted), hashed. Left out: where the run writes (`out`),
 * which shard it is, whether packets were kept, and the programs' paths (every `...Bin`
 * setting: their versions are compared apart, in the manifest).
 */
export const NOT_THE_MATRIX = new Set(['out', 'shard', 'capture', 'captureLimit', 'runtime', 'command', 'traffic', 'trafficPool']);

export function matrixHash(settings: Record<string, unknown>): string {
  // A list setting is a set of values to measure: its order is not part of the matrix.
  const kept = Object.fromEntries(Object.entries(settings).filter(([key, value]) => !NOT_THE_MATRIX.has(key) && !key.endsWith('Bin') && value !== undefined)
    .map(([key, value]) => [key, Array.isArray(value) ? [...value].sort((a, b) => (canonicalJson(a) < canonicalJson(b) ? -1 : 1)) : value]));
  return createHash('sha256').update(canonicalJson(kept)).digest('hex').slice(0, 16);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The environment variable a Kubernetes Indexed Job sets in each pod (0-based). */
export const INDEX_VARIABLE = 'JOB_COMPLETION_INDEX';

const SHARD_PATTERN = /^(\d+|auto)\/(\d+)$/;

/**
 * `I/N` (1-based), or `auto/N`: I is JOB_COMPLETION_INDEX + 1, as a Kubernetes Indexed Job
 * numbers its pods from 0. Throws the problem in words (the caller adds the flag's name).
 */
export function parseShard(text: string, env: NodeJS.ProcessEnv = process.env): ShardSpec {
  const match = SHARD_PATTERN.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a shard: give I/N, e.g. 2/4 (the second of four), or auto/N to read ${INDEX_VARIABLE}`);
  const count = Number(match[2]);
  if (count < 1 || count > 10_000) throw new Error(`"${text}": N must be from 1 to 10000`);
  let index: number;
  if (match[1] === 'auto') {
    const raw = env[INDEX_VARIABLE];
    if (raw === undefined || !/^\d+$/.test(raw)) {
      throw new Error(`auto/${count} reads ${INDEX_VARIABLE} (0-based, set by a Kubernetes Indexed Job), which is ${raw === undefined ? 'not set' : `"${raw}"`}: set it, or give I/${count}`);
    }
    index = Number(raw) + 1;
  } else index = Number(match[1]);
  if (index < 1 || index > count) throw new Error(`"${text}": I must be from 1 to ${count}${match[1] === 'auto' ? ` (${INDEX_VARIABLE} from 0 to ${count - 1})` : ''}`);
  return { index, count };
}

export function shardText(shard: ShardSpec): string {
  return `${shard.index}/${shard.count}`;
}
