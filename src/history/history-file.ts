// Appends history records to a JSON-lines file as they happen, and reads a stored one back.
import fs from 'node:fs';
import { UsageError } from '../util/errors.js';
import type { HistoryRecord } from './records.js';

/** Any record with a type: the sweep's, or a command's own beside them (the gate's verdict). */
interface Typed { type: string }

export interface HistorySink<R extends Typed = HistoryRecord> {
  append(record: R): void;
  /** Resolves once everything appended so far is on disk; rejects with the write's error. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** A history that could not be written (a full disk, a removed directory): one line, its path. */
export class HistoryWriteError extends Error {}

/**
 * A file sink. Records go through a write stream (one syscall per batch, not per trial).
 * close() runs on every exit path the harness controls (cleanup.ts); a kill -9 loses at most
 * what the stream had not yet handed to the kernel, and the reader skips a torn last line.
 * A failed write is kept, not thrown from the stream (that would end the process with a stack
 * trace): the next flush() or close() rejects with it, and appends after it are dropped.
 */
export function openHistoryFile<R extends Typed = HistoryRecord>(path: string): HistorySink<R> {
  const stream = fs.createWriteStream(path, { flags: 'a' });
  let failure: HistoryWriteError | null = null;
  const failWith = (error: NodeJS.ErrnoException) => {
    failure ??= new HistoryWriteError(`cannot write ${path}: ${error.code ?? error.message}${error.code === 'ENOSPC' ? ' (the disk is full)' : ''}; what was written before stands`);
  };
  stream.on('error', failWith);
  // A line a reader hands over after the run has ended (a proxy's log being drained) is dropped,
  // not written after the end of the stream.
  let closed = false;
  const failed = () => (failure ? Promise.reject(failure) : Promise.resolve());
  return {
    append(record) {
      if (!closed && !failure) stream.write(JSON.stringify(record) + '\n');
    },
    flush() {
      if (closed || failure) return failed();
      // The write callback runs once everything before it has been handed to the kernel; the
      // fsync then puts it on disk, so that a crash after a cell loses nothing of that cell.
      return new Promise<void>((resolve) => {
        stream.write('', (writeError) => {
          if (writeError) failWith(writeError);
          // fs.WriteStream holds its descriptor in `fd` (untyped in @types/node).
          const fd = (stream as unknown as { fd: number | null }).fd;
          if (failure || typeof fd !== 'number') return resolve();
          fs.fsync(fd, (error) => {
            // EINVAL: a file that cannot be synced (a pipe, a device): written is all there is.
            if (error && error.code !== 'EINVAL') failWith(error);
            resolve();
          });
        });
      }).then(failed);
    },
    close() {
      if (closed) return failed();
      closed = true;
      return new Promise<void>((resolve) => {
        stream.end(() => resolve());
        // After an error the stream is destroyed and end's callback may never come.
        stream.once('close', () => resolve());
      }).then(failed);
    },
  };
}

/** A sink that keeps records in memory (suites and library calls without an output dir). */
export function memoryHistory(): HistorySink & { records: HistoryRecord[] } {
  const records: HistoryRecord[] = [];
  return { records, append: (record) => void records.push(record), flush: async () => {}, close: async () => {} };
}

/** Fans one record out to several sinks. */
export function teeHistory(...sinks: HistorySink[]): HistorySink {
  return {
    append: (record) => sinks.forEach((sink) => sink.append(record)),
    flush: async () => void (await Promise.all(sinks.map((sink) => sink.flush()))),
    close: async () => void (await Promise.all(sinks.map((sink) => sink.close()))),
  };
}

/** A history file that is not one: a line in the middle that is no record. One line, where. */
export class HistoryReadError extends UsageError {}

/**
 * Every record of a stored history. A torn last line (a run killed mid-write: no newline after
 * it) is skipped and reported through `onTornLine`; any other line that is not a JSON object
 * with a `type` is an error naming the file and line, never skipped: a report over a history
 * that silently lost lines would be a report of something else.
 */
export function readHistoryFile<R extends Typed = HistoryRecord>(path: string, onTornLine: (line: number) => void = () => {}): R[] {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (error) {
    throw new HistoryReadError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const records: R[] = [];
  const lines = text.split('\n');
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      record = undefined;
    }
    if (typeof record === 'object' && record !== null && !Array.isArray(record) && typeof (record as Typed).type === 'string') {
      records.push(record as R);
      continue;
    }
    const torn = index === lines.length - 1 && record === undefined;
    if (torn) {
      onTornLine(index + 1);
      continue;
    }
    throw new HistoryReadError(`${path}:${index + 1}: not a history record (${JSON.stringify(line.slice(0, 40))}): a run directory holds what keepalive-lab wrote; restore the line or remove it`);
  }
  return records;
}
