// Caddy under the gate: a user's Caddyfile (or the rendered template) pointed at the harness,
// checked with `caddy adapt --validate`, and the fix in Caddy's words. A raced POST gets a 502
// with the round trip's error in Caddy's log; a raced GET is resent by Go's transport, silently
// (docs/race.md#caddy).
import fs from 'node:fs';
import path from 'node:path';
import { measuredTime, settingTime, type GateFlavour } from '../gate-flavour.js';
import { testCaddyfile } from './conf-test.js';
import { offLoopbackCaddyListens } from './listens.js';
import { renderedCaddyfileTemplate } from './template.js';
import { prepareUserCaddyfile, type PreparedCaddyfile } from './user-conf.js';

export const CADDYFILE = 'Caddyfile';

export const caddyGate: GateFlavour = {
  confSetting: 'caddyfile',
  confFlag: '--caddyfile',
  poolSetting: 'caddyUpstream',
  poolFlag: '--caddy-upstream',
  poolWord: 'reverse_proxy upstream address',
  listenWord: 'site address',
  idleDirective: 'transport http keepalive',
  checker: 'caddy adapt --validate',
  template: renderedCaddyfileTemplate,
  prepare: (source, options) => ({ ...prepareUserCaddyfile(source, options), configFile: CADDYFILE }),
  check(binary, prefix, conf, userPath) {
    const confPath = path.join(prefix, CADDYFILE);
    fs.writeFileSync(confPath, conf.text);
    const complaint = testCaddyfile(binary, confPath, { HOME: prefix, XDG_DATA_HOME: prefix, XDG_CONFIG_HOME: prefix });
    // "/tmp/.../Caddyfile:6: ..." -> the user's own file and line (lines were inserted).
    const { sourceLines } = conf as PreparedCaddyfile;
    return complaint?.replace(new RegExp(`${escapeRegExp(confPath)}:(\\d+)`, 'g'), (_, line: string) =>
      `${userPath ?? '(rendered)'}:${sourceLines[Number(line) - 1] ?? `${line} (added by keepalive-lab)`}`) ?? null;
  },
  offLoopbackListens: (binary, prefix) => offLoopbackCaddyListens(binary, path.join(prefix, CADDYFILE), { HOME: prefix, XDG_DATA_HOME: prefix, XDG_CONFIG_HOME: prefix }),
  // A Caddyfile runs no code: a plugin is compiled into the binary, or the config does not adapt.
  codeDirectives: () => [],
  // A raced POST is answered 502 and logged; a raced GET is resent and not seen at all.
  raceAnswer: 'status',
  ownCloseNotFiredBecause: null,
  fix(parts) {
    const block = parts.upstreamBlock ? ` of the reverse_proxy to ${parts.upstreamBlock}` : '';
    return `upstream closes idle connections at ${measuredTime(parts.upstreamCloseMs)}, ${parts.proxyLabel} keeps them ${settingTime(parts.proxyTimeoutMs)}: ` +
      `set server.keepAliveTimeout >= ${settingTime(parts.nodeKeepAliveTimeoutMs)} and server.headersTimeout above it (${settingTime(parts.nodeHeadersTimeoutMs)}) in Node, ` +
      `or the upstream's idle timeout above ${settingTime(parts.proxyTimeoutMs + 1000)} in any server; ` +
      (parts.proxyKeepaliveTimeoutBelowMs > 0 ? `or lower the transport's keepalive${block} to ${settingTime(parts.proxyKeepaliveTimeoutBelowMs)} or less` : `or set keepalive off in the transport${block}`) +
      ' (lb_retries does not help: Caddy cannot resend a POST\'s body, measured)';
  },
  describe: (p) => `${p.label} (Caddy ${p.version}), reverse_proxy to ${p.upstreamBlock}: transport keepalive ${p.keepaliveTimeoutMs} ms${p.keepaliveTimeoutFromConfig ? '' : ' (Caddy\'s default: not set)'}, ` +
    `idle connections per host ${p.keepaliveConnections ?? 'none'}, ${p.retrySetting ?? 'no lb_retries'}`,
};

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
