// The files of a run directory, written and read as data that someone else may have prepared
// (a directory handed over for `report DIR`, a CI artifact): a name in it may be a symlink to
// anywhere. Outputs are written beside their name and renamed onto it, so a symlink there is
// replaced, never written through; inputs are opened without following a symlink, and only a
// regular file is read (a FIFO would block the reader for ever).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from './errors.js';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_WRONLY, O_CREAT, O_EXCL, O_APPEND } = fs.constants;

/** Open flags for appending to a run's history: never through a symlink. */
export const APPEND_NO_FOLLOW = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW;

/** Writes `text` as `dir/name`: into a new file beside it, then renamed onto the name. */
export function writeRunFile(dir: string, name: string, text: string): void {
  const target = path.join(dir, name);
  const existing = statOrNull(target);
  if (existing?.isDirectory()) throw new UsageError(`${target} is a directory: a run directory's ${name} is a file keepalive-lab writes; remove it`);
  const beside = path.join(dir, `.${name}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  // O_EXCL: the new name must not exist at all (not even as a symlink), so nothing is followed.
  const fd = fs.openSync(beside, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
  try {
    fs.writeFileSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(beside, target);
  } catch (error) {
    fs.rmSync(beside, { force: true });
    throw error;
  }
}

/**
 * Opens `file` for reading if it is a regular file (not a symlink, a FIFO, a device or a
 * directory); else a UsageError naming it. The caller closes the descriptor.
 */
export function openRegularFile(file: string): number {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO would otherwise wait for a writer.
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new UsageError(`${file} is a symlink: a run directory's files are read only as regular files inside it`);
    throw new UsageError(`cannot read ${file}: ${code ?? (error as Error).message}`);
  }
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw new UsageError(`${file} is not a regular file (${stat.isDirectory() ? 'a directory' : stat.isFIFO() ? 'a FIFO' : 'a special file'}): a run directory's files are read only as regular files`);
  }
  return fd;
}

function statOrNull(file: string): fs.Stats | null {
  try {
    return fs.lstatSync(file);
  } catch {
    return null;
  }
}
