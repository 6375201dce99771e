// Whether an address a proxy's config listens on is loopback: the gate runs proxies reachable
// from this host only. Read from each proxy's own view of its config (nginx -T, caddy adapt,
// HAProxy's sections) before it starts; the kernel's view (listen-guard.ts) checks it after.

/** A host (no port) on the loopback: 127.0.0.0/8, ::1, localhost. An empty host or a wildcard is every address. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) || bare === '::1' || bare === 'localhost' || bare === '::ffff:127.0.0.1';
}

/** The host of "host:port", "[v6]:port", ":port" or "port" (empty: no host, so every address). */
export function hostOf(address: string): string {
  if (/^\d+$/.test(address)) return '';
  const v6 = /^\[([^\]]*)\](?::\d+)?$/.exec(address);
  if (v6) return v6[1]!;
  const colon = address.lastIndexOf(':');
  return colon < 0 ? address : address.slice(0, colon);
}

/** An address that stays on this host: a loopback host, or a unix socket. */
export function staysOnHost(address: string): boolean {
  if (/^unix[:@/]/.test(address) || address.startsWith('/')) return true;
  return isLoopbackHost(hostOf(address));
}
