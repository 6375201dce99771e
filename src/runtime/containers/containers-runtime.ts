// Containers runtime: the same topology as the local one, as containers on a private Docker
// network (Testcontainers): client -> the proxy flavour's image ("proxy") [-> Toxiproxy
// ("toxiproxy")] -> the upstream program in a Node image ("upstream"). Nothing here needs a shell in an image: config
// and program are copied in, readiness is read from logs or HTTP, logs are streamed out.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Network, Wait, type ContainerRuntimeClient, type ImagePullPolicy, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { Toxiproxy } from 'toxiproxy-node-client';
import type { ProxyLogRecord, UpstreamEventRecord } from '../../history/records.js';
import type { ProxyFlavour } from '../../proxy/flavour.js';
import { proxyFlavour } from '../../proxy/registry.js';
import { createFaultProxy, toxiproxyVersionName } from '../../toxiproxy/fault-proxy.js';
import { eventFileReader, parseUpstreamLine } from '../../upstream/upstream-output.js';
import { UPSTREAM_PROGRAM, upstreamArgs } from '../../upstream/upstream-spec.js';
import { onCleanup } from '../../util/cleanup.js';
import { waitUntil } from '../../util/child.js';
import { UsageError } from '../../util/errors.js';
import { canConnect } from '../../util/ports.js';
import { reapDirOnExit, reapDockerObjectOnExit } from '../../util/reaper.js';
import { monotonicMs } from '../../workload/clock.js';
import type { Runtime, StartedTopology, TopologySpec } from '../runtime.js';
import type { Endpoint } from '../../vocabulary.js';
import { dockerEngine } from './docker-engine.js';
import { engineIsLocal, LoopbackContainer } from './loopback-container.js';
import { ensureImage } from './images.js';
import { configuredImages, nodeImageFor, type ImageChoice, type Images } from './image-names.js';

// ensureImage found or pulled every image before any start (one line when it cannot be had), so
// a start never forces a pull: with shouldPull false, testcontainers pulls only an image the
// engine lacks. (12.1+ has PullPolicy.neverPull(); 12.0.1, the last that runs on Node 20, not.)
const IMAGE_IS_PRESENT: ImagePullPolicy = { shouldPull: () => false };

const UPSTREAM_PORT = 3000;
const TOXIPROXY_API_PORT = 8474;
const TOXIPROXY_PROXY_PORT = 8666;
const PROXY_PORT = 8080;
const PROXY_PREFIX = '/tmp/keepalive-lab';
const PROGRAM_IN_CONTAINER = '/opt/keepalive-lab/upstream-server.mjs';
const STARTUP_TIMEOUT_MS = 30_000;

export interface ContainersRuntimeOptions {
  /** The proxy flavour its topologies run (default nginx); it must have an image (flavour.container). */
  proxy?: string;
}

/** Connects to the engine and checks every image before anything starts. */
export async function containersRuntime(options: ContainersRuntimeOptions = {}): Promise<Runtime> {
  const flavour = proxyFlavour(options.proxy);
  if (!flavour.container || !flavour.process) throw new UsageError(`--proxy ${flavour.name} runs on the local runtime only (it has no container image): use --runtime local`);
  const engine = await dockerEngine();
  if ('reason' in engine) throw new UsageError(`--runtime containers: ${engine.reason}`);
  const images = configuredImages();
  const [proxyImage, nodeImage] = [await ensureImage(engine.client, images[flavour.name]!), await ensureImage(engine.client, images.node!)];
  // The Toxiproxy image is checked when a topology first needs it: fault-free sweeps do not.
  let toxiproxyImage: string | null = null;
  const versions: Record<string, string> = {
    harnessNode: process.version,
    docker: String(engine.client.info.containerRuntime.serverVersion),
    [`${flavour.name}Image`]: proxyImage,
    nodeImage,
  };
  return {
    name: 'containers',
    versions,
    async start(spec) {
      // Pinning starts local processes under taskset; a container's CPUs are the engine's to set.
      if (spec.cpus) throw new Error('--pin runs on the local runtime: add --runtime local');
      if (spec.faultLayer) toxiproxyImage ??= await ensureImage(engine.client, images.toxiproxy!);
      const upstreamImages = spec.upstream.node !== undefined ? { ...images, node: nodeImageFor(spec.upstream.node) } : images;
      if (spec.upstream.node !== undefined) await ensureImage(engine.client, upstreamImages.node);
      return startContainerTopology(spec, flavour, engine.client, upstreamImages, toxiproxyImage);
    },
    async prepareUpstreamNode(requested) {
      for (const version of requested) process.stderr.write(`upstream Node ${version}: image ${await ensureImage(engine.client, nodeImageFor(version))}\n`);
    },
  };
}

