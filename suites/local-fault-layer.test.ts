// The local runtime's fault layer as a process: the embedded server's own entry (not the CLI,
// which loads every command's libraries first), driven through toxiproxy-node-client, and gone
// after stop. With a real toxiproxy-server on PATH the runtime uses that instead (checked too).
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Toxiproxy } from 'toxiproxy-node-client';
import { startLocalToxiproxy, type LocalToxiproxy } from '../src/toxiproxy/local-toxiproxy.js';

let echo: net.Server;
let echoPort: number;
beforeAll(async () => {
  echo = net.createServer((socket) => socket.on('data', (data) => socket.write(data)));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as net.AddressInfo).port;
});
afterAll(() => new Promise((resolve) => echo.close(resolve)));

it('starts as its own process, relays through a proxy made with toxiproxy-node-client, and leaves nothing after stop', async () => {
  const layer: LocalToxiproxy = await startLocalToxiproxy();
  let stopped = false;
  try {
    if (layer.version.startsWith('embedded')) {
      expect(layer.version).toBe('embedded keepalive-lab-embedded/2.x-api');
      const entry = layer.child.process.spawnargs[1] ?? '';
      expect(entry).toMatch(/dist\/toxiproxy\/main\.js$/);
    } else {
      expect(layer.version).toMatch(/^toxiproxy-server /);
    }
    const proxy = await new Toxiproxy(layer.url).createProxy({ name: 'echo', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echoPort}` });
    const port = Number(proxy.listen.split(':').pop());
    const socket = net.connect({ host: '127.0.0.1', port });
    const answer = await new Promise<string>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('data', (data) => resolve(data.toString()));
      socket.write('ping');
    });
    socket.destroy();
    expect(answer).toBe('ping');

    await layer.stop();
    stopped = true;
    expect(layer.child.process.exitCode !== null || layer.child.process.signalCode !== null).toBe(true);
    const refused = await new Promise<string>((resolve) => {
      const probe = net.connect({ host: '127.0.0.1', port: Number(new URL(layer.url).port) });
      probe.once('connect', () => { probe.destroy(); resolve('connected'); });
      probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  } finally {
    if (!stopped) await layer.stop();
  }
});
