// `nginx -t`: nginx's own verdict on a config, before anything starts.
import { spawnSync } from 'node:child_process';

/**
 * `nginx -t` of a config file: null when nginx accepts it, else nginx's own first complaint
 * (e.g. 'unknown directive "foo" in /path/nginx.conf:12').
 */
export function testNginxConf(binary: string, prefix: string, confPath: string): string | null {
  const result = spawnSync(binary, ['-t', '-p', prefix, '-c', confPath, '-e', 'stderr'], { encoding: 'utf8', timeout: 30_000 });
  if (result.status === 0) return null;
  const lines = `${result.stderr}${result.stdout}`.split('\n');
  const complaint = lines.find((line) => /\[(emerg|alert|crit)\]/.test(line)) ?? lines.find((line) => line.trim() !== '') ?? `exit ${result.status}`;
  // "nginx: [emerg] ..." (the -t preamble) or "2026/11/24 08:59:27 [emerg] 23228#23228: ..." (the log).
  return complaint.replace(/^nginx: /, '').replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: /, '$1 ').trim();
}
