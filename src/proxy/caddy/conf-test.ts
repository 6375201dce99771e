// `caddy adapt --validate`: Caddy's own verdict on a Caddyfile, before anything starts.
import { spawnSync } from 'node:child_process';

/** Null when Caddy accepts the Caddyfile, else its complaint ("Caddyfile:6: unrecognized directive: foo"). */
export function testCaddyfile(binary: string, confPath: string, env: Record<string, string>): string | null {
  const result = spawnSync(binary, ['adapt', '--config', confPath, '--adapter', 'caddyfile', '--validate'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
  if (result.status === 0) return null;
  const lines = `${result.stderr}${result.stdout}`.split('\n').map((line) => line.trim()).filter(Boolean);
  const complaint = lines.find((line) => line.startsWith('Error:')) ?? lines.at(-1) ?? `exit ${result.status}`;
  return complaint.replace(/^Error:\s*/, '');
}
