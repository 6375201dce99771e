// Renders Caddy's JSON config for a topology: one server on the listen address, one route per
// lane (its path), each with its own reverse_proxy handler, hence its own transport and pool.
// JSON rather than a Caddyfile: it says exactly what runs (a Caddyfile site address also
// listens on every interface and matches on the Host header).
import { lanePath } from '../lanes.js';

export const CADDY_RETRY_POLICIES = ['default', 'lb_retries'] as const;
export type CaddyRetryPolicy = (typeof CADDY_RETRY_POLICIES)[number];

export function isCaddyRetryPolicy(policy: string): policy is CaddyRetryPolicy {
  return (CADDY_RETRY_POLICIES as readonly string[]).includes(policy);
}

export interface CaddySpec {
  lanes: number;
  /** The http transport's `keepalive` (P): how long Caddy keeps an idle upstream connection. */
  keepaliveTimeoutMs: number;
  /** Idle connections kept per lane's pool (`keepalive_idle_conns_per_host`). */
  keepaliveConnections: number;
  retry: CaddyRetryPolicy;
}

export interface CaddyAddresses {
  /** Where Caddy listens, as `host:port`. */
  listen: string;
  /** Where Caddy sends requests (the upstream, or a fault layer in front of it), as `host:port`. */
  upstream: string;
}

/**
 * Caddy's own retries per policy. `default` is Caddy's: no load-balancing retries (what Go's
 * http.Transport does by itself on a reused connection still happens). `lb_retries`: three
 * retries of any request, whatever its method (`lb_retries 3`, `lb_retry_match` all methods).
 */
function loadBalancing(retry: CaddyRetryPolicy): Record<string, unknown> | undefined {
  if (retry === 'default') return undefined;
  return { retries: 3, retry_match: [{ method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] }] };
}

const NS_PER_MS = 1_000_000;

export function renderCaddyConf(spec: CaddySpec, addresses: CaddyAddresses): string {
  const balancing = loadBalancing(spec.retry);
  const routes = Array.from({ length: spec.lanes }, (_, lane) => ({
    match: [{ path: [`${lanePath(lane)}*`] }],
    handle: [{
      handler: 'reverse_proxy',
      upstreams: [{ dial: addresses.upstream }],
      ...(balancing ? { load_balancing: balancing } : {}),
      transport: {
        protocol: 'http',
        keep_alive: {
          idle_timeout: spec.keepaliveTimeoutMs * NS_PER_MS,
          max_idle_conns_per_host: spec.keepaliveConnections,
        },
      },
    }],
    terminal: true,
  }));
  const config = {
    // No admin endpoint (nothing else may drive it) and no config saved outside the run.
    admin: { disabled: true, config: { persist: false } },
    // Its log on stderr as JSON lines: the reverse proxy's errors (a 502 and why) are read live.
    logging: { logs: { default: { writer: { output: 'stderr' }, encoder: { format: 'json' }, level: 'INFO' } } },
    apps: {
      http: {
        servers: {
          lanes: {
            listen: [addresses.listen],
            routes,
            automatic_https: { disable: true },
          },
        },
      },
    },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
