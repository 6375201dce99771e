// In a merge of shards, each shard's records are on its own machine's clock and its own
// connection numbers: a trial's story is told from its shard's records alone.
import type { HistoryRecord } from './records.js';

/** The records of `shard` (with the merge's own run record); the whole history when unsharded. */
export function shardScope(history: readonly HistoryRecord[], shard: number | undefined): readonly HistoryRecord[] {
  if (shard === undefined) return history;
  return history.filter((record) => record.type === 'run' || (record as { shard?: number }).shard === shard);
}