/** What a topology's containers report while they run, read by its drains and its stop. */
interface TopologyState {
  proxyLog: ProxyLogRecord[];
  upstreamEvents: UpstreamEventRecord[];
  /** The proxy's log lines, stamped, for the artifacts. */
  errorLines: string[];
  versions: Record<string, string>;
  /** The upstream's first lines that are not events (for a failed start's message). */
  upstreamOutput: string[];
  /** The upstream's event file, where events go through one (else they come in its log). */
  drainEventFile: (() => UpstreamEventRecord[]) | null;
  removeEventsDir: () => void;
}

async function startContainerTopology(spec: TopologySpec, flavour: ProxyFlavour, client: ContainerRuntimeClient, images: Images<ImageChoice>, toxiproxyImage: string | null): Promise<StartedTopology> {
  const started: StartedTestContainer[] = [];
  let network: StartedNetwork | null = null;
  const state: TopologyState = { proxyLog: [], upstreamEvents: [], errorLines: [], versions: {}, upstreamOutput: [], drainEventFile: null, removeEventsDir: () => {} };
  let proxyConf = '';
  const loopback = engineIsLocal(client.info.containerRuntime.host);
  // Stopped by stopAll on every ordinary path; the reaper removes them if this process dies.
  const forgetDockerObjects: (() => void)[] = [];
  const track = (container: StartedTestContainer) => {
    started.push(container);
    forgetDockerObjects.push(reapDockerObjectOnExit('container', container.getId()));
  };
  const stopAll = onCleanup(async () => {
    // Newest first, then the network they were on; each stop kills at once (timeout 0).
    for (const container of started.reverse()) await container.stop().catch(() => {});
    await network?.stop().catch(() => {});
    for (const forget of forgetDockerObjects) forget();
    // What the upstream wrote while stopping is read before its file goes (drained after the stop).
    if (state.drainEventFile) state.upstreamEvents.push(...state.drainEventFile());
    state.removeEventsDir();
    copyArtifacts(spec, flavour, proxyConf, state.errorLines);
  });
  try {
    network = await new Network().start();
    forgetDockerObjects.push(reapDockerObjectOnExit('network', network.getId()));
    const { upstream, toxiproxy } = await startUpstreamSide(spec, images, network, loopback, state, track);
    const proxyUpstream = toxiproxy ? await faultLayerAddress(spec, toxiproxy, upstream, network, toxiproxyImage, state) : `upstream:${UPSTREAM_PORT}`;
    if (spec.proxy.flavour !== flavour.name) throw new Error(`this containers runtime runs ${flavour.name}, the topology asks for ${spec.proxy.flavour}`);
    let proxyLogging = false;
    const proxy = await startProxyContainer(flavour, images[flavour.name]!.reference, network, loopback, {
      confText: (proxyConf = flavour.process!.renderLanes(spec.proxy, { listen: `0.0.0.0:${PROXY_PORT}`, upstream: proxyUpstream, prefix: PROXY_PREFIX })),
      onLine: (line) => {
        const readAt = monotonicMs();
        proxyLogging = true;
        state.errorLines.push(`${new Date().toISOString()} ${line}`);
        const version = flavour.container!.versionInLog?.exec(line)?.[1];
        if (version) state.versions[flavour.name] ??= version;
        const record = flavour.process!.parseLogLine(line, readAt);
        if (record) state.proxyLog.push(record);
      },
    });
    track(proxy);
    // The wait strategy reads its own log stream; make sure ours is live too where readiness is a
    // log line (it carries the log that analysis reads, and the version line comes before it).
    if (flavour.container!.readyLine) await waitUntil(() => proxyLogging, 5_000, () => `the ${flavour.name} container's log stream did not deliver its start lines within 5 s`);
    const address = await clientAddressing(proxy, network, state);
    const wire = networkWire(network, { proxy, toxiproxy, upstream });
    return {
      runtime: 'containers',
      ...(wire ? { wire } : {}),
      proxy: address(proxy, PROXY_PORT),
      upstream: address(upstream, UPSTREAM_PORT),
      versions: state.versions,
      logLagMs: 500,
      drainProxyLog() {
        const drained = state.proxyLog;
        state.proxyLog = [];
        return drained;
      },
      drainUpstreamEvents() {
        const drained = state.upstreamEvents;
        state.upstreamEvents = [];
        return state.drainEventFile ? [...drained, ...state.drainEventFile()] : drained;
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The upstream container and, with faults, the Toxiproxy container, started side by side. */
async function startUpstreamSide(spec: TopologySpec, images: Images<ImageChoice>, network: StartedNetwork, loopback: boolean, state: TopologyState,
  track: (container: StartedTestContainer) => void): Promise<{ upstream: StartedTestContainer; toxiproxy: StartedTestContainer | null }> {
  const upstreamReady = upstreamContainer(spec, images.node.reference, loopback, state).withNetwork(network).start();
  // Toxiproxy and the upstream come up side by side; the proxy needs both names to resolve.
  const toxiproxyReady = spec.faultLayer
    ? new LoopbackContainer(images.toxiproxy.reference, loopback)
      .withPullPolicy(IMAGE_IS_PRESENT)
      .withNetwork(network)
      .withNetworkAliases('toxiproxy')
      .withExposedPorts(TOXIPROXY_API_PORT)
      .withWaitStrategy(Wait.forHttp('/version', TOXIPROXY_API_PORT))
      .withStartupTimeout(STARTUP_TIMEOUT_MS)
      .start()
    : null;
  const results = await Promise.allSettled([upstreamReady, toxiproxyReady]);
  for (const result of results) if (result.status === 'fulfilled' && result.value) track(result.value);
  const failed = results.findIndex((result) => result.status === 'rejected');
  if (failed >= 0) {
    const reason = String(((results[failed] as PromiseRejectedResult).reason as Error)?.message ?? results[failed]);
    const complaints = state.upstreamOutput.filter((line) => /upstream-server:|Error/.test(line));
    const said = failed === 0 && state.upstreamOutput.length > 0 ? `; it said: ${(complaints.length > 0 ? complaints.slice(0, 2) : state.upstreamOutput.slice(-3)).join(' | ')}` : '';
    throw new Error(`the ${failed === 0 ? 'upstream' : 'toxiproxy'} container did not start (${reason.split('\n')[0]})${said}`);
  }
  const value = (result: PromiseSettledResult<StartedTestContainer | null>) => (result.status === 'fulfilled' ? result.value : null);
  return { upstream: value(results[0])!, toxiproxy: value(results[1]) };
}

/** The upstream program in the Node image, its events through a private directory or its log. */
function upstreamContainer(spec: TopologySpec, image: string, loopback: boolean, state: TopologyState): LoopbackContainer {
  // Events through a bind-mounted file when the engine shares this file system: thousands
  // of log lines a second through the engine's log driver cost dockerd ~30% of a core here
  // (measured), which the race then feels. A remote engine streams them in the log instead.
  const eventsVia = process.env.KEEPALIVE_LAB_CONTAINERS_EVENTS ?? (loopback ? 'file' : 'logs');
  if (eventsVia !== 'file' && eventsVia !== 'logs') throw new UsageError(`KEEPALIVE_LAB_CONTAINERS_EVENTS: "${eventsVia}" is not file or logs`);
  let eventsTarget = '-';
  let container = new LoopbackContainer(image, loopback);
  if (eventsVia === 'file') {
    // Private to this user (mkdtemp's 0700): the upstream runs as this user's uid and gid, so
    // that it can write here while no other local user can forge its events.
    const eventsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keepalive-lab-events-'));
    const forget = reapDirOnExit(eventsDir);
    state.removeEventsDir = () => { fs.rmSync(eventsDir, { recursive: true, force: true }); forget(); };
    state.drainEventFile = eventFileReader(path.join(eventsDir, 'events.jsonl'));
    eventsTarget = '/keepalive-lab-events/events.jsonl';
    container = container.withBindMounts([{ source: eventsDir, target: '/keepalive-lab-events' }])
      .withUser(`${process.getuid!()}:${process.getgid!()}`);
  }
  return container
    .withPullPolicy(IMAGE_IS_PRESENT)
    .withNetworkAliases('upstream')
    .withCopyFilesToContainer([{ source: UPSTREAM_PROGRAM, target: PROGRAM_IN_CONTAINER }])
    .withCommand(['node', PROGRAM_IN_CONTAINER, ...upstreamArgs(spec.upstream), '--host', '0.0.0.0', '--port', String(UPSTREAM_PORT), '--events', eventsTarget])
    .withExposedPorts(UPSTREAM_PORT)
    .withLogConsumer((stream) => forEachLine(stream, (line) => {
      const parsed = parseUpstreamLine(line);
      if (parsed?.kind === 'event') state.upstreamEvents.push(parsed.event);
      else if (parsed?.kind === 'listening') state.versions.upstreamNode = parsed.node;
      else if (state.upstreamOutput.length < 20) state.upstreamOutput.push(line);
    }))
    .withWaitStrategy(Wait.forLogMessage(/"event":"listening"/))
    .withStartupTimeout(STARTUP_TIMEOUT_MS);
}

/** The fault layer's relay with the spec's faults, and the address the proxy sends to. */
async function faultLayerAddress(spec: TopologySpec, toxiproxy: StartedTestContainer, upstream: StartedTestContainer, network: StartedNetwork, toxiproxyImage: string | null, state: TopologyState): Promise<string> {
  const url = `http://${toxiproxy.getHost()}:${toxiproxy.getMappedPort(TOXIPROXY_API_PORT)}`;
  const version = (await new Toxiproxy(url).getVersion()).trim();
  state.versions.toxiproxy = `${toxiproxyImage} ${toxiproxyVersionName(version)}`;
  // Toxiproxy dials its upstream for every client connection: by name, each dial is a
  // lookup at Docker's embedded DNS (served by dockerd), which measured here as a 9 ms
  // median, 85 ms p99 transit. The address is fixed for the topology's life, so give it.
  const upstreamAddress = `${upstream.getIpAddress(network.getName())}:${UPSTREAM_PORT}`;
  await createFaultProxy(url, upstreamAddress, spec.faultLayer!.faults, `0.0.0.0:${TOXIPROXY_PROXY_PORT}`);
  return `toxiproxy:${TOXIPROXY_PROXY_PORT}`;
}

/**
 * Where a topology's packets pass: its network's bridge on this host (Docker names it br- and
 * the network id's first 12 characters), which carries the proxy's, the fault layer's and the
 * upstream's traffic, and the clients' where they reach the proxy on the bridge. The clock
 * anchors go to the upstream's address, across the bridge.
 */
function networkWire(network: StartedNetwork, parts: { proxy: StartedTestContainer; toxiproxy: StartedTestContainer | null; upstream: StartedTestContainer }): StartedTopology['wire'] {
  const name = network.getName();
  const upstreamIp = parts.upstream.getIpAddress(name);
  const iface = `br-${network.getId().slice(0, 12)}`;
  // This host's own address on the bridge (the network's gateway): the anchors leave from it.
  const gateway = os.networkInterfaces()[iface]?.find((address) => address.family === 'IPv4')?.address;
  // No such interface here: the engine runs elsewhere (a VM, another host), out of tcpdump's reach.
  if (!gateway) return undefined;
  return {
    iface,
    anchor: { from: gateway, to: upstreamIp },
    listeners: [
      { role: 'proxy', host: parts.proxy.getIpAddress(name), port: PROXY_PORT },
      ...(parts.toxiproxy ? [{ role: 'fault layer' as const, host: parts.toxiproxy.getIpAddress(name), port: TOXIPROXY_PROXY_PORT }] : []),
      { role: 'upstream', host: upstreamIp, port: UPSTREAM_PORT },
    ],
  };
}

/**
 * How clients reach a container: straight onto the bridge when this host can (a Linux engine
 * here), else through the published port (docker-proxy, one more relay in between).
 */
async function clientAddressing(proxy: StartedTestContainer, network: StartedNetwork, state: TopologyState): Promise<(container: StartedTestContainer, port: number) => Endpoint> {
  const bridge = process.env.KEEPALIVE_LAB_CONTAINERS_CLIENT_PATH !== 'published-port'
    && await canConnect(proxy.getIpAddress(network.getName()), PROXY_PORT, 500);
  state.versions.clientPath = bridge ? 'bridge' : 'published-port';
  return (container, port) => (bridge
    ? { host: container.getIpAddress(network.getName()), port }
    : { host: container.getHost(), port: container.getMappedPort(port) });
}

/** Calls `onLine` for each complete line of a container's log stream. */
function forEachLine(stream: Readable, onLine: (line: string) => void): void {
  let carry = '';
  stream.on('data', (chunk: Buffer | string) => {
    const lines = (carry + chunk.toString()).split('\n');
    carry = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') onLine(line.replace(/\r$/, ''));
  });
  stream.on('error', () => {});
}

interface ProxyContainerOptions {
  confText: string;
  onLine: (line: string) => void;
}

/** The proxy flavour's image with the rendered config copied in, its log streamed line by line. */
async function startProxyContainer(flavour: ProxyFlavour, image: string, network: StartedNetwork, loopback: boolean, options: ProxyContainerOptions): Promise<StartedTestContainer> {
  const proxyProcess = flavour.process!;
  const container = flavour.container!;
  const confPath = `${PROXY_PREFIX}/${proxyProcess.configFile}`;
  const startLines: string[] = [];
  return new LoopbackContainer(image, loopback)
    .withPullPolicy(IMAGE_IS_PRESENT)
    .withNetwork(network)
    .withNetworkAliases('proxy')
    .withCopyContentToContainer([{ content: options.confText, target: confPath }])
    .withCommand([container.program, ...proxyProcess.args(confPath, `${PROXY_PREFIX}/`)])
    .withEnvironment({ NGINX_ENTRYPOINT_QUIET_LOGS: '1', ...proxyProcess.env?.(PROXY_PREFIX) })
    .withExposedPorts(PROXY_PORT)
    .withLogConsumer((stream) => forEachLine(stream, (line) => {
      if (startLines.length < 20) startLines.push(line);
      options.onLine(line);
    }))
    // Ready at its start line, else when its port answers HTTP at all (any status: a path no
    // lane routes reaches no upstream).
    .withWaitStrategy(container.readyLine ? Wait.forLogMessage(container.readyLine) : Wait.forHttp('/', PROXY_PORT).forStatusCodeMatching(() => true))
    .withStartupTimeout(STARTUP_TIMEOUT_MS)
    .start()
    .catch((error: Error) => {
      const complaints = startLines.filter((line) => proxyProcess.complaint.test(line)).slice(-2).join(' | ');
      throw new Error(`the ${flavour.name} container did not start (${error.message.split('\n')[0]})${complaints ? `; it said: ${complaints}` : ''}`);
    });
}

function copyArtifacts(spec: TopologySpec, flavour: ProxyFlavour, proxyConf: string, errorLines: string[]): void {
  if (!spec.artifactsDir || proxyConf === '') return;
  const name = spec.artifactsName ?? 'topology';
  fs.mkdirSync(spec.artifactsDir, { recursive: true });
  fs.writeFileSync(path.join(spec.artifactsDir, `${name}.${flavour.process!.configFile}`), proxyConf);
  fs.writeFileSync(path.join(spec.artifactsDir, `${name}.error.log`), errorLines.length > 0 ? `${errorLines.join('\n')}\n` : '');
}
