// Checks on a run directory named by --out, before anything starts.
import fs from 'node:fs';
import { UsageError } from './errors.js';

/** `--out` may name a directory or nothing yet; a file (or a path through one) is bad input. */
export function assertDirectoryOrAbsent(dir: string, flag = '--out'): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw new UsageError(`${flag} ${dir}: ${code === 'ENOTDIR' ? 'a part of the path is a file' : code}: give a directory for the run`);
  }
  if (!stat.isDirectory()) throw new UsageError(`${flag} ${dir}: is a file, not a directory: give a directory for the run`);
}
