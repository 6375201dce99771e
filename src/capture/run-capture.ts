// A run directory's captures, searched for one trial: each capture the history records is read
// (once) until one holds the trial's request.
import type { CaptureEndRecord, CaptureRecord, HistoryRecord, TrialRecord } from '../history/records.js';
import { readCapture, type CaptureReading } from './capture-reader.js';
import { trialPackets, type TrialPackets } from './trial-packets.js';
import { shardScope } from '../history/shard-scope.js';

export interface TrialWire {
  found: TrialPackets | null;
  capture: CaptureReading | null;
  /** Why no packets were found, in a sentence (null when found). */
  missing: string | null;
}

/** Reads a run's captures lazily and finds trials in them. */
export function runCaptures(runDir: string, history: readonly HistoryRecord[]) {
  const records = history.filter((r): r is CaptureRecord => r.type === 'capture');
  const ends = history.filter((r): r is CaptureEndRecord => r.type === 'capture-end');
  const readings = new Map<CaptureRecord, CaptureReading | null>();
  const problems: string[] = [];
  // A capture that cannot be read (cut short, its anchors lost) leaves its trials without
  // packets, and the reports say why: it never stops them from being written.
  const read = (record: CaptureRecord) => {
    if (!readings.has(record)) {
      try {
        readings.set(record, readCapture(runDir, record));
      } catch (error) {
        problems.push((error as Error).message);
        readings.set(record, null);
      }
    }
    return readings.get(record)!;
  };
  return {
    captured: records.length > 0,
    find(trial: TrialRecord): TrialWire {
      if (records.length === 0) return { found: null, capture: null, missing: 'this run captured no packets (run it with --capture)' };
      // A merge's shards each captured on their own clock: only the trial's shard is searched.
      const scoped = shardScope(history, trial.shard);
      for (const record of records) {
        if (record.shard !== trial.shard) continue;
        const capture = read(record);
        const found = capture ? trialPackets(capture, scoped, trial) : null;
        if (found && capture) return { found, capture, missing: null };
      }
      // The gate leaves the trial's id out of requests an upstream refused with a query string.
      const run = history.find((r) => r.type === 'run');
      if (run?.type === 'run' && run.settings.trialsTagged === false) {
        return { found: null, capture: null, missing: 'the gate\'s requests carried no trial id (the upstream refused a query string), so a trial\'s packets cannot be told from the others\'; open the capture/ files in Wireshark' };
      }
      const dropped = ends.reduce((sum, end) => sum + (end.dropped ?? 0), 0);
      if (problems.length > 0) return { found: null, capture: null, missing: `a capture could not be read: ${problems[0]}` };
      return {
        found: null, capture: null,
        missing: `no capture holds this trial's request: the ring keeps the newest ${records[0]!.ring.files} x ${records[0]!.ring.fileBytes / 1e6} MB of each topology${dropped > 0 ? `, and the kernel dropped ${dropped} packets` : ''}`,
      };
    },
  };
}
