// Local runtime: the upstream and nginx as child processes on free 127.0.0.1 ports, in a temp
// dir that goes away with them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onCleanup } from '../util/cleanup.js';
import { reapDirOnExit } from '../util/reaper.js';
import { freePort } from '../util/ports.js';
import type { ProxyLogRecord, UpstreamEventRecord } from '../history/records.js';
import { parseNginxErrorLine } from '../proxy/nginx/error-log.js';
import { nginxVersion, resolveNginxBinary, startLocalNginx } from '../proxy/nginx/local-nginx.js';
import { haproxyVersion, resolveHaproxyBinary, startLocalHaproxy } from '../proxy/haproxy/local-haproxy.js';
import { parseHaproxyLogLine } from '../proxy/haproxy/log.js';
import { renderHaproxyConf } from '../proxy/haproxy/render.js';
import { createFaultProxy } from '../toxiproxy/fault-proxy.js';
import { resolveToxiproxyBinary, startLocalToxiproxy } from '../toxiproxy/local-toxiproxy.js';
import { startLocalUpstream } from '../upstream/local-upstream.js';
import { ensureNodeBinary } from './node-binaries.js';
import { undiciVersion } from '../workload/lane-transports.js';
import { monotonicMs } from '../workload/clock.js';
import type { Runtime, StartedTopology, TopologySpec } from './runtime.js';

export interface LocalRuntimeOptions {
  /** The proxy this runtime's topologies put in front of the upstream (default nginx; none: no proxy). */
  proxy?: 'nginx' | 'haproxy' | 'none';
  nginxBinary?: string;
  haproxyBinary?: string;
  /** A real toxiproxy-server to use for faults (default: on PATH, else the embedded one). */
  toxiproxyBinary?: string;
}

/** The local runtime's settings from a sweep config. */
export function localRuntimeOptions(config: { proxy?: string; nginxBin?: string | undefined; haproxyBin?: string | undefined; toxiproxyBin?: string | undefined }): LocalRuntimeOptions {
  return {
    ...((config.proxy === 'haproxy' || config.proxy === 'none') && { proxy: config.proxy }),
    ...(config.nginxBin && { nginxBinary: config.nginxBin }),
    ...(config.haproxyBin && { haproxyBinary: config.haproxyBin }),
    ...(config.toxiproxyBin && { toxiproxyBinary: config.toxiproxyBin }),
  };
}

/** The proxy binary a local topology runs: resolved once, so a missing one fails before anything starts. */
interface ProxyBinary {
  flavour: 'nginx' | 'haproxy' | 'none';
  path: string;
}

export function localRuntime(options: LocalRuntimeOptions = {}): Runtime {
  // Resolve the binary up front: a missing proxy is a one-line error before anything starts.
  const proxy: ProxyBinary = options.proxy === 'haproxy' ? { flavour: 'haproxy', path: resolveHaproxyBinary(options.haproxyBinary) }
    : options.proxy === 'none' ? { flavour: 'none', path: '' }
      : { flavour: 'nginx', path: resolveNginxBinary(options.nginxBinary) };
  const versions: Record<string, string> = { node: process.version, ...clientVersions(proxy.flavour) };
  if (proxy.flavour === 'haproxy') versions.haproxy = haproxyVersion(proxy.path);
  if (proxy.flavour === 'nginx') versions.nginx = nginxVersion(proxy.path);
  // A toxiproxy-server named but missing is bad input too, found before anything starts.
  if (options.toxiproxyBinary) resolveToxiproxyBinary(options.toxiproxyBinary);
  return {
    name: 'local',
    versions,
    start: (spec) => startLocalTopology(spec, proxy, versions, options.toxiproxyBinary),
    async prepareUpstreamNode(requested) {
      for (const version of requested) {
        const binary = await ensureNodeBinary(version);
        process.stderr.write(`upstream Node ${version}: ${binary.version} (${binary.path})\n`);
      }
    },
  };
}

/** With no proxy the clients are what is measured: their versions belong with the run. */
function clientVersions(flavour: ProxyBinary['flavour']): Record<string, string> {
  return flavour === 'none' ? { undici: undiciVersion() } : {};
}

