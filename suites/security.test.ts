// Security claims: nothing off this host, and no web page, can drive the harness; what it reads
// (run directories, histories) is data. Each case was a finding of a review and failed before
// its fix.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Toxiproxy } from 'toxiproxy-node-client';
import { MAX_BODY_BYTES, startToxiproxyServer } from '../src/toxiproxy/api-server.js';
import { freePort } from '../src/util/ports.js';
import { listenersOf, type Listener } from './support/listeners.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const NODE_APP = `node ${fileURLToPath(new URL('./fixtures/gate/node-upstream.mjs', import.meta.url))}`;
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-security-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';

describe('the embedded Toxiproxy API', () => {
  const withServer = async (run: (url: string) => Promise<void>) => {
    const server = await startToxiproxyServer({ port: 0 });
    try {
      await run(server.url);
    } finally {
      await server.close();
    }
  };
  const createBody = (listen = '127.0.0.1:0') => JSON.stringify({ name: 'relay', listen, upstream: '127.0.0.1:9' });

  it('refuses what a web page sends: a browser user agent, an Origin, a Sec-Fetch-Site', async () => {
    await withServer(async (url) => {
      const refused: Record<string, string>[] = [
        { 'user-agent': BROWSER, 'content-type': 'text/plain' },
        { origin: 'http://evil.example', 'content-type': 'text/plain' },
        { 'sec-fetch-site': 'cross-site' },
      ];
      for (const headers of refused) {
        const answer = await fetch(`${url}/proxies`, { method: 'POST', headers, body: createBody() });
        expect(answer.status, JSON.stringify(headers)).toBe(403);
      }
      // Nothing was created, and the client the harness uses is still served.
      const client = new Toxiproxy(url);
      expect(Object.keys(await client.getAll())).toEqual([]);
      const proxy = await client.createProxy({ name: 'ok', listen: '127.0.0.1:0', upstream: '127.0.0.1:9' });
      expect(proxy.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    });
  });

  it('refuses a body over the limit without holding it', async () => {
    await withServer(async (url) => {
      const big = 'x'.repeat(MAX_BODY_BYTES + 1);
      const declared = await fetch(`${url}/populate`, { method: 'POST', body: big });
      expect(declared.status).toBe(413);
      // Streamed without a length: refused once the limit is passed.
      const streamed = await fetch(`${url}/populate`, {
        method: 'POST',
        body: new ReadableStream({ start(controller) {
          for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(MAX_BODY_BYTES / 2)));
          controller.close();
        } }),
        duplex: 'half',
      } as RequestInit);
      expect(streamed.status).toBe(413);
    });
  });

  it('opens relays on loopback only while it listens on loopback', async () => {
    await withServer(async (url) => {
      for (const listen of ['0.0.0.0:0', '[::]:0', '10.1.2.3:0']) {
        const answer = await fetch(`${url}/proxies`, { method: 'POST', body: createBody(listen) });
        expect(answer.status, listen).toBe(400);
        expect(await answer.text()).toMatch(/loopback/);
      }
      const client = new Toxiproxy(url);
      const proxy = await client.createProxy({ name: 'moved', listen: '127.0.0.1:0', upstream: '127.0.0.1:9' });
      const moved = await fetch(`${url}/proxies/moved`, { method: 'POST', body: JSON.stringify({ listen: '0.0.0.0:0' }) });
      expect(moved.status).toBe(400);
      expect((await client.get('moved')).listen).toBe(proxy.listen);
    });
  });

  it('refuses toxic attributes no timer can hold', async () => {
    await withServer(async (url) => {
      const client = new Toxiproxy(url);
      await client.createProxy({ name: 'slow', listen: '127.0.0.1:0', upstream: '127.0.0.1:9' });
      for (const latency of [1e300, 2 ** 31]) {
        const answer = await fetch(`${url}/proxies/slow/toxics`, { method: 'POST', body: JSON.stringify({ type: 'latency', attributes: { latency } }) });
        expect(answer.status, String(latency)).toBe(400);
      }
      const kept = await fetch(`${url}/proxies/slow/toxics`, { method: 'POST', body: JSON.stringify({ type: 'latency', attributes: { latency: 2 ** 31 - 1 } }) });
      expect(kept.status).toBe(200);
    });
  });
});

describe('the gate on a user\'s nginx config', () => {
  it('listens on loopback only: a one-line server block and a listen in an included file move to 127.0.0.1', async () => {
    const [main, oneLine, included] = [await freePort(), await freePort(), await freePort()];
    fs.mkdirSync(path.join(tmp, 'sites'));
    fs.writeFileSync(path.join(tmp, 'sites', 'extra.conf'), `server {\n    listen ${included};\n    return 204;\n}\n`);
    const conf = path.join(tmp, 'nginx.conf');
    fs.writeFileSync(conf, `events {}
http {
    upstream backend { server 10.20.30.40:3000; keepalive 16; keepalive_timeout 2s; }
    server {
        listen ${main};
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
    server { listen ${oneLine}; return 204; }
    include sites/*.conf;
}
`);
    const child = spawn(process.execPath, [CLI, 'gate', '--nginx-conf', conf, '--upstream-block', 'backend', '--upstream-cmd', `KEEP_ALIVE_TIMEOUT=500 ${NODE_APP}`,
      '--method', 'POST', '--body', '{}', '--out', path.join(tmp, 'run')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
    let stderr = '';
    child.stderr.on('data', (part: Buffer) => { stderr += part.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // Every listening socket of the gate's process tree, sampled while it runs.
    const seen = new Map<string, Listener>();
    let running = true;
    void exited.then(() => { running = false; });
    while (running) {
      for (const listener of listenersOf(child.pid!)) seen.set(`${listener.pid}:${listener.address}:${listener.port}`, listener);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await exited, stderr).toBe(1); // the race, found: the run did get through the config
    const ports = new Set([...seen.values()].map((listener) => listener.port));
    // nginx did listen on all three ports of the config (so the sampling saw the run)...
    for (const port of [main, oneLine, included]) expect(ports, `port ${port}`).toContain(port);
    // ...and nothing of the run (nginx, the connection tap, the upstream) off loopback.
    expect([...seen.values()].filter((listener) => !listener.loopback)).toEqual([]);
  });
});
