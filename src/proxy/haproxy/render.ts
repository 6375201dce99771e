// Renders haproxy.cfg for a topology: one frontend, one backend per lane (each with its own
// server connection), routed by the lane's path. The HAProxy counterpart of nginx/render.ts.
import { laneUpstreamName } from '../lanes.js';

export const HAPROXY_RETRY_POLICIES = ['default', 'off', 'all_retryable'] as const;
export type HaproxyRetryPolicy = (typeof HAPROXY_RETRY_POLICIES)[number];

export function isHaproxyRetryPolicy(policy: string): policy is HaproxyRetryPolicy {
  return (HAPROXY_RETRY_POLICIES as readonly string[]).includes(policy);
}

export interface HaproxySpec {
  lanes: number;
  /** `timeout http-keep-alive` (P): how long HAProxy keeps an idle keep-alive session. */
  keepaliveTimeoutMs: number;
  retry: HaproxyRetryPolicy;
  /** `http-reuse`: `safe` is HAProxy's default. */
  httpReuse: 'safe' | 'always' | 'never';
}

export interface HaproxyAddresses {
  /** Where HAProxy listens, as `host:port`. */
  listen: string;
  /** Where HAProxy sends requests (the upstream, or a fault layer in front of it), as `host:port`. */
  upstream: string;
}

/**
 * HAProxy's retry settings per policy. `default` is HAProxy's own (`retries 3`, `retry-on
 * conn-failure`): a reused connection that fails before any response is not retried, and the
 * client's connection is closed without a status. `all_retryable` retries that too
 * (`retry-on all-retryable-errors`, which includes `empty-response`), POST included.
 */
const RETRY_LINES: Record<HaproxyRetryPolicy, string[]> = {
  default: [],
  off: ['retries 0'],
  all_retryable: ['retries 3', 'retry-on all-retryable-errors'],
};

/**
 * The access-log line, one per request HAProxy answered: trial-bearing request line, status,
 * termination state and retry count. A request HAProxy drops without an answer (the race on a
 * reused server connection) writes no line at all: the client's record is the only evidence.
 */
export const HAPROXY_LOG_FORMAT = 'keepalive-lab status=%ST term=%ts retries=%rc tr=%Tr req=%{+Q}r';

export function renderHaproxyConf(spec: HaproxySpec, addresses: HaproxyAddresses): string {
  const backends: string[] = [];
  for (let lane = 0; lane < spec.lanes; lane++) {
    backends.push(`backend ${laneUpstreamName(lane)}\n    server upstream ${addresses.upstream}\n`);
  }
  return [
    '# Rendered by keepalive-lab (src/proxy/haproxy/render.ts) from a typed spec.',
    'global',
    // stderr, read live by the harness, which stamps each line with milliseconds.
    '    log stderr format raw local0 info',
    '    nbthread 1',
    `    maxconn ${Math.max(4096, spec.lanes * 8 + 256)}`,
    '',
    'defaults',
    '    mode http',
    '    log global',
    `    log-format "${HAPROXY_LOG_FORMAT}"`,
    '    option http-keep-alive',
    `    http-reuse ${spec.httpReuse}`,
    '    timeout connect 5s',
    '    timeout client 300s',
    '    timeout server 300s',
    `    timeout http-keep-alive ${spec.keepaliveTimeoutMs}ms`,
    ...RETRY_LINES[spec.retry].map((line) => `    ${line}`),
    '',
    'frontend lanes',
    `    bind ${addresses.listen}`,
    // /lane/N/ -> backend lane_N (fields of "/lane/N/" split on "/": "", "lane", "N").
    `    use_backend ${laneUpstreamName('%[path,field(3,/)]')}`,
    '',
    ...backends,
  ].join('\n');
}
