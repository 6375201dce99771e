// Checks on a run directory named by --out, before anything starts.
import fs from 'node:fs';
import path from 'node:path';
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

/**
 * A run directory for a new run: a directory or nothing yet, and not one whose history file
 * already holds records. `fix` is the advice after "choose another directory".
 */
export function assertNewRunDir(dir: string, historyFile: string, flag = '--out', fix = ''): void {
  assertDirectoryOrAbsent(dir, flag);
  const history = path.join(dir, historyFile);
  if (fs.existsSync(history) && fs.statSync(history).size > 0) throw new UsageError(`${flag} ${dir} already holds a run (${historyFile}): choose another directory${fix}`);
}
