// Conformance of a Toxiproxy server, driven only through toxiproxy-node-client: API shapes and
// errors, each toxic's measurable effect, and the close semantics the race depends on.
// TOXIPROXY_URL=http://127.0.0.1:8474 npx vitest run suites/toxiproxy-conformance.test.ts
// checks a real Toxiproxy the same way; by default the suite starts the embedded server.
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Toxiproxy, type Proxy } from 'toxiproxy-node-client';
import { startToxiproxyServer, type RunningToxiproxy } from '../src/toxiproxy/api-server.js';

let embedded: RunningToxiproxy | null = null;
let toxiproxy: Toxiproxy;
let upstream: net.Server;
let upstreamPort: number;
/** What the upstream does with each connection; tests replace it. */
let onUpstreamConnection: (socket: net.Socket) => void;
const upstreamSockets = new Set<net.Socket>();
let proxyCount = 0;

beforeAll(async () => {
  const url = process.env.TOXIPROXY_URL ?? (embedded = await startToxiproxyServer({ port: 0 })).url;
  toxiproxy = new Toxiproxy(url);
  upstream = net.createServer({ allowHalfOpen: true }, (socket) => {
    upstreamSockets.add(socket);
    socket.on('close', () => upstreamSockets.delete(socket));
    socket.on('error', () => {});
    onUpstreamConnection(socket);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamPort = (upstream.address() as net.AddressInfo).port;
});
afterEach(async () => {
  for (const socket of upstreamSockets) socket.destroy();
  await toxiproxy.reset();
  for (const proxy of Object.values(await toxiproxy.getAll())) await proxy.remove();
});
afterAll(async () => {
  await new Promise((resolve) => upstream.close(resolve));
  await embedded?.close();
});

const echo = (socket: net.Socket) => socket.on('data', (data) => socket.write(data));
async function newProxy(): Promise<Proxy> {
  return toxiproxy.createProxy({ name: `conformance_${++proxyCount}`, listen: '127.0.0.1:0', upstream: `127.0.0.1:${upstreamPort}` });
}
function portOf(proxy: Proxy): number {
  return Number(proxy.listen.split(':').pop());
}
function connect(proxy: Proxy): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: portOf(proxy), host: '127.0.0.1', allowHalfOpen: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}
/** Sends `payload` and times until `bytes` bytes came back (ms). */
async function roundTrip(proxy: Proxy, payload: Buffer, bytes = payload.length): Promise<{ ms: number; chunks: number }> {
  const socket = await connect(proxy);
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    let received = 0;
    let chunks = 0;
    socket.on('data', (data) => {
      received += data.length;
      chunks++;
      if (received >= bytes) {
        resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, chunks });
        socket.destroy();
      }
    });
    socket.on('error', reject);
    socket.write(payload);
  });
}
/**
 * How the server side of a client's connection ended, and when (ms after `since`): a FIN
 * ('end') or a reset. The client socket allows half-open connections, so that a half-close
 * passed through would show as data arriving after the client's own FIN.
 */
function ending(socket: net.Socket, since = process.hrtime.bigint()): Promise<{ how: 'fin' | 'reset' | 'close'; ms: number; data: string }> {
  return new Promise((resolve) => {
    let data = '';
    const done = (how: 'fin' | 'reset' | 'close') => {
      resolve({ how, ms: Number(process.hrtime.bigint() - since) / 1e6, data });
      socket.destroy();
    };
    socket.on('data', (part) => (data += part));
    socket.on('end', () => done('fin'));
    socket.on('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNRESET' ? 'reset' : 'close'));
    socket.on('close', () => done('close'));
  });
}

