import fs from 'node:fs';
import path from 'node:path';

/** Finds an executable on PATH (plus the sbin folders, where Debian puts nginx). */
export function which(command: string): string | null {
  if (command.includes('/')) return isExecutable(command) ? command : null;
  const folders = (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/sbin', '/usr/local/sbin', '/sbin']);
  for (const folder of folders) {
    if (!folder) continue;
    const candidate = path.join(folder, command);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** What a version command printed, for a message: its first line, or how it ended. */
export function describeOutput(result: { stdout: string | null; stderr: string | null; status: number | null; error?: Error }): string {
  const first = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n')[0];
  if (first) return `printed "${first.slice(0, 80)}"`;
  if (result.error) return `failed (${(result.error as NodeJS.ErrnoException).code ?? result.error.message})`;
  return `printed nothing and exited ${result.status ?? 'on a signal'}`;
}