async function startLocalTopology(spec: TopologySpec, proxyBinary: ProxyBinary, versions: Record<string, string>, toxiproxyBinary?: string): Promise<StartedTopology> {
  if (spec.proxy.flavour !== proxyBinary.flavour) throw new Error(`this local runtime runs ${proxyBinary.flavour}, the topology asks for ${spec.proxy.flavour}`);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keepalive-lab-'));
  const forgetWorkDir = reapDirOnExit(workDir);
  const removeWorkDir = onCleanup(() => {
    fs.rmSync(workDir, { recursive: true, force: true });
    forgetWorkDir();
  });
  const errorLog = fs.createWriteStream(path.join(workDir, 'error.log'));
  let proxyLog: ProxyLogRecord[] = [];
  // The upstream's events as read from its file, kept across the stop: what it wrote while
  // stopping (the closes of the connections still open) is read before the file is removed.
  let readUpstreamEvents: () => UpstreamEventRecord[] = () => [];
  let upstreamEvents: UpstreamEventRecord[] = [];
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
    upstreamEvents.push(...readUpstreamEvents());
    await new Promise((resolve) => errorLog.end(resolve));
    copyArtifacts(spec, workDir);
    await removeWorkDir();
  };
  try {
    // The harness's own Node, unless the spec asks for a version (from the cache, see node-binaries.ts).
    const nodeBinary = spec.upstream.node !== undefined ? (await ensureNodeBinary(spec.upstream.node)).path : process.execPath;
    const upstream = await startLocalUpstream(spec.upstream, await freePort(), path.join(workDir, 'upstream-events.jsonl'), nodeBinary);
    stops.push(upstream.stop);
    readUpstreamEvents = upstream.drainEvents;
    let proxyUpstream = `127.0.0.1:${upstream.port}`;
    const layerVersions: Record<string, string> = {};
    if (spec.faultLayer) {
      const toxiproxy = await startLocalToxiproxy(toxiproxyBinary);
      stops.push(toxiproxy.stop);
      layerVersions.toxiproxy = toxiproxy.version;
      proxyUpstream = await createFaultProxy(toxiproxy.url, proxyUpstream, spec.faultLayer.faults);
    }
    if (spec.proxy.flavour === 'none') {
      // No proxy: the clients reach the upstream (or the fault layer in front of it) straight.
      const [host, port] = proxyUpstream.split(':');
      return {
        runtime: 'local',
        proxy: { host: host!, port: Number(port) },
        upstream: { host: '127.0.0.1', port: upstream.port },
        versions: { ...versions, upstreamNode: upstream.nodeVersion, ...layerVersions },
        drainProxyLog: () => [],
        drainUpstreamEvents: upstream.drainEvents,
        stop: stopAll,
      };
    }
    const proxyPort = await freePort();
    // Each log line is stamped with milliseconds (the proxies' own stamps have whole seconds),
    // kept in the artifacts, and parsed into records keyed to trials.
    const onLogLine = (parse: (line: string, readAt: number) => ProxyLogRecord | null) => (line: string) => {
      const readAt = monotonicMs();
      errorLog.write(`${new Date().toISOString()} ${line}\n`);
      const record = parse(line, readAt);
      if (record) proxyLog.push(record);
    };
    const proxy = spec.proxy.flavour === 'haproxy'
      ? await startLocalHaproxy({
        binary: proxyBinary.path,
        confText: renderHaproxyConf(spec.proxy.haproxy, { listen: `127.0.0.1:${proxyPort}`, upstream: proxyUpstream }),
        listenPort: proxyPort,
        workDir,
        onLogLine: onLogLine(parseHaproxyLogLine),
      })
      : await startLocalNginx({
        binary: proxyBinary.path,
        spec: spec.proxy.nginx,
        listenPort: proxyPort,
        upstream: proxyUpstream,
        prefix: workDir,
        onErrorLine: onLogLine(parseNginxErrorLine),
      });
    stops.push(proxy.stop);
    return {
      runtime: 'local',
      proxy: { host: '127.0.0.1', port: proxyPort },
      upstream: { host: '127.0.0.1', port: upstream.port },
      versions: { ...versions, upstreamNode: upstream.nodeVersion, ...layerVersions },
      drainProxyLog() {
        const drained = proxyLog;
        proxyLog = [];
        return drained;
      },
      drainUpstreamEvents() {
        const drained = [...upstreamEvents, ...readUpstreamEvents()];
        upstreamEvents = [];
        return drained;
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function copyArtifacts(spec: TopologySpec, workDir: string): void {
  if (!spec.artifactsDir) return;
  const name = spec.artifactsName ?? 'topology';
  fs.mkdirSync(spec.artifactsDir, { recursive: true });
  // error.log holds what the proxy wrote on stderr: nginx's error log, or HAProxy's log.
  for (const file of ['nginx.conf', 'haproxy.cfg', 'error.log', 'access.log']) {
    const from = path.join(workDir, file);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(spec.artifactsDir, `${name}.${file}`));
  }
}
