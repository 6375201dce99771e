// Appends history records to a JSON-lines file as they happen, and reads a stored one back.
import fs from 'node:fs';
import type { HistoryRecord } from './records.js';

/** Any record with a type: the sweep's, or a command's own beside them (the gate's verdict). */
interface Typed { type: string }

export interface HistorySink<R extends Typed = HistoryRecord> {
  append(record: R): void;
  close(): Promise<void>;
}

/**
 * A file sink. Records go through a write stream (one syscall per batch, not per trial).
 * close() runs on every exit path the harness controls (cleanup.ts); a kill -9 loses at most
 * what the stream had not yet handed to the kernel, and the reader skips a torn last line.
 */
export function openHistoryFile<R extends Typed = HistoryRecord>(path: string): HistorySink<R> {
  const stream = fs.createWriteStream(path, { flags: 'a' });
  // A line a reader hands over after the run has ended (a proxy's log being drained) is dropped,
  // not written after the end of the stream.
  let closed = false;
  return {
    append(record) {
      if (!closed) stream.write(JSON.stringify(record) + '\n');
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise((resolve) => stream.end(resolve));
    },
  };
}

/** A sink that keeps records in memory (suites and library calls without an output dir). */
export function memoryHistory(): HistorySink & { records: HistoryRecord[] } {
  const records: HistoryRecord[] = [];
  return { records, append: (record) => void records.push(record), close: async () => {} };
}

/** Fans one record out to several sinks. */
export function teeHistory(...sinks: HistorySink[]): HistorySink {
  return {
    append: (record) => sinks.forEach((sink) => sink.append(record)),
    close: async () => void (await Promise.all(sinks.map((sink) => sink.close()))),
  };
}

export function readHistoryFile<R extends Typed = HistoryRecord>(path: string): R[] {
  const records: R[] = [];
  for (const line of fs.readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as R);
    } catch {
      // A run killed mid-write leaves a torn last line; everything before it stands.
    }
  }
  return records;
}