describe('API', () => {
  it('answers /version and lists, creates, gets and removes proxies with Toxiproxy\'s shapes', async () => {
    expect(await toxiproxy.getVersion()).toMatch(/version/);
    const proxy = await newProxy();
    expect(proxy.toJson()).toEqual({ name: proxy.name, listen: expect.stringMatching(/^127\.0\.0\.1:\d+$/), upstream: `127.0.0.1:${upstreamPort}`, enabled: true });
    expect(portOf(proxy)).toBeGreaterThan(0);
    expect(Object.keys(await toxiproxy.getAll())).toEqual([proxy.name]);
    expect((await toxiproxy.get(proxy.name)).toJson()).toEqual(proxy.toJson());
    await proxy.remove();
    await expect(toxiproxy.get(proxy.name)).rejects.toThrow(/status code 404/);
  });

  it('refuses a duplicate (409), a missing field (400), an unknown proxy (404)', async () => {
    const proxy = await newProxy();
    await expect(toxiproxy.createProxy({ name: proxy.name, listen: '127.0.0.1:0', upstream: 'x:1' })).rejects.toThrow(/status code 409/);
    await expect(toxiproxy.createProxy({ name: 'no_upstream', listen: '127.0.0.1:0' } as never)).rejects.toThrow(/status code 400/);
    await expect(toxiproxy.get('nope')).rejects.toThrow(/status code 404/);
  });

  it('populates several proxies at once', async () => {
    const made = await toxiproxy.populate([
      { name: 'pop_a', listen: '127.0.0.1:0', upstream: `127.0.0.1:${upstreamPort}` },
      { name: 'pop_b', listen: '127.0.0.1:0', upstream: `127.0.0.1:${upstreamPort}` },
    ]);
    expect(Object.keys(made).sort()).toEqual(['pop_a', 'pop_b']);
    expect(Object.keys(await toxiproxy.getAll()).sort()).toEqual(['pop_a', 'pop_b']);
  });

  it('adds, shows, updates and removes toxics; defaults name, stream and toxicity', async () => {
    const proxy = await newProxy();
    const toxic = await proxy.addToxic({ type: 'latency', attributes: { latency: 25, jitter: 0 } } as never);
    expect(toxic.toJson()).toEqual({ name: 'latency_downstream', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 25, jitter: 0 } });
    const updated = await toxic.update({ attributes: { latency: 30 }, toxicity: 0.5 } as never);
    expect(updated.toJson()).toMatchObject({ toxicity: 0.5, attributes: { latency: 30, jitter: 0 } });
    expect((await proxy.getToxic('latency_downstream')).attributes).toEqual({ latency: 30, jitter: 0 });
    await updated.remove();
    await expect(proxy.getToxic('latency_downstream')).rejects.toThrow(/status code 404/);
  });

  it('refuses a duplicate toxic (409), an unknown type or stream (400), a bad attribute (400)', async () => {
    const proxy = await newProxy();
    await proxy.addToxic({ name: 'slow', type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 1, jitter: 0 } });
    await expect(proxy.addToxic({ name: 'slow', type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 1, jitter: 0 } })).rejects.toThrow(/status code 409/);
    await expect(proxy.addToxic({ name: 'x', type: 'teleport' as never, stream: 'upstream', toxicity: 1, attributes: {} as never })).rejects.toThrow(/status code 400/);
    await expect(proxy.addToxic({ name: 'y', type: 'latency', stream: 'sideways' as never, toxicity: 1, attributes: { latency: 1, jitter: 0 } })).rejects.toThrow(/status code 400/);
    await expect(proxy.addToxic({ name: 'z', type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 'soon' as never, jitter: 0 } })).rejects.toThrow(/status code 400/);
  });

  it('reset removes every toxic and enables every proxy', async () => {
    const proxy = await newProxy();
    await proxy.addToxic({ name: 'lat', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 5, jitter: 0 } });
    await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    await toxiproxy.reset();
    const after = await toxiproxy.get(proxy.name);
    expect(after.enabled).toBe(true);
    expect(await (await toxiproxy.getApi().get(`${after.getPath()}/toxics`)).data).toEqual([]);
  });
});

