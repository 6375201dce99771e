// Caddy (2.6, Debian's) as a proxy flavour: reverse_proxy's http transport keep-alive, its
// load-balancing retries, and its JSON error log. What it does at the race is measured in
// suites/caddy.test.ts and written up in docs/race.md#caddy.
import type { ProxyFlavour } from '../flavour.js';
import { caddyGate } from './gate.js';
import { parseCaddyLogLine } from './log.js';
import { CADDY_RETRY_POLICIES, isCaddyRetryPolicy, renderCaddyConf } from './render.js';

export const caddyFlavour: ProxyFlavour = {
  name: 'caddy',
  title: 'Caddy',
  retryPolicies: CADDY_RETRY_POLICIES,
  sweepDefaults: { retry: ['default', 'lb_retries'] },
  idleSetting: "Caddy's reverse_proxy transport keepalive",
  logTitle: 'Caddy error log',
  binary: {
    program: 'caddy', setting: 'caddyBin', flag: '--caddy-bin', env: 'KEEPALIVE_LAB_CADDY_BIN', install: 'caddy',
    // "v2.6.2" (Debian: "2.6.2")
    versionArgs: ['version'], versionPattern: /^v?(\d+\.\d+\.\d+\S*)/m,
  },
  process: {
    configFile: 'caddy.json',
    // Its own JSON, or a user's Caddyfile under the gate.
    args: (confPath) => ['run', '--config', confPath, ...(confPath.endsWith('.json') ? [] : ['--adapter', 'caddyfile'])],
    // Caddy keeps data (certificates, an autosaved config) under its home: the run's own directory.
    env: (prefix) => ({ HOME: prefix, XDG_DATA_HOME: prefix, XDG_CONFIG_HOME: prefix }),
    complaint: /"level":"(error|fatal)"|^Error:/,
    renderLanes(spec, addresses) {
      if (!isCaddyRetryPolicy(spec.retry)) throw new Error(`"${spec.retry}" is not a Caddy retry policy`);
      return renderCaddyConf({ lanes: spec.lanes, keepaliveTimeoutMs: spec.keepaliveTimeoutMs, keepaliveConnections: spec.keepaliveConnections, retry: spec.retry }, addresses);
    },
    parseLogLine: parseCaddyLogLine,
  },
  gate: caddyGate,
};
