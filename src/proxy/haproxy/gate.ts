// HAProxy under the gate: a user's haproxy.cfg (or the rendered template) pointed at the
// harness, checked with `haproxy -c`, and what HAProxy does differently: it closes the client's
// connection on a raced request, its idle timeout ends client sessions, and its idle server
// connections outlive that timeout in its pool (docs/race.md#haproxy).
import fs from 'node:fs';
import path from 'node:path';
import { haproxyCodeDirectives } from '../config-code.js';
import { measuredTime, settingTime, type GateFlavour } from '../gate-flavour.js';
import { testHaproxyConf } from './conf-test.js';
import { offLoopbackHaproxyListens } from './listens.js';
import { renderedHaproxyTemplate } from './template.js';
import { prepareUserHaproxyConf, type PreparedHaproxyConf } from './user-conf.js';

export const haproxyGate: GateFlavour = {
  confSetting: 'haproxyConf',
  confFlag: '--haproxy-conf',
  poolSetting: 'backend',
  poolFlag: '--backend',
  poolWord: 'backend',
  listenWord: 'bind',
  idleDirective: 'timeout http-keep-alive',
  checker: 'haproxy -c',
  template: (proxyTimeoutMs, _keepaliveConnections, retry) => renderedHaproxyTemplate(proxyTimeoutMs, retry),
  prepare: (source, options) => prepareUserHaproxyConf(source, {
    sourcePath: options.sourcePath,
    ...(options.pool ? { backend: options.pool } : {}),
    upstreamAddress: options.upstreamAddress,
    listenPort: options.listenPort,
  }),
  check(binary, prefix, conf, userPath) {
    const confPath = path.join(prefix, 'haproxy.cfg');
    fs.writeFileSync(confPath, conf.text);
    const complaint = testHaproxyConf(binary, confPath);
    // "[/tmp/.../haproxy.cfg:14]" -> the user's own file and line (lines were inserted).
    const { sourceLines } = conf as PreparedHaproxyConf;
    return complaint?.replace(new RegExp(`${escapeRegExp(confPath)}:(\\d+)`, 'g'), (_, line: string) =>
      `${userPath ?? '(rendered)'}:${sourceLines[Number(line) - 1] ?? `${line} (added by keepalive-lab)`}`) ?? null;
  },
  offLoopbackListens: (_binary, _prefix, conf, userPath) => offLoopbackHaproxyListens(conf.text, userPath ?? '(rendered)', (conf as PreparedHaproxyConf).sourceLines),
  // The user's own text: the prepared one has lines inserted.
  codeDirectives: (source, _conf, userPath) => haproxyCodeDirectives([{ name: userPath, text: source }]),
  // HAProxy closes the client's connection without a status and logs nothing.
  raceAnswer: 'closed',
  ownCloseNotFiredBecause: 'at its idle timeout HAProxy closes the client\'s connection too, a race on the client\'s side',
  poolOutlivesTimeout: {
    note: ': HAProxy keeps them in its idle pool after the client\'s session ends',
    undecided: (timeoutMs, seen, upstreamSays) => `HAProxy's timeout http-keep-alive (${timeoutMs} ms) ends idle client sessions, but ${seen}: ` +
      `they wait in its idle pool, so the order of the two timeouts does not protect the upstream's close (${upstreamSays}); the gate cannot fire at HAProxy's pool yet: measure it with keepalive-lab soak --proxy haproxy`,
  },
  fix(parts) {
    // Lowering timeout http-keep-alive bounds nothing (the pool outlives it); its retry-on was
    // measured to hide the race.
    const block = parts.upstreamBlock ? ` for backend ${parts.upstreamBlock}` : '';
    return `upstream closes idle connections at ${measuredTime(parts.upstreamCloseMs)}, ${parts.proxyLabel} keeps them past its timeout http-keep-alive (${settingTime(parts.proxyTimeoutMs)}) in its idle pool: ` +
      `add "retries 3" and "retry-on all-retryable-errors"${block} (measured: no failure left, POST included), and make the upstream outlast HAProxy's idle connections ` +
      `(for Node, server.keepAliveTimeout >= ${settingTime(parts.nodeKeepAliveTimeoutMs)} and server.headersTimeout above it is a start, not a bound: check with keepalive-lab soak --proxy haproxy)`;
  },
  describe: (p) => `${p.label} (HAProxy ${p.version}), backend ${p.upstreamBlock}: idle timeout ${p.keepaliveTimeoutMs} ms, retries ${p.retrySetting ?? 'default (3, retry-on conn-failure)'}`,
};

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
