// The Ryuk stand-in prunes whatever its filters match: a line it cannot read must be refused,
// never taken as the empty filter (which matches every container, network and volume).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseFilterLine } from '../../containers/offline/ryuk-filter.mjs';
import { freePort } from '../../src/util/ports.js';

const STANDIN = fileURLToPath(new URL('../../containers/offline/ryuk-standin.mjs', import.meta.url));

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
