// What an nginx `include` names, read from disk: one file, or the files a wildcard in its last
// path component matches, in the order nginx includes them (glob(3) sorts by name).
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../util/errors.js';
import type { IncludedFile } from '../gate-flavour.js';

const WILDCARD = /[*?[]/;

export function readNginxInclude(pattern: string): IncludedFile[] {
  const dir = path.dirname(pattern);
  const name = path.basename(pattern);
  if (WILDCARD.test(dir)) throw new UsageError(`include ${pattern}: the gate follows wildcards in the file name only, not in directories: name the directory`);
  if (!WILDCARD.test(name)) return fs.existsSync(pattern) && fs.statSync(pattern).isFile() ? [{ path: pattern, text: fs.readFileSync(pattern, 'utf8') }] : [];
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return []; // nginx includes nothing for a glob over a missing directory
  }
  const matcher = globToRegExp(name);
  return entries.filter((entry) => matcher.test(entry) && fs.statSync(path.join(dir, entry)).isFile())
    .sort()
    .map((entry) => ({ path: path.join(dir, entry), text: fs.readFileSync(path.join(dir, entry), 'utf8') }));
}

/** glob(3) for one path component: `*`, `?`, `[...]`; a leading dot is matched only by a dot. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) source += '\\[';
      else {
        const body = glob.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\');
        source += `[${body}]`;
        i = close;
      }
    } else source += char.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${glob.startsWith('.') ? '' : '(?!\\.)'}${source}$`);
}
