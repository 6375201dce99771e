// Security claims: nothing off this host, and no web page, can drive the harness; what it reads
// (run directories, histories) is data. Each case was a finding of a review and failed before
// its fix.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Toxiproxy } from 'toxiproxy-node-client';
import { parseFilterLine } from '../containers/offline/ryuk-filter.mjs';
import { analyzeHistory } from '../src/analysis/analyze-history.js';
import type { CellRecord, HistoryRecord, RunRecord, TrialRecord } from '../src/history/records.js';
import { htmlReport } from '../src/report/html/html-report.js';
import { MAX_BODY_BYTES, startToxiproxyServer } from '../src/toxiproxy/api-server.js';
import { startConnectionTap } from '../src/gate/tap/connection-tap.js';
import { guardLoopback } from '../src/proxy/listen-guard.js';
import { freePort } from '../src/util/ports.js';
import { HttpConnection } from '../src/workload/http-connection.js';
import { listenersWhileRunning } from './support/listeners.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const STANDIN = fileURLToPath(new URL('../containers/offline/ryuk-standin.mjs', import.meta.url));
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

  it('started off loopback, it says so: anyone who reaches it can open relays', async () => {
    const child = spawn(process.execPath, [CLI, 'toxiproxy', '--host', '0.0.0.0', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let stderr = '';
    child.stderr.on('data', (part: Buffer) => { stderr += part.toString(); });
    // Stopped as soon as it has listened: the warning comes with the ready line.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 100));
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(stderr).toMatch(/^warning: the API listens on 0\.0\.0\.0: any host that reaches it can open relays on this machine/m);
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
  it('listens on loopback only: a one-line server block, a listen in an included file, a listen continued on the next line and one after a quoted " #" move to 127.0.0.1', async () => {
    const [main, oneLine, included, split, quoted] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
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
    server {
        listen
            0.0.0.0:${split};
        return 204;
    }
    server { add_header X " #"; listen 0.0.0.0:${quoted}; return 204; }
    include sites/*.conf;
}
`);
    const child = spawn(process.execPath, [CLI, 'gate', '--nginx-conf', conf, '--upstream-block', 'backend', '--upstream-cmd', `KEEP_ALIVE_TIMEOUT=500 ${NODE_APP}`,
      '--method', 'POST', '--body', '{}', '--out', path.join(tmp, 'run')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
    // Every listening socket of the gate's process tree, sampled while it runs.
    const { code, stderr, listeners } = await listenersWhileRunning(child);
    expect(code, stderr).toBe(1); // the race, found: the run did get through the config
    const ports = new Set(listeners.map((listener) => listener.port));
    // nginx did listen on all three ports of the config (so the sampling saw the run)...
    for (const port of [main, oneLine, included, split, quoted]) expect(ports, `port ${port}`).toContain(port);
    // ...and nothing of the run (nginx, the connection tap, the upstream) off loopback.
    expect(listeners.filter((listener) => !listener.loopback)).toEqual([]);
  });
});

describe('the gate on a user\'s Caddyfile', () => {
  it('listens on loopback only: a bind 0.0.0.0 and a site without a bind move to 127.0.0.1, and no admin endpoint opens', async () => {
    const [main, other] = [await freePort(), await freePort()];
    const conf = path.join(tmp, 'Caddyfile');
    fs.writeFileSync(conf, `{
\tadmin 0.0.0.0:2019
}
:${main} {
\tbind 0.0.0.0
\treverse_proxy app:3000 {
\t\ttransport http {
\t\t\tkeepalive 2s
\t\t\tkeepalive_idle_conns_per_host 16
\t\t}
\t}
}
:${other} {
\trespond "other"
}
`);
    const child = spawn(process.execPath, [CLI, 'gate', '--proxy', 'caddy', '--caddyfile', conf, '--caddy-upstream', 'app:3000', '--upstream-cmd', `KEEP_ALIVE_TIMEOUT=500 ${NODE_APP}`,
      '--method', 'POST', '--body', '{}', '--out', path.join(tmp, 'caddy-run')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
    // Every listening socket of the gate's process tree, sampled while it runs.
    const { code, stderr, listeners } = await listenersWhileRunning(child);
    expect(code, stderr).toBe(1); // the race, found: the run did get through the config
    const ports = new Set(listeners.map((listener) => listener.port));
    for (const port of [main, other]) expect(ports, `port ${port}`).toContain(port);
    expect(ports).not.toContain(2019);
    expect(listeners.filter((listener) => !listener.loopback)).toEqual([]);
  });
});

// Whatever a rewrite misses: the gate reads what the config listens on as the proxy itself
// reads it (nginx -T, caddy adapt, HAProxy's sections) and refuses one off loopback before any
// socket opens; after the start, the kernel's view is read too (src/proxy/listen-guard.ts).
// These configs listened on 0.0.0.0 in ways the rewrites do not follow.
describe('the gate\'s loopback checks', () => {
  const refused = async (args: string[], out: string, offLoopback: RegExp) => {
    const child = spawn(process.execPath, [CLI, 'gate', ...args, '--upstream-cmd', `KEEP_ALIVE_TIMEOUT=500 ${NODE_APP}`, '--method', 'POST', '--body', '{}', '--out', out],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
    const { code, stderr, listeners } = await listenersWhileRunning(child);
    expect(code, stderr).toBe(2);
    expect(stderr.trim().split('\n'), stderr).toHaveLength(1);
    expect(stderr).toMatch(/it would listen off loopback \(/);
    expect(stderr).toMatch(offLoopback);
    expect(fs.existsSync(out)).toBe(false);
    // Refused before the proxy started: nothing of the run listened off loopback.
    expect(listeners.filter((listener) => !listener.loopback)).toEqual([]);
  };

  it('HAProxy: a peers section\'s peer on 0.0.0.0 (only bind lines are rewritten)', async () => {
    const [main, peer] = [await freePort(), await freePort()];
    const conf = path.join(tmp, 'peers.cfg');
    fs.writeFileSync(conf, `defaults\n    mode http\n    timeout connect 5s\n    timeout client 50s\n    timeout server 50s\n    timeout http-keep-alive 2s\n\n`
      + `peers mesh\n    peer ${os.hostname()} 0.0.0.0:${peer}\n\nfrontend web\n    bind 127.0.0.1:${main}\n    default_backend app\n\nbackend app\n    server app1 10.0.0.5:3000\n`);
    await refused(['--proxy', 'haproxy', '--haproxy-conf', conf, '--backend', 'app'], path.join(tmp, 'peers-run'), new RegExp(`peer 0\\.0\\.0\\.0:${peer} at .*peers\\.cfg:9`));
  });

  it('Caddy: a site with bind 0.0.0.0 in an imported file (imports are not rewritten)', async () => {
    const [main, imported] = [await freePort(), await freePort()];
    fs.mkdirSync(path.join(tmp, 'caddy-sites'));
    fs.writeFileSync(path.join(tmp, 'caddy-sites', 'extra.caddy'), `:${imported} {\n\tbind 0.0.0.0\n\trespond "x"\n}\n`);
    const conf = path.join(tmp, 'Caddyfile-import');
    fs.writeFileSync(conf, `:${main} {\n\treverse_proxy app:3000 {\n\t\ttransport http {\n\t\t\tkeepalive 2s\n\t\t}\n\t}\n}\nimport ${path.join(tmp, 'caddy-sites')}/*.caddy\n`);
    await refused(['--proxy', 'caddy', '--caddyfile', conf, '--caddy-upstream', 'app:3000'], path.join(tmp, 'import-run'), new RegExp(`0\\.0\\.0\\.0:${imported}`));
  });

  it('nginx: a server block with no listen (nginx listens on *:80)', async () => {
    const main = await freePort();
    const conf = path.join(tmp, 'nolisten.conf');
    fs.writeFileSync(conf, `events {}\nhttp {\n    upstream backend { server 10.20.30.40:3000; keepalive 16; keepalive_timeout 2s; }\n`
      + `    server { listen ${main}; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } }\n    server {\n        return 204;\n    }\n}\n`);
    await refused(['--nginx-conf', conf, '--upstream-block', 'backend'], path.join(tmp, 'nolisten-run'), /a server block with no listen \(nginx listens on \*:80\) at .*nolisten\.conf:5/);
  });

  it('after the start, in the kernel: a listener opened later is found within the guard\'s period', async () => {
    // A process that listens on loopback, then a second later on every address.
    const child = spawn(process.execPath, ['-e', `const net = require('node:net');
      net.createServer().listen(0, '127.0.0.1', () => {
        console.log('loopback');
        setTimeout(() => net.createServer().listen(0, '0.0.0.0'), 1000);
      });
      setTimeout(() => {}, 10000);`], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((resolve) => child.stdout.once('data', resolve));
      const tripped = new Promise<Error>((resolve) => guardLoopback(child.pid!, 'the test process', resolve, 100));
      const error = await tripped;
      expect(error.message).toMatch(/^the test process listened off loopback \(tcp 0\.0\.0\.0:\d+\), so it was stopped/);
      // At once, the guard throws instead.
      expect(() => guardLoopback(child.pid!, 'the test process', () => {}, 100)).toThrow(/listened off loopback/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

// Field mode's budget holds against a service that stops answering: it once ran 40 s past
// --max-seconds 5 (a TLS server that stopped completing handshakes after the preflight: no
// connect timeout), and the budget's clock started only after the preflight.
describe('field mode\'s budget', () => {
  it('ends within a second of --max-seconds when the service goes silent after the preflight', async () => {
    let answered = 0;
    const silent = net.createServer((socket) => {
      socket.on('error', () => {});
      // The preflight's request is answered; every later one waits for ever.
      socket.once('data', () => {
        if (answered++ === 0) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      // Spawned, not spawnSync: the silent server lives in this process and must keep running.
      const child = spawn(process.execPath, [CLI, 'field', '--url', `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/`, '--idle', '1s..1.5s@500ms',
        '--max-seconds', '6', '--no-record'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      clearTimeout(killer);
      const seconds = (Date.now() - started) / 1000;
      expect(code, stderr).toBe(1); // disturbed: the service stopped answering, not "no race seen"
      // 6 s of budget and the 1 s grace, plus the CLI's own start (1-2 s here).
      expect(seconds, stderr).toBeLessThan(6 + 1 + 3);
      expect(stderr).toMatch(/time budget ended while \d+ requests of group \d+ waited for an answer/);
    } finally {
      silent.close();
    }
  }, 70_000);

  it('keeps --rate after groups with no answer (their primes once followed at once)', async () => {
    const arrivals: number[] = [];
    let answered = 0;
    const closing = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => {
        if (answered++ === 0) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        else {
          arrivals.push(Date.now());
          socket.destroy();
        }
      });
    });
    await new Promise<void>((resolve) => closing.listen(0, '127.0.0.1', resolve));
    try {
      const child = spawn(process.execPath, [CLI, 'field', '--url', `http://127.0.0.1:${(closing.address() as net.AddressInfo).port}/`, '--idle', '1s..1.5s@500ms',
        '--group', '16', '--rate', '50', '--no-record'], { stdio: 'ignore' });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code).toBe(1); // stopped: no group was answered
      // 3 groups of 16 at 50 requests/s: the third starts at least 2 x 320 ms after the first.
      expect(arrivals.length).toBe(48);
      expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThanOrEqual(600);
    } finally {
      closing.close();
    }
  }, 60_000);

  it('a TLS connect to a server that never completes the handshake times out', async () => {
    const mute = net.createServer((socket) => socket.on('error', () => {}));
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    try {
      const connection = new HttpConnection({ host: '127.0.0.1', port: (mute.address() as net.AddressInfo).port }, { servername: 'example.test' });
      const started = Date.now();
      await expect(connection.connect(300)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      expect(Date.now() - started).toBeLessThan(5_000);
      connection.close();
    } finally {
      mute.close();
    }
  });
});

// The connection tap relays a hostile upstream's bytes only as fast as the proxy reads them: a
// proxy that does not read once let 200 MB pile up in the relay (213 MB of memory).
describe('the connection tap', () => {
  it('keeps backpressure: an upstream streaming to a proxy that does not read is held back', async () => {
    const total = 128 * 1024 * 1024;
    let flushed = 0;
    const flooding = net.createServer((socket) => {
      socket.on('error', () => {});
      const chunk = Buffer.alloc(1024 * 1024, 120);
      const pump = () => {
        // Writes as fast as the tap takes them: what it takes is counted once it leaves.
        while (flushed < total) {
          flushed += chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    await new Promise<void>((resolve) => flooding.listen(0, '127.0.0.1', resolve));
    const tap = await startConnectionTap({ host: '127.0.0.1', port: (flooding.address() as net.AddressInfo).port });
    const [host, port] = tap.address.split(':');
    const proxy = net.connect(Number(port), host!);
    proxy.on('error', () => {});
    try {
      await new Promise((resolve) => proxy.once('connect', resolve));
      // The "proxy" never reads. Given time to flood, the upstream got only the socket buffers through.
      proxy.pause();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(flushed).toBeLessThan(48 * 1024 * 1024);
    } finally {
      proxy.destroy();
      await tap.stop();
      flooding.close();
    }
  });
});

// A config is data until the user says it may run code: HAProxy's lua-load ran os.execute
// during `haproxy -c`, before the run had started anything.
describe('a config that loads code', () => {
  it('is refused before the proxy\'s checker reads it, and runs with --allow-config-code', () => {
    const marker = path.join(tmp, 'lua-ran');
    const lua = path.join(tmp, 'evil.lua');
    fs.writeFileSync(lua, `local f = io.open(${JSON.stringify(marker)}, "w"); f:write("ran"); f:close()\n`);
    const conf = path.join(tmp, 'lua.cfg');
    fs.writeFileSync(conf, `global\n    lua-load ${lua}\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s\n`
      + 'frontend web\n    bind {{listen}}\n    default_backend app\nbackend app\n    server s {{upstream}}\n');
    const gate = (extra: string[]) => spawnSync(process.execPath, [CLI, 'gate', '--proxy', 'haproxy', '--haproxy-conf', conf, '--upstream-url', 'http://127.0.0.1:1/', ...extra],
      { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp } });
    const refused = gate([]);
    expect(refused.status, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/lua\.cfg:2: "lua-load" makes HAProxy run code/);
    expect(fs.existsSync(marker)).toBe(false);
    // Allowed, the checker reads it and the script runs (so the refusal above kept it from running).
    // (The run then ends at the upstream, where nothing answers.)
    const allowed = gate(['--allow-config-code']);
    expect(allowed.status, allowed.stderr).toBe(2);
    expect(allowed.stderr).toMatch(/nothing answers/);
    expect(fs.existsSync(marker)).toBe(true);
  });
});

// The Ryuk stand-in prunes whatever its filters match: a line it cannot read must be refused,
// never taken as the empty filter (which matches every container, network and volume).
describe('the Ryuk stand-in\'s filters', () => {
  it('takes label filters with a key and a value, and refuses everything else', () => {
    expect(parseFilterLine('label=org.testcontainers.session-id=abc')).toEqual({ filter: { label: ['org.testcontainers.session-id=abc'] } });
    expect(parseFilterLine('label=a=b&label=c%3Dd=e')).toEqual({ filter: { label: ['a=b', 'c=d=e'] } });
    for (const line of ['x', 'label', 'label=', 'label=key', 'label=key=', 'label==value', 'name=.', 'id=abc', 'label=a=b&x', 'label=%E0%A4%A=b']) {
      expect(parseFilterLine(line), line).toHaveProperty('error');
    }
  });

  it('answers a bad line with an error and prunes only by the good ones (against a fake engine)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-ryuk-test-'));
    const socketPath = path.join(dir, 'docker.sock');
    const asked: string[] = [];
    const engine = http.createServer((request, response) => {
      asked.push(`${request.method} ${request.url}`);
      response.setHeader('content-type', 'application/json');
      response.end(request.url?.startsWith('/volumes') ? '{"Volumes":[]}' : '[]');
    });
    await new Promise<void>((resolve) => engine.listen(socketPath, resolve));
    const port = await freePort();
    const standin = spawn(process.execPath, [STANDIN], { env: { ...process.env, RYUK_PORT: String(port), RYUK_DOCKER_SOCKET: socketPath, RYUK_RECONNECTION_TIMEOUT: '100ms', RYUK_CONNECTION_TIMEOUT: '10s' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => standin.once('exit', resolve));
    try {
      await new Promise<void>((resolve) => standin.stdout.on('data', (chunk: Buffer) => { if (chunk.toString().includes('Started')) resolve(); }));
      const client = net.connect(port, '127.0.0.1');
      const lines: string[] = [];
      let buffered = '';
      client.on('data', (chunk) => {
        buffered += chunk.toString();
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        lines.push(...parts);
      });
      const answer = async (count: number) => { while (lines.length < count) await new Promise((resolve) => setTimeout(resolve, 10)); };
      client.write('x\n');
      await answer(1);
      client.write('label=org.testcontainers.session-id=abc\n');
      await answer(2);
      expect(lines[0]).toMatch(/^ERROR "x" is not key=value$/);
      expect(lines[1]).toBe('ACK');
      client.end();
      expect(await exited).toBe(0);
      // Every prune the stand-in asked for carries the one good filter; none is unfiltered.
      expect(asked.length).toBe(3);
      for (const call of asked) {
        const filters = new URL(call.split(' ')[1]!, 'http://engine').searchParams.get('filters');
        expect(JSON.parse(filters!), call).toEqual({ label: ['org.testcontainers.session-id=abc'] });
      }
    } finally {
      standin.kill();
      engine.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// report.html from a crafted history: a run directory is data, so every value from it is text
// in the page (escaped), and the page carries a CSP that lets nothing run even if one slipped.
const IMG = '<img src=x onerror=alert(1)>';
const SCRIPT = '<script>alert(2)</script>';

const run: RunRecord = { type: 'run', startedAt: '2026-11-29T00:00:00.000Z', monotonicAtStart: 0, runtime: 'local', proxy: 'nginx', versions: { nginx: IMG }, settings: {} };
// The history is JSON: a crafted one may put markup where the types say a number or an enum.
const cell = {
  type: 'cell', id: 'P60000-K100-exact-POST-off', trialPrefix: 'c0', proxyTimeoutMs: 60_000, upstreamTimeoutMs: 100,
  upstreamClose: IMG, closeStyle: 'fin', method: SCRIPT, retry: IMG, faults: [], path: 'direct', effectiveCloseMs: 100.5,
  probe: { samples: IMG, medianCloseMs: SCRIPT, p5CloseMs: 100, p95CloseMs: 101, closedBy: { fin: 3 }, advertisedKeepAlive: IMG },
  boundaries: [{ kind: 'upstream', atMs: 100.5 }], lanes: 1,
} as unknown as CellRecord;
const trial = (index: number, failed: boolean): TrialRecord => ({
  type: 'trial', cell: cell.id, id: `c0.${index}`, lane: 0, method: SCRIPT, boundary: 'upstream', intendedOffsetMs: 0,
  gapMs: 100.5, gapOffsetMs: 0, gapClock: 'upstream', receiptGapMs: 100.5, status: failed ? 502 : 200,
  errorClass: failed ? '502' : 'ok', latencyMs: 1, sentAt: index * 10, endedAt: index * 10 + 1,
});

describe('report.html from a crafted history', () => {
  it('shows the markup as text and carries a strict Content-Security-Policy', async () => {
    const history: HistoryRecord[] = [run, cell, trial(0, true), trial(1, false), trial(2, false)];
    const html = await htmlReport(analyzeHistory(history), history);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('&lt;script&gt;');
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">/);
  });
});

// A run directory is data: --resume runs only the programs named on its own command line.
describe('sweep --resume of a crafted run directory', () => {
  it('runs no program the directory names (its run record says nginx is a script)', () => {
    const dir = path.join(tmp, 'crafted');
    fs.mkdirSync(dir);
    const marker = path.join(tmp, 'ran');
    const script = path.join(tmp, 'not-nginx.sh');
    fs.writeFileSync(script, `#!/bin/sh\ntouch ${marker}\necho "nginx version: nginx/0.0.1" >&2\n`, { mode: 0o755 });
    const run: RunRecord = { type: 'run', startedAt: '2026-11-29T00:00:00.000Z', monotonicAtStart: 0, runtime: 'local', proxy: 'nginx', versions: { nginx: '0.0.1' }, settings: { nginxBin: script } };
    fs.writeFileSync(path.join(dir, 'trials.jsonl'), `${JSON.stringify(run)}\n`);
    const result = spawnSync(process.execPath, [CLI, 'sweep', '--resume', dir], { encoding: 'utf8', timeout: 30_000 });
    // The nginx on PATH answers its own version, which is not the run's: refused, one line.
    expect(result.status, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/^keepalive-lab: --resume .*: the setup changed since the run started \(nginx 0\.0\.1 -> /);
    expect(fs.existsSync(marker)).toBe(false);
  });
});

// A run directory handed over (a CI artifact) may hold symlinks, FIFOs and lines no run wrote:
// `report DIR` reads only regular files inside it, replaces its outputs instead of writing
// through them, and says what is wrong in one line (exit 2).
describe('report DIR of a crafted run directory', () => {
  // A history keepalive-lab could have written (the records hold what their types say): what is
  // crafted here is the directory around it.
  const wellFormed = (): HistoryRecord[] => {
    const plainCell = { ...cell, upstreamClose: 'exact', method: 'POST', retry: 'off',
      probe: { samples: 3, medianCloseMs: 100.5, p5CloseMs: 100, p95CloseMs: 101, closedBy: { fin: 3 }, advertisedKeepAlive: null } } as CellRecord;
    return [run, plainCell, ...[trial(0, true), trial(1, false)].map((record) => ({ ...record, method: 'POST' }))];
  };
  const crafted = (name: string, records: HistoryRecord[] = wellFormed()) => {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'trials.jsonl'), records.map((record) => JSON.stringify(record)).join('\n') + '\n');
    return dir;
  };
  const report = (dir: string) => spawnSync(process.execPath, [CLI, 'report', dir], { encoding: 'utf8', timeout: 30_000 });
  const oneLine = (result: ReturnType<typeof report>, says: RegExp) => {
    expect(result.status, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n'), result.stderr).toHaveLength(1);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr).toMatch(says);
  };

  it('replaces an output that is a symlink, leaving the file it pointed at as it was', () => {
    const dir = crafted('symlinked-output');
    const victim = path.join(tmp, 'victim.txt');
    fs.writeFileSync(victim, 'precious');
    fs.symlinkSync(victim, path.join(dir, 'report.html'));
    const result = report(dir);
    expect(result.status, result.stderr).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
    expect(fs.lstatSync(path.join(dir, 'report.html')).isFile()).toBe(true);
    expect(fs.readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a history that is a symlink, without showing what it points at', () => {
    const dir = path.join(tmp, 'symlinked-history');
    fs.mkdirSync(dir);
    fs.symlinkSync('/etc/passwd', path.join(dir, 'trials.jsonl'));
    const result = report(dir);
    oneLine(result, /trials\.jsonl is a symlink/);
    expect(result.stderr).not.toContain('root:');
  });

  it('refuses a history that is a FIFO instead of waiting on it', () => {
    const dir = path.join(tmp, 'fifo-history');
    fs.mkdirSync(dir);
    expect(spawnSync('mkfifo', [path.join(dir, 'trials.jsonl')]).status).toBe(0);
    oneLine(report(dir), /trials\.jsonl is not a regular file \(a FIFO\)/);
  });

  it('refuses a line nested 200,000 deep before parsing it (JSON.parse overflowed the stack)', () => {
    const dir = crafted('deep-line');
    fs.appendFileSync(path.join(dir, 'trials.jsonl'), `${'['.repeat(200_000)}${']'.repeat(200_000)}\n`);
    oneLine(report(dir), /trials\.jsonl:5: nested deeper than 64 levels/);
  });

  it('says that summary.json is a directory, in one line', () => {
    const dir = crafted('summary-dir');
    fs.mkdirSync(path.join(dir, 'summary.json'));
    oneLine(report(dir), /summary\.json is a directory/);
  });
});

// A server the user points the harness at may answer anything. Each answer below is framed so
// that a parser taking its sizes on trust loops, waits for ever or keeps every byte; the
// commands that talk to such servers must end on their own at their first look at the address:
// one line naming what was wrong, exit 2 (not an HTTP/1.1 server), no run directory.
describe('hostile servers', () => {
  const answers: Record<string, string> = {
    'a negative chunk size': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\nabc\r\n0\r\n\r\n',
    'a chunk longer than its size': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcdef\r\n0\r\n\r\n',
    'a Content-Length past the body limit': 'HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n',
  };
  let server: net.Server;
  let port: number;
  let answer = '';
  beforeAll(async () => {
    server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.write(answer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const run = (args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    // Before the fix the first case spun in the parser and ignored SIGTERM: the test kills it.
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });

  it('a Location with an escape sequence reaches the terminal as text', async () => {
    answer = 'HTTP/1.1 302 Found\r\nLocation: /next\x1b]0;owned\x07\x1b[2J\r\nContent-Length: 0\r\n\r\n';
    const { code, stderr } = await run(['field', '--url', `http://127.0.0.1:${port}/`, '--idle', '1s..2s@500ms', '--no-record']);
    expect(code, stderr).toBe(2);
    expect(stderr).toContain('answered 302 to /next\\x1b]0;owned\\x07\\x1b[2J');
    expect(stderr).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  });

  for (const [what, body] of Object.entries(answers)) {
    it(`${what}: probe, field and gate end with one line`, async () => {
      answer = body;
      const url = `http://127.0.0.1:${port}/`;
      for (const args of [
        ['probe', '--url', url, '--samples', '2'],
        ['field', '--url', url, '--idle', '1s..2s@500ms', '--out', path.join(tmp, 'hostile-field')],
        ['gate', '--upstream-url', url, '--proxy-timeout', '60s', '--out', path.join(tmp, 'hostile-gate')],
      ]) {
        const { code, stdout, stderr } = await run(args);
        expect(code, `${args[0]}: ${stdout}${stderr}`).toBe(2);
        expect(stderr, args[0]).not.toMatch(/\n\s+at /);
        expect(stderr.trim().split('\n'), `${args[0]}: ${stderr}`).toHaveLength(1);
        expect(stderr, args[0]).toMatch(/not an HTTP\/1\.1 (server|service)/);
      }
      expect(fs.existsSync(path.join(tmp, 'hostile-field')) || fs.existsSync(path.join(tmp, 'hostile-gate'))).toBe(false);
    }, 100_000);
  }
});
