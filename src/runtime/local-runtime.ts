// Local runtime: the upstream and the proxy as child processes on free 127.0.0.1 ports, in a
// temp dir that goes away with them. Which proxy, and how it runs, is its flavour's business.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onCleanup } from '../util/cleanup.js';
import { reapDirOnExit } from '../util/reaper.js';
import { freePort, hostPort } from '../util/ports.js';
import type { ProxyLogRecord, UpstreamEventRecord, WireListener } from '../history/records.js';
import { proxyVersion, resolveProxyBinary } from '../proxy/binary.js';
import type { ProxyFlavour } from '../proxy/flavour.js';
import { startLocalProxy } from '../proxy/local-process.js';
import { proxyFlavour } from '../proxy/registry.js';
import { createFaultProxy } from '../toxiproxy/fault-proxy.js';
import { resolveToxiproxyBinary, startLocalToxiproxy } from '../toxiproxy/local-toxiproxy.js';
import { startLocalUpstream } from '../upstream/local-upstream.js';
import type { ProxyName } from '../vocabulary.js';
import { ensureNodeBinary } from './node-binaries.js';
import { monotonicMs } from '../workload/clock.js';
import type { Runtime, StartedTopology, TopologySpec } from './runtime.js';

export interface LocalRuntimeOptions {
  /** The proxy this runtime's topologies put in front of the upstream (default nginx). */
  proxy?: ProxyName;
  /** The proxy binary to run (default: its flavour's environment variable, else PATH). */
  proxyBinary?: string;
  /** A real toxiproxy-server to use for faults (default: on PATH, else the embedded one). */
  toxiproxyBinary?: string;
}

/** The local runtime's settings from a sweep config (its `<flavour>Bin` names the proxy binary). */
export function localRuntimeOptions(config: { proxy?: string; toxiproxyBin?: string | undefined } & Record<string, unknown>): LocalRuntimeOptions {
  const flavour = proxyFlavour(config.proxy);
  const binary = flavour.binary && config[flavour.binary.setting];
  return {
    ...(config.proxy !== undefined && { proxy: config.proxy }),
    ...(typeof binary === 'string' && { proxyBinary: binary }),
    ...(config.toxiproxyBin && { toxiproxyBinary: config.toxiproxyBin }),
  };
}

/** The proxy a local topology runs: its flavour and binary, resolved once before anything starts. */
interface LocalProxyChoice {
  flavour: ProxyFlavour;
  binary: string | null;
}

export function localRuntime(options: LocalRuntimeOptions = {}): Runtime {
  // Resolve the binary up front: a missing proxy is a one-line error before anything starts.
  const flavour = proxyFlavour(options.proxy);
  const binary = flavour.binary ? resolveProxyBinary({ ...flavour, binary: flavour.binary }, options.proxyBinary) : null;
  const versions: Record<string, string> = { node: process.version, ...flavour.extraVersions?.() };
  if (flavour.binary && binary) versions[flavour.name] = proxyVersion({ ...flavour, binary: flavour.binary }, binary);
  // A toxiproxy-server named but missing is bad input too, found before anything starts.
  if (options.toxiproxyBinary) resolveToxiproxyBinary(options.toxiproxyBinary);
  return {
    name: 'local',
    versions,
    start: (spec) => startLocalTopology(spec, { flavour, binary }, versions, options.toxiproxyBinary),
    async prepareUpstreamNode(requested) {
      for (const version of requested) {
        const found = await ensureNodeBinary(version);
        process.stderr.write(`upstream Node ${version}: ${found.version} (${found.path})\n`);
      }
    },
  };
}

