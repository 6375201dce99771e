// What a Caddyfile listens on, read as Caddy reads it: `caddy adapt` turns it (imports and
// snippets expanded, default_bind applied) into Caddy's JSON config, whose servers list their
// listener addresses. An address with no host listens on every interface.
import { spawnSync } from 'node:child_process';
import { staysOnHost } from '../listen-address.js';

interface AdaptedConfig {
  admin?: { disabled?: boolean; listen?: string };
  apps?: { http?: { servers?: Record<string, { listen?: string[] }> } };
}

/** The listeners of the adapted config that reach past this host, in words. */
export function offLoopbackCaddyListens(binary: string, confPath: string, env: Record<string, string>): string[] {
  const result = spawnSync(binary, ['adapt', '--config', confPath, '--adapter', 'caddyfile'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) return [];
  let config: AdaptedConfig;
  try {
    config = JSON.parse(result.stdout) as AdaptedConfig;
  } catch {
    return [];
  }
  return offLoopbackInAdapted(config);
}

export function offLoopbackInAdapted(config: AdaptedConfig): string[] {
  const found: string[] = [];
  for (const [name, server] of Object.entries(config.apps?.http?.servers ?? {})) {
    // "tcp/0.0.0.0:80", "udp/[::]:443", ":8080", "127.0.0.1:8080-8085".
    for (const listen of server.listen ?? []) {
      const address = listen.replace(/^(tcp|udp|tcp4|tcp6|udp4|udp6)\//, '').replace(/-\d+$/, '');
      if (!staysOnHost(address)) found.push(`${listen} (server ${name})`);
    }
  }
  if (config.admin && !config.admin.disabled && config.admin.listen && !staysOnHost(config.admin.listen.replace(/^tcp\//, ''))) found.push(`the admin endpoint ${config.admin.listen}`);
  return found;
}
