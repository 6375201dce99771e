// Renders nginx.conf for a topology from the shared template in containers/nginx/.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RetryPolicy } from '../../vocabulary.js';
import type { LaneAddresses, LaneProxySpec } from '../flavour.js';
import { lanePath, laneUpstreamName } from '../lanes.js';

/** nginx's retry choices: its own default (`error timeout`), off, and non-idempotent requests too. */
export const NGINX_RETRY_POLICIES = ['default', 'off', 'non_idempotent'] as const;

/** The harness's lanes as nginx runs them: each lane its own `upstream` block, so that its pool
 *  holds only its connection; `keepalive N` idle connections per block and worker. */
export type NginxSpec = LaneProxySpec;

const TEMPLATE_PATH = fileURLToPath(new URL('../../../containers/nginx/nginx.conf.template', import.meta.url));

/** nginx's retry directive per policy; `default` leaves nginx's own (`error timeout`). */
const RETRY_DIRECTIVE: Partial<Record<RetryPolicy, string | null>> = {
  default: null,
  off: 'proxy_next_upstream off;',
  non_idempotent: 'proxy_next_upstream error timeout non_idempotent;',
};

export function renderNginxConf(spec: NginxSpec, addresses: LaneAddresses): string {
  const upstreams: string[] = [];
  const locations: string[] = [];
  const retry = RETRY_DIRECTIVE[spec.retry];
  if (retry === undefined) throw new Error(`"${spec.retry}" is not an nginx retry policy`);
  for (let lane = 0; lane < spec.lanes; lane++) {
    upstreams.push(
      `    upstream ${laneUpstreamName(lane)} {\n` +
      `        server ${addresses.upstream};\n` +
      `        keepalive ${spec.keepaliveConnections};\n` +
      `        keepalive_timeout ${spec.keepaliveTimeoutMs}ms;\n` +
      `        keepalive_requests ${spec.keepaliveRequests};\n` +
      `    }\n`);
    locations.push(
      `        location ${lanePath(lane)} {\n` +
      `            proxy_pass http://${laneUpstreamName(lane)};\n` +
      `            proxy_http_version 1.1;\n` +
      `            proxy_set_header Connection "";\n` +
      (retry ? `            ${retry}\n` : '') +
      `        }`);
  }
  const values: Record<string, string> = {
    workerProcesses: String(spec.workerProcesses),
    // Each lane holds one client and one upstream connection; leave room for retries and probes.
    workerConnections: String(Math.max(1024, spec.lanes * 4 + 64)),
    prefix: addresses.prefix,
    listen: addresses.listen,
    upstreams: upstreams.join('\n'),
    locations: locations.join('\n'),
  };
  return fs.readFileSync(TEMPLATE_PATH, 'utf8').replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`nginx template names an unknown value {{${name}}}`);
    return value;
  });
}
