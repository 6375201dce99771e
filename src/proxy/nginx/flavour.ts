// nginx as a proxy flavour: its upstream keepalive, its `proxy_next_upstream` retries, its error
// log (which names the failed upstream exchange of every raced request).
import type { ProxyFlavour } from '../flavour.js';
import { nginxGate } from './gate.js';
import { parseNginxErrorLine } from './error-log.js';
import { NGINX_RETRY_POLICIES, renderNginxConf } from './render.js';

export const nginxFlavour: ProxyFlavour = {
  name: 'nginx',
  title: 'nginx',
  retryPolicies: NGINX_RETRY_POLICIES,
  // nginx's own retries (error timeout: a GET is retried on a raced connection) and none at all.
  sweepDefaults: { retry: ['default', 'off'] },
  takesProfiles: true,
  idleSetting: "the proxy's upstream keepalive_timeout",
  logTitle: 'nginx error log',
  binary: {
    program: 'nginx', setting: 'nginxBin', flag: '--nginx-bin', env: 'KEEPALIVE_LAB_NGINX_BIN', install: 'nginx',
    // `nginx -v` prints "nginx version: nginx/1.22.1" on stderr.
    versionArgs: ['-v'], versionPattern: /nginx\/(\S+)/,
  },
  process: {
    configFile: 'nginx.conf',
    args: (confPath, prefix) => ['-p', prefix, '-c', confPath, '-e', 'stderr'],
    complaint: /\[(emerg|alert|crit|error)\]/,
    renderLanes: (spec, addresses) => renderNginxConf(spec, addresses),
    parseLogLine: parseNginxErrorLine,
  },
  container: { variable: 'KEEPALIVE_LAB_NGINX_IMAGE', reference: 'nginx:1.28', program: 'nginx', readyLine: /start worker process/, versionInLog: /: nginx\/(\S+)/ },
  gate: nginxGate,
};
