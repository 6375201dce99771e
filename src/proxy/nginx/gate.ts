// nginx under the gate: a user's nginx.conf (or the rendered template) pointed at the harness,
// checked with `nginx -t`, and the fix in nginx's words.
import fs from 'node:fs';
import path from 'node:path';
import { nginxCodeDirectives } from '../config-code.js';
import { measuredTime, settingTime, type GateFlavour } from '../gate-flavour.js';
import { testNginxConf } from './conf-test.js';
import { DEFAULT_POOLING_SINCE } from './default-pooling.js';
import { offLoopbackNginxListens } from './listens.js';
import { readNginxInclude } from './includes.js';
import { renderedProxyTemplate } from './template.js';
import { prepareUserNginxConf } from './user-conf.js';

export const nginxGate: GateFlavour = {
  confSetting: 'nginxConf',
  confFlag: '--nginx-conf',
  poolSetting: 'upstreamBlock',
  poolFlag: '--upstream-block',
  poolWord: 'upstream block',
  listenWord: 'listen',
  idleDirective: 'keepalive_timeout',
  checker: 'nginx -t',
  template: renderedProxyTemplate,
  prepare: (source, options) => prepareUserNginxConf(source, {
    sourcePath: options.sourcePath,
    ...(options.pool ? { upstreamBlock: options.pool } : {}),
    upstreamAddress: options.upstreamAddress,
    listenPort: options.listenPort,
    prefix: options.prefix,
    readInclude: readNginxInclude,
    ...(options.proxyVersion ? { nginxVersion: options.proxyVersion } : {}),
  }),
  check(binary, prefix, conf, userPath) {
    const confPath = path.join(prefix, 'nginx.conf');
    fs.writeFileSync(confPath, conf.text);
    for (const included of conf.includedFiles) {
      fs.mkdirSync(path.dirname(included.path), { recursive: true });
      fs.writeFileSync(included.path, included.text);
    }
    let complaint = testNginxConf(binary, prefix, confPath);
    // nginx names the copies it read: name the user's own files instead.
    for (const included of conf.includedFiles) complaint = complaint?.replaceAll(included.path, included.source) ?? null;
    return complaint && userPath ? complaint.replaceAll(confPath, userPath) : complaint;
  },
  offLoopbackListens(binary, prefix, conf, userPath) {
    const confPath = path.join(prefix, 'nginx.conf');
    // nginx -T names the copies it read: name the user's own files instead.
    const named = (text: string) => conf.includedFiles.reduce((named, included) => named.replaceAll(included.path, included.source), userPath ? text.replaceAll(confPath, userPath) : text);
    return offLoopbackNginxListens(binary, prefix, confPath).map(named);
  },
  // The prepared text: a directive continued over lines is on its first line there.
  codeDirectives: (_source, conf, userPath) => nginxCodeDirectives([{ name: userPath, text: conf.text },
    ...conf.includedFiles.map((included) => ({ name: included.source, text: included.text }))]),
  // nginx answers a raced request with a 502 and logs the attempt behind it.
  raceAnswer: 'status',
  ownCloseNotFiredBecause: null,
  fix(parts) {
    const block = parts.upstreamBlock ? ` in upstream ${parts.upstreamBlock}` : '';
    return `upstream closes idle connections at ${measuredTime(parts.upstreamCloseMs)}, ${parts.proxyLabel} keeps them ${settingTime(parts.proxyTimeoutMs)}: ` +
      `set server.keepAliveTimeout >= ${settingTime(parts.nodeKeepAliveTimeoutMs)} and server.headersTimeout above it (${settingTime(parts.nodeHeadersTimeoutMs)}) in Node, ` +
      `or the upstream's idle timeout above ${settingTime(parts.proxyTimeoutMs + 1000)} in any server; ` +
      (parts.proxyKeepaliveTimeoutBelowMs > 0 ? `or lower keepalive_timeout${block} to ${settingTime(parts.proxyKeepaliveTimeoutBelowMs)} or less` : `or turn off upstream keep-alive${block}`);
  },
  describe: (p) => `${p.label} (nginx ${p.version}), upstream block ${p.upstreamBlock}: keepalive_timeout ${p.keepaliveTimeoutMs} ms${p.keepaliveTimeoutFromConfig ? '' : ' (nginx\'s default: not set)'}, ` +
    `keepalive ${p.keepaliveConnections ?? 'none'}${p.keepaliveFromDefault ? ` (not set: nginx's default since ${DEFAULT_POOLING_SINCE}, which pools upstream connections unasked)` : ''}, proxy_next_upstream ${p.proxyNextUpstream ?? 'default (error timeout)'}`,
};
