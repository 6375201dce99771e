// nginx 1.29.7 (2026-03-24) pools upstream connections without being told: an upstream block
// with no `keepalive` behaves as `keepalive 32 local`, and `proxy_http_version` defaults to 1.1
// (nginx's CHANGES for 1.29.7; the keepalive module, commits 4fbe4b627 and 6bb27a631). A config
// that never reuses a connection on Debian 12's 1.22 therefore races after an upgrade. Pure.

/** The first nginx that pools upstream connections by default, and how many it keeps. */
export const DEFAULT_POOLING_SINCE = '1.29.7';
export const DEFAULT_KEEPALIVE_CONNECTIONS = 32;

/** Whether this nginx version (as `nginx -v` prints it: 1.22.1) pools upstream connections with no `keepalive`. */
export function poolsByDefault(version: string): boolean {
  const parts = version.split('.').map(Number);
  const since = DEFAULT_POOLING_SINCE.split('.').map(Number);
  if (parts.length < 2 || parts.some(Number.isNaN)) return false;
  for (let i = 0; i < since.length; i++) {
    const part = parts[i] ?? 0;
    if (part !== since[i]) return part > since[i]!;
  }
  return true;
}