describe('toxics, measured', () => {
  // Tolerances: timers on a loaded 2-core machine fire up to a few ms late, never early.
  it('latency delays each direction by its amount', async () => {
    onUpstreamConnection = echo;
    const proxy = await newProxy();
    const base = await roundTrip(proxy, Buffer.from('ping'));
    await proxy.addToxic({ name: 'down', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 40, jitter: 0 } });
    await proxy.addToxic({ name: 'up', type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 30, jitter: 0 } });
    const slowed = await roundTrip(proxy, Buffer.from('ping'));
    expect(slowed.ms).toBeGreaterThanOrEqual(70);
    expect(slowed.ms).toBeLessThan(70 + base.ms + 15);
  });

  it('bandwidth passes data at its rate', async () => {
    onUpstreamConnection = (socket) => socket.end(Buffer.alloc(200_000, 1));
    const proxy = await newProxy();
    await proxy.addToxic({ name: 'bw', type: 'bandwidth', stream: 'downstream', toxicity: 1, attributes: { rate: 1000 } });
    const { ms } = await roundTrip(proxy, Buffer.from('go'), 200_000);
    // 200,000 bytes at 1,000 KB/s: 200 ms.
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(300);
  });

  it('slow_close holds the upstream\'s close back by its delay, data passes at once', async () => {
    onUpstreamConnection = (socket) => socket.end('bye');
    const proxy = await newProxy();
    await proxy.addToxic({ name: 'sc', type: 'slow_close', stream: 'downstream', toxicity: 1, attributes: { delay: 150 } });
    const socket = await connect(proxy);
    const { how, ms, data } = await ending(socket);
    expect(data).toBe('bye');
    expect(how).toBe('fin');
    expect(ms).toBeGreaterThanOrEqual(150);
    expect(ms).toBeLessThan(200);
  });

  it('timeout stops data and closes after its timeout', async () => {
    onUpstreamConnection = echo;
    const proxy = await newProxy();
    await proxy.addToxic({ name: 'to', type: 'timeout', stream: 'upstream', toxicity: 1, attributes: { timeout: 100 } });
    const socket = await connect(proxy);
    const result = ending(socket);
    socket.write('lost');
    const { ms, data } = await result;
    expect(data).toBe('');
    expect(ms).toBeGreaterThanOrEqual(95);
    expect(ms).toBeLessThan(160);
  });

  it('reset_peer resets the connection', async () => {
    onUpstreamConnection = echo;
    const proxy = await newProxy();
    await proxy.addToxic({ name: 'rp', type: 'reset_peer', stream: 'upstream', toxicity: 1, attributes: { timeout: 20 } });
    const socket = await connect(proxy);
    const result = ending(socket);
    socket.write('hello');
    expect((await result).how).toBe('reset');
  });

  it('slicer cuts data into small pieces; limit_data closes after its bytes', async () => {
    onUpstreamConnection = (socket) => socket.write(Buffer.alloc(2000, 2));
    const proxy = await newProxy();
    await proxy.addToxic({ name: 'sl', type: 'slicer', stream: 'downstream', toxicity: 1, attributes: { average_size: 100, size_variation: 20, delay: 1000 } });
    expect((await roundTrip(proxy, Buffer.from('go'), 2000)).chunks).toBeGreaterThanOrEqual(10);
    await proxy.addToxic({ name: 'ld', type: 'limit_data', stream: 'downstream', toxicity: 1, attributes: { bytes: 500 } } as never);
    const { data, how } = await ending(await connect(proxy));
    expect(data.length).toBe(500);
    expect(how).toBe('fin');
  });

  it('toxicity 0 leaves connections alone', async () => {
    onUpstreamConnection = echo;
    const proxy = await newProxy();
    await proxy.addToxic({ name: 'never', type: 'latency', stream: 'downstream', toxicity: 0, attributes: { latency: 500, jitter: 0 } });
    expect((await roundTrip(proxy, Buffer.from('ping'))).ms).toBeLessThan(100);
  });

  it('a disabled proxy ("down") refuses connections, and comes back when enabled', async () => {
    onUpstreamConnection = echo;
    const proxy = await newProxy();
    await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    await expect(connect(proxy)).rejects.toThrow(/ECONNREFUSED/);
    await proxy.update({ enabled: true, listen: proxy.listen, upstream: proxy.upstream });
    expect((await roundTrip(proxy, Buffer.from('ping'))).ms).toBeLessThan(100);
  });
});

describe('close semantics', () => {
  it('a client FIN fully closes both sides: no half-close passes through', async () => {
    // The upstream answers a half-close with data; through Toxiproxy it never arrives.
    onUpstreamConnection = (socket) => socket.on('end', () => socket.end('late reply'));
    const proxy = await newProxy();
    const socket = await connect(proxy);
    const result = ending(socket);
    socket.end();
    const { data, how } = await result;
    expect(data).toBe('');
    expect(how).toBe('fin');
  });

  it('an upstream reset reaches the client as a close, not a reset', async () => {
    onUpstreamConnection = (socket) => setTimeout(() => socket.resetAndDestroy(), 20);
    const proxy = await newProxy();
    expect((await ending(await connect(proxy))).how).toBe('fin');
  });

  it('an EOF on an idle link passes a latency toxic at once; only slow_close delays it', async () => {
    onUpstreamConnection = (socket) => setTimeout(() => socket.end(), 20);
    const proxy = await newProxy();
    await proxy.addToxic({ name: 'lat', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 300, jitter: 0 } });
    const { ms, how } = await ending(await connect(proxy));
    expect(how).toBe('fin');
    expect(ms).toBeLessThan(150);
  });

  it('each client connection gets its own upstream connection', async () => {
    onUpstreamConnection = echo;
    const proxy = await newProxy();
    const sockets = await Promise.all([connect(proxy), connect(proxy), connect(proxy)]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(upstreamSockets.size).toBe(3);
    sockets.forEach((socket) => socket.destroy());
  });
});
