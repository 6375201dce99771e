// `keepalive-lab merge DIR... --out DIR`: the shards of one sweep, measured on several
// machines, as one run directory. The records are kept as they were, each tagged with its
// shard; every figure of the merged reports is computed again from them (a cell is one
// shard's, so its interval is its own; nothing is averaged). What does not fit together is
// refused before anything is written: other versions, another matrix, a shard twice.
import fs from 'node:fs';
import path from 'node:path';
import type { RunAnalysis } from '../analysis/analyze-history.js';
import { shardManifest } from '../analysis/shard-manifest.js';
import { openHistoryFile, readHistoryFile } from '../history/history-file.js';
import type { HistoryRecord, MergeRecord, RunRecord, ShardManifest } from '../history/records.js';
import { joinVersions } from '../history/run-versions.js';
import { HISTORY_FILE, writeRunOutputs } from '../report/write-outputs.js';
import { UsageError } from '../util/errors.js';
import { HARNESS_VERSION } from '../util/machine.js';
import { assertNewRunDir } from '../util/out-dir.js';
import { CAPTURE_FOLDER } from '../capture/wire-capture.js';

export interface MergeOptions {
  dirs: readonly string[];
  out: string;
  /** Told each shard's torn last line, if one was (a pod killed mid-write). */
  onTornLine?: (file: string, line: number) => void;
}

export interface MergeOutcome {
  analysis: RunAnalysis;
  merge: MergeRecord;
}

interface ReadShard {
  dir: string;
  history: HistoryRecord[];
  run: RunRecord;
  manifest: ShardManifest;
}

export async function mergeRuns(options: MergeOptions): Promise<MergeOutcome> {
  if (options.dirs.length === 0) throw new UsageError('merge: give the run directories of the shards, e.g. keepalive-lab merge shard-1 shard-2 --out merged');
  assertNewRunDir(options.out, HISTORY_FILE, '--out');
  const shards = options.dirs.map((dir) => readShard(dir, options.onTornLine)).sort((a, b) => a.manifest.shard.index - b.manifest.shard.index);
  assertOneSweep(shards);
  const count = shards[0]!.manifest.shard.count;
  const present = new Set(shards.map((shard) => shard.manifest.shard.index));
  const merge: MergeRecord = {
    type: 'merge', mergedAt: new Date().toISOString(), harness: HARNESS_VERSION, matrixHash: shards[0]!.manifest.matrixHash, count,
    shards: shards.map((shard) => ({ ...shard.manifest, from: shard.dir })),
    missing: Array.from({ length: count }, (_, i) => i + 1).filter((index) => !present.has(index)),
  };
  fs.mkdirSync(options.out, { recursive: true });
  const records = mergedRecords(shards, merge);
  copyCaptures(shards, records, options.out);
  const history = openHistoryFile(path.join(options.out, HISTORY_FILE));
  for (const record of records) history.append(record);
  await history.close();
  return { analysis: await writeRunOutputs(options.out, records), merge };
}

function readShard(dir: string, onTornLine?: (file: string, line: number) => void): ReadShard {
  const file = path.join(dir, HISTORY_FILE);
  if (!fs.existsSync(file)) throw new UsageError(`merge: ${dir} has no ${HISTORY_FILE}: give the --out directory of each shard (sweep --shard I/N --out DIR)`);
  const history = readHistoryFile(file, (line) => onTornLine?.(file, line));
  if (history.some((r) => r.type === 'merge')) throw new UsageError(`merge: ${dir} is a merge already: give the shards' own directories`);
  const run = history.find((r): r is RunRecord => r.type === 'run');
  const manifest = shardManifest(history);
  if (!run || !manifest) throw new UsageError(`merge: ${dir} is not a shard of a sweep (its run has no --shard): run each part with sweep --shard I/N`);
  return { dir, history, run, manifest };
}

/** The shards must be parts of one sweep, each given once. */
function assertOneSweep(shards: readonly ReadShard[]): void {
  const first = shards[0]!;
  for (const shard of shards.slice(1)) {
    const { manifest } = shard;
    if (manifest.harness !== first.manifest.harness) {
      throw new UsageError(`merge: ${shard.dir} was measured by keepalive-lab ${manifest.harness}, ${first.dir} by ${first.manifest.harness}: run every shard with one version`);
    }
    if (manifest.matrixHash !== first.manifest.matrixHash || manifest.shard.count !== first.manifest.shard.count) {
      throw new UsageError(`merge: ${shard.dir} is part of another sweep than ${first.dir} (matrix ${manifest.matrixHash} of ${manifest.shard.count} shards, not ${first.manifest.matrixHash} of ${first.manifest.shard.count}): give the shards of one sweep, run with the same settings and N`);
    }
  }
  for (const [i, shard] of shards.entries()) {
    const twice = shards.slice(i + 1).find((other) => other.manifest.shard.index === shard.manifest.shard.index);
    if (twice) throw new UsageError(`merge: shard ${shard.manifest.shard.index}/${shard.manifest.shard.count} is given twice (${shard.dir} and ${twice.dir}): give each shard once`);
  }
}

/**
 * The merged history: a run record for the whole sweep (the first shard's settings, without
 * its shard), the merge record, then each shard's records tagged with it, its own run record
 * kept as a `shard-run`.
 */
function mergedRecords(shards: readonly ReadShard[], merge: MergeRecord): HistoryRecord[] {
  const first = shards[0]!.run;
  const { shard: _shard, out: _out, ...settings } = first.settings;
  const startedAt = shards.map((shard) => shard.run.startedAt).sort()[0]!;
  const runtimes = [...new Set(shards.map((shard) => shard.run.runtime))];
  const run: RunRecord = {
    type: 'run', startedAt, monotonicAtStart: first.monotonicAtStart, runtime: runtimes.join(', '), proxy: first.proxy,
    harness: merge.harness, versions: joinVersions(...shards.map((shard) => shard.manifest.versions)), settings,
  };
  const records: HistoryRecord[] = [run, merge];
  for (const shard of shards) {
    const index = shard.manifest.shard.index;
    for (const record of shard.history) {
      records.push(record.type === 'run' ? ({ ...record, type: 'shard-run', shard: index } as unknown as HistoryRecord) : ({ ...record, shard: index } as HistoryRecord));
    }
  }
  return records;
}

/** Each shard's packets, copied into capture/shard-I/, and its capture records pointed there. */
function copyCaptures(shards: readonly ReadShard[], records: HistoryRecord[], out: string): void {
  for (const [i, record] of records.entries()) {
    if (record.type !== 'capture') continue;
    const index = record.shard!;
    const from = shards.find((shard) => shard.manifest.shard.index === index)!.dir;
    const target = path.posix.join(CAPTURE_FOLDER, `shard-${index}`, path.basename(record.file));
    fs.mkdirSync(path.join(out, path.dirname(target)), { recursive: true });
    const prefix = path.basename(record.file);
    // A shard's history is data: its packets are read from its capture/ folder and nowhere else.
    const sourceDir = path.join(from, CAPTURE_FOLDER);
    if (path.posix.dirname(record.file) !== CAPTURE_FOLDER) continue;
    // The ring's files: FILE0, FILE1, ... and a resume's FILE.r1.pcap0 ... (capture/wire-capture.ts).
    for (const name of fs.existsSync(sourceDir) ? fs.readdirSync(sourceDir) : []) {
      if (!name.startsWith(prefix)) continue;
      const source = path.join(sourceDir, name);
      if (fs.lstatSync(source).isFile()) fs.copyFileSync(source, path.join(out, path.dirname(target), name));
    }
    records[i] = { ...record, file: target };
  }
}
