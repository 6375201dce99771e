// Appends history records to a JSON-lines file as they happen, and reads a stored one back.
import fs from 'node:fs';
import { UsageError } from '../util/errors.js';
import { APPEND_NO_FOLLOW, openRegularFile } from '../util/run-dir-files.js';
import { recordProblem } from './record-schemas.js';
import type { HistoryRecord } from './records.js';

/** Any record with a type: the sweep's, or a command's own beside them (the gate's verdict). */
interface Typed { type: string }

/** A run directory's history: every record, one JSON line each, in the order it happened. */
export const HISTORY_FILE = 'trials.jsonl';

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
  // Appended to, never through a symlink (a resumed run's directory may have been prepared).
  let fd: number;
  try {
    fd = fs.openSync(path, APPEND_NO_FOLLOW, 0o644);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot write ${path}: ${code === 'ELOOP' ? 'it is a symlink; a run directory\'s history is written only as a regular file inside it' : code ?? (error as Error).message}`);
  }
  const stream = fs.createWriteStream(path, { fd });
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

/** What a stored history may be: past these it is not one keepalive-lab wrote (its records are a few hundred bytes, nested a few levels). */
export const HISTORY_LIMITS = { fileBytes: 512 * 1024 * 1024, lineBytes: 8 * 1024 * 1024, depth: 64 };

/**
 * Every record of a stored history, read as a stream of lines: the file must be a regular file
 * (run-dir-files.ts), each line and the file are bounded, and a line nested deeper than a record
 * is refused before it is parsed (JSON.parse recurses). A torn last line (a run killed
 * mid-write: no newline after it) is skipped and reported through `onTornLine`; any other line
 * that is not a JSON object with a `type` is an error naming the file and line, never skipped:
 * a report over a history that silently lost lines would be a report of something else.
 */
export function readHistoryFile<R extends Typed = HistoryRecord>(path: string, onTornLine: (line: number) => void = () => {}, limits = HISTORY_LIMITS): R[] {
  let fd: number;
  try {
    fd = openRegularFile(path);
  } catch (error) {
    throw new HistoryReadError((error as Error).message);
  }
  const records: R[] = [];
  try {
    const size = fs.fstatSync(fd).size;
    if (size > limits.fileBytes) throw new HistoryReadError(`${path} is ${Math.round(size / 2 ** 20)} MiB, past the ${Math.round(limits.fileBytes / 2 ** 20)} MiB a history may be: it is not one keepalive-lab wrote`);
    const chunk = Buffer.alloc(1024 * 1024);
    let carry = Buffer.alloc(0);
    let lineNumber = 0;
    const take = (bytes: Buffer, last: boolean) => {
      lineNumber++;
      const record = parseLine(bytes.toString('utf8'), `${path}:${lineNumber}`, limits.depth);
      if (record === BLANK) return;
      if (record !== null) {
        const problem = recordProblem(record);
        if (problem) throw new HistoryReadError(`${path}:${lineNumber}: ${problem}: a run directory holds what keepalive-lab wrote; restore the line or remove it`);
        return void records.push(record as R);
      }
      if (last) return onTornLine(lineNumber);
      throw new HistoryReadError(`${path}:${lineNumber}: not a history record (${JSON.stringify(bytes.subarray(0, 40).toString('utf8'))}): a run directory holds what keepalive-lab wrote; restore the line or remove it`);
    };
    for (;;) {
      const read = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      let data = carry.length === 0 ? chunk.subarray(0, read) : Buffer.concat([carry, chunk.subarray(0, read)]);
      for (let newline = data.indexOf(10); newline >= 0; newline = data.indexOf(10)) {
        take(data.subarray(0, newline), false);
        data = data.subarray(newline + 1);
      }
      if (data.length > limits.lineBytes) throw new HistoryReadError(`${path}:${lineNumber + 1}: a line longer than ${Math.round(limits.lineBytes / 2 ** 20)} MiB: not a history record`);
      // Copied: the chunk buffer is reused by the next read.
      carry = Buffer.from(data);
    }
    if (carry.length > 0) take(carry, true);
  } finally {
    fs.closeSync(fd);
  }
  return records;
}

const BLANK = Symbol('blank');

/** A line's record, BLANK for an empty line, null for one that is not a record (the caller says how). */
function parseLine(line: string, where: string, maxDepth: number): Typed | null | typeof BLANK {
  if (line.trim() === '') return BLANK;
  if (nestingDepth(line, maxDepth) > maxDepth) throw new HistoryReadError(`${where}: nested deeper than ${maxDepth} levels: not a history record`);
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return null;
  }
  return typeof record === 'object' && record !== null && !Array.isArray(record) && typeof (record as Typed).type === 'string' ? (record as Typed) : null;
}

/** The deepest nesting of objects and arrays in a JSON text (strings skipped), counted up to just past `stopAbove`. */
function nestingDepth(text: string, stopAbove: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 92) i++; // backslash: the next character is escaped
      else if (char === 34) inString = false;
    } else if (char === 34) inString = true;
    else if (char === 123 || char === 91) {
      deepest = Math.max(deepest, ++depth);
      if (deepest > stopAbove) return deepest;
    } else if (char === 125 || char === 93) depth--;
  }
  return deepest;
}
