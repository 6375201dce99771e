// The proxy a gate runs, nginx or HAProxy, behind one interface: prepare the user's config (or a
// rendered one) for a chain address, check it with the proxy's own validator before anything
// starts, start it with its log parsed into records.
import fs from 'node:fs';
import path from 'node:path';
import type { ProxyLogRecord } from '../history/records.js';
import { haproxyVersion, resolveHaproxyBinary, startLocalHaproxy, testHaproxyConf } from '../proxy/haproxy/local-haproxy.js';
import { parseHaproxyLogLine } from '../proxy/haproxy/log.js';
import { parseNginxErrorLine } from '../proxy/nginx/error-log.js';
import { nginxVersion, resolveNginxBinary, startLocalNginx, testNginxConf } from '../proxy/nginx/local-nginx.js';
import type { RetryPolicy } from '../vocabulary.js';
import { UsageError } from '../util/errors.js';
import { canConnect } from '../util/ports.js';
import { monotonicMs } from '../workload/clock.js';
import { renderedHaproxyTemplate, renderedProxyTemplate } from './proxy-template.js';
import { prepareUserHaproxyConf, type PreparedHaproxyConf } from './user-haproxy-conf.js';
import { readNginxInclude } from './nginx-includes.js';
import { prepareUserNginxConf, type PreparedUserConf } from './user-nginx-conf.js';

export interface GateProxySettings {
  proxy: 'nginx' | 'haproxy';
  /** The user's config file (nginx or HAProxy), or unset with proxyTimeoutMs. */
  confPath?: string;
  /** The upstream block (nginx) or backend (HAProxy) to point at the chain, for full configs. */
  pool?: string;
  proxyTimeoutMs?: number;
  retry: RetryPolicy;
  binary?: string;
}

export interface GateProxy {
  flavour: 'nginx' | 'haproxy';
  version: string;
  /** The flag that named the config, for messages (--nginx-conf, --haproxy-conf). */
  confFlag: string;
  /** The config for an upstream address; pure. */
  prepare(upstreamAddress: string, listenPort: number, burstSize: number): PreparedUserConf;
  /** The proxy's own validator, and a busy listen port: one line each, before anything starts. */
  check(conf: PreparedUserConf): Promise<void>;
  start(conf: PreparedUserConf, onRecord: (record: ProxyLogRecord) => void): Promise<{ stop(): Promise<void> }>;
}

export function gateProxy(settings: GateProxySettings, userConfText: string | null, prefix: string): GateProxy {
  const confFlag = settings.proxy === 'haproxy' ? '--haproxy-conf' : '--nginx-conf';
  const confPath = path.join(prefix, settings.proxy === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf');
  const portInUse = async (conf: PreparedUserConf, lineWord: string) => {
    if (conf.listenFromConfig && (await canConnect('127.0.0.1', conf.listenPort, 500))) {
      throw new UsageError(`${confFlag} ${conf.listenAt}: port ${conf.listenPort} is in use: free it, or make the ${lineWord} a {{listen}} placeholder`);
    }
  };
  if (settings.proxy === 'haproxy') {
    const binary = resolveHaproxyBinary(settings.binary);
    return {
      flavour: 'haproxy',
      version: haproxyVersion(binary),
      confFlag,
      prepare: (upstreamAddress, listenPort) => prepareUserHaproxyConf(userConfText ?? renderedHaproxyTemplate(settings.proxyTimeoutMs!, settings.retry), {
        sourcePath: settings.confPath ?? '(rendered)',
        ...(settings.pool ? { backend: settings.pool } : {}),
        upstreamAddress,
        listenPort,
      }),
      async check(conf) {
        fs.writeFileSync(confPath, conf.text);
        const complaint = testHaproxyConf(binary, confPath);
        if (complaint) {
          // "[/tmp/.../haproxy.cfg:14]" -> the user's own file and line.
          const sourceLines = (conf as PreparedHaproxyConf).sourceLines;
          const theirs = complaint.replace(new RegExp(`${escapeRegExp(confPath)}:(\\d+)`, 'g'), (_, line: string) =>
            `${settings.confPath ?? '(rendered)'}:${sourceLines[Number(line) - 1] ?? `${line} (added by keepalive-lab)`}`);
          throw new UsageError(settings.confPath ? `${confFlag} ${settings.confPath}: haproxy -c: ${theirs}` : `the rendered proxy config was refused by haproxy -c: ${theirs}`);
        }
        await portInUse(conf, 'bind');
      },
      start: (conf, onRecord) => startLocalHaproxy({
        binary, confText: conf.text, listenPort: conf.listenPort, workDir: prefix,
        onLogLine: (line) => {
          const record = parseHaproxyLogLine(line, monotonicMs());
          if (record) onRecord(record);
        },
      }),
    };
  }
  const binary = resolveNginxBinary(settings.binary);
  return {
    flavour: 'nginx',
    version: nginxVersion(binary),
    confFlag,
    prepare: (upstreamAddress, listenPort, burstSize) => prepareUserNginxConf(userConfText ?? renderedProxyTemplate(settings.proxyTimeoutMs!, burstSize, settings.retry), {
      sourcePath: settings.confPath ?? '(rendered)',
      ...(settings.pool ? { upstreamBlock: settings.pool } : {}),
      upstreamAddress,
      listenPort,
      prefix,
      readInclude: readNginxInclude,
    }),
    async check(conf) {
      fs.writeFileSync(confPath, conf.text);
      for (const included of conf.includedFiles) {
        fs.mkdirSync(path.dirname(included.path), { recursive: true });
        fs.writeFileSync(included.path, included.text);
      }
      let complaint = testNginxConf(binary, prefix, confPath);
      // nginx names the copies it read: name the user's own files instead.
      for (const included of conf.includedFiles) complaint = complaint?.replaceAll(included.path, included.source) ?? null;
      if (complaint) {
        throw new UsageError(settings.confPath
          ? `${confFlag} ${settings.confPath}: nginx -t: ${complaint.replaceAll(confPath, settings.confPath)}`
          : `the rendered proxy config was refused by nginx -t: ${complaint}`);
      }
      await portInUse(conf, 'listen');
    },
    start: (conf, onRecord) => startLocalNginx({
      binary, confText: conf.text, listenPort: conf.listenPort, upstream: '', prefix,
      onErrorLine: (line) => {
        const record = parseNginxErrorLine(line, monotonicMs());
        if (record) onRecord(record);
      },
    }),
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
