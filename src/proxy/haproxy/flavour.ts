// HAProxy as a proxy flavour: `timeout http-keep-alive`, `retries`/`retry-on`, and an access log
// of the requests it answered (a raced request it drops writes no line: docs/race.md#haproxy).
import { formatDuration } from '../../util/duration.js';
import type { ProxyFlavour } from '../flavour.js';
import { haproxyGate } from './gate.js';
import { parseHaproxyLogLine } from './log.js';
import { HAPROXY_RETRY_POLICIES, isHaproxyRetryPolicy, renderHaproxyConf } from './render.js';

export const haproxyFlavour: ProxyFlavour = {
  name: 'haproxy',
  title: 'HAProxy',
  retryPolicies: HAPROXY_RETRY_POLICIES,
  // HAProxy's default (no retry of a reused connection that failed) and the retry-on that hides the race.
  sweepDefaults: { retry: ['default', 'all_retryable'] },
  idleSetting: "HAProxy's timeout http-keep-alive",
  logTitle: 'HAProxy log (it logs only requests it answered)',
  binary: {
    program: 'haproxy', setting: 'haproxyBin', flag: '--haproxy-bin', env: 'KEEPALIVE_LAB_HAPROXY_BIN', install: 'haproxy',
    // "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/"
    versionArgs: ['-v'], versionPattern: /HAProxy version (\S+)/i,
  },
  process: {
    configFile: 'haproxy.cfg',
    // Foreground (-db), its log on stderr (the config's `log stderr`).
    args: (confPath) => ['-db', '-f', confPath],
    complaint: /\[ALERT\]/,
    renderLanes(spec, addresses) {
      if (!isHaproxyRetryPolicy(spec.retry)) throw new Error(`"${spec.retry}" is not an HAProxy retry policy`);
      // Each lane's backend holds its one server connection; http-reuse stays HAProxy's default.
      return renderHaproxyConf({ lanes: spec.lanes, keepaliveTimeoutMs: spec.keepaliveTimeoutMs, retry: spec.retry, httpReuse: 'safe' }, addresses);
    },
    parseLogLine: parseHaproxyLogLine,
  },
  // No ready line (HAProxy in the foreground says nothing when it starts): ready when its port
  // answers HTTP. The official image's haproxy is on PATH.
  container: { variable: 'KEEPALIVE_LAB_HAPROXY_IMAGE', reference: 'haproxy:2.6', program: 'haproxy' },
  unsafeAfterOwnClose: (proxyTimeoutMs) =>
    // HAProxy's timeout http-keep-alive ends the whole idle session, the client's connection
    // included: what races at this boundary is the client reusing a connection HAProxy closes.
    `HAProxy closes idle client connections at its timeout http-keep-alive (${formatDuration(proxyTimeoutMs)}), and clients that reuse a ` +
    'connection at that moment get it closed without a response: give the clients an idle timeout below it (for a Node http.Agent, ' +
    `timeout < ${formatDuration(proxyTimeoutMs)}), or retry such requests in the client.`,
  gate: haproxyGate,
};
