// Appends history records to a JSON-lines file as they happen, and reads a stored one back.
import fs from 'node:fs';
import type { HistoryRecord } from './records.js';

export interface HistorySink {
  append(record: HistoryRecord): void;
  close(): Promise<void>;
}

/**
 * A file sink. Records go through a write stream (one syscall per batch, not per trial).
 * close() runs on every exit path the harness controls (cleanup.ts); a kill -9 loses at most
 * what the stream had not yet handed to the kernel, and the reader skips a torn last line.
 */
export function openHistoryFile(path: string): HistorySink {
  const stream = fs.createWriteStream(path, { flags: 'a' });
  return {
    append(record) {
      stream.write(JSON.stringify(record) + '\n');
    },
    close() {
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

export function readHistoryFile(path: string): HistoryRecord[] {
  const records: HistoryRecord[] = [];
  for (const line of fs.readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as HistoryRecord);
    } catch {
      // A run killed mid-write leaves a torn last line; everything before it stands.
    }
  }
  return records;
}