async function startLocalTopology(spec: TopologySpec, proxyChoice: LocalProxyChoice, versions: Record<string, string>, toxiproxyBinary?: string): Promise<StartedTopology> {
  const { flavour } = proxyChoice;
  if (spec.proxy.flavour !== flavour.name) throw new Error(`this local runtime runs ${flavour.name}, the topology asks for ${spec.proxy.flavour}`);
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
    copyArtifacts(spec, workDir, flavour);
    await removeWorkDir();
  };
  try {
    // The harness's own Node, unless the spec asks for a version (from the cache, see node-binaries.ts).
    const nodeBinary = spec.upstream.node !== undefined ? (await ensureNodeBinary(spec.upstream.node)).path : process.execPath;
    const upstream = await startLocalUpstream(spec.upstream, await freePort(), path.join(workDir, 'upstream-events.jsonl'), nodeBinary, spec.cpus?.upstream);
    stops.push(upstream.stop);
    readUpstreamEvents = upstream.drainEvents;
    let proxyUpstream = { host: '127.0.0.1', port: upstream.port };
    const listeners: WireListener[] = [{ role: 'upstream', ...proxyUpstream }];
    const layerVersions: Record<string, string> = {};
    if (spec.faultLayer) {
      const layer = await startFaultLayer(spec.faultLayer, proxyUpstream, stops, toxiproxyBinary);
      layerVersions.toxiproxy = layer.version;
      proxyUpstream = layer.endpoint;
      listeners.push({ role: 'fault layer', ...proxyUpstream });
    }
    let clientsReach = proxyUpstream;
    const processIds: NonNullable<StartedTopology['processIds']> = { ...(upstream.child.process.pid !== undefined ? { upstream: upstream.child.process.pid } : {}) };
    if (flavour.process && proxyChoice.binary) {
      const proxy = await startLaneProxy(spec, { ...flavour, process: flavour.process }, proxyChoice.binary, hostPort(proxyUpstream.host, proxyUpstream.port), workDir, (line) => {
        // Each log line is stamped with milliseconds (the proxies' own stamps have whole seconds),
        // kept in the artifacts, and parsed into records keyed to trials.
        const readAt = monotonicMs();
        errorLog.write(`${new Date().toISOString()} ${line}\n`);
        const record = flavour.process!.parseLogLine(line, readAt);
        if (record) proxyLog.push(record);
      });
      stops.push(proxy.stop);
      clientsReach = proxy.endpoint;
      listeners.push({ role: 'proxy', ...proxy.endpoint });
      if (proxy.pid !== undefined) processIds.proxy = proxy.pid;
    }
    // (A pass-through flavour starts nothing: the clients reach the upstream, or the fault layer, straight.)
    return {
      runtime: 'local',
      proxy: clientsReach,
      upstream: { host: '127.0.0.1', port: upstream.port },
      versions: { ...versions, upstreamNode: upstream.nodeVersion, ...layerVersions },
      processIds,
      wire: { iface: 'lo', listeners },
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

/** A Toxiproxy in front of `upstream` with the faults; its stop joins `stops`. */
async function startFaultLayer(faultLayer: NonNullable<TopologySpec['faultLayer']>, upstream: { host: string; port: number }, stops: (() => Promise<void>)[],
  toxiproxyBinary?: string): Promise<{ endpoint: { host: string; port: number }; version: string }> {
  const toxiproxy = await startLocalToxiproxy(toxiproxyBinary);
  stops.push(toxiproxy.stop);
  const [host, port] = (await createFaultProxy(toxiproxy.url, hostPort(upstream.host, upstream.port), faultLayer.faults)).split(':');
  return { endpoint: { host: host!, port: Number(port) }, version: toxiproxy.version };
}

/** The flavour's process with the spec's lanes on a free 127.0.0.1 port. */
async function startLaneProxy(spec: TopologySpec, flavour: Parameters<typeof startLocalProxy>[0], binary: string, upstream: string, workDir: string,
  onLogLine: (line: string) => void): Promise<{ endpoint: { host: string; port: number }; pid: number | undefined; stop(): Promise<void> }> {
  const port = await freePort();
  const proxy = await startLocalProxy(flavour, {
    binary,
    confText: flavour.process.renderLanes(spec.proxy, { listen: `127.0.0.1:${port}`, upstream, prefix: workDir }),
    listenPort: port,
    prefix: workDir,
    onLogLine,
    ...(spec.cpus ? { cpus: spec.cpus.proxy } : {}),
  });
  return { endpoint: { host: '127.0.0.1', port }, pid: proxy.child.process.pid, stop: proxy.stop };
}

function copyArtifacts(spec: TopologySpec, workDir: string, flavour: ProxyFlavour): void {
  if (!spec.artifactsDir) return;
  const name = spec.artifactsName ?? 'topology';
  fs.mkdirSync(spec.artifactsDir, { recursive: true });
  // error.log holds what the proxy wrote on stderr (nginx's error log, HAProxy's log, ...).
  for (const file of [flavour.process?.configFile, 'error.log', 'access.log']) {
    if (file === undefined) continue;
    const from = path.join(workDir, file);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(spec.artifactsDir, `${name}.${file}`));
  }
}
