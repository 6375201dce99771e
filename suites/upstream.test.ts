// The upstream program on its own: close modes and styles, and the events analysis relies on.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { probeIdleClose } from '../src/probe/probe.js';
import { startLocalUpstream, type LocalUpstream } from '../src/upstream/local-upstream.js';
import type { UpstreamSpec } from '../src/upstream/upstream-spec.js';

const started: LocalUpstream[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const instance of started.splice(0)) await instance.stop();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function upstream(spec: UpstreamSpec): Promise<LocalUpstream> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-upstream-test-'));
  dirs.push(dir);
  const instance = await startLocalUpstream(spec, 0, path.join(dir, 'events.jsonl'));
  started.push(instance);
  return instance;
}

describe('upstream program', () => {
  it('exact mode with FIN: closes idle connections itself, never before K, and logs who closed', async () => {
    const instance = await upstream({ keepAliveTimeoutMs: 150, closeMode: 'exact', closeStyle: 'fin' });
    const probe = await probeIdleClose({ host: '127.0.0.1', port: instance.port }, { samples: 10 });
    expect(probe.closedBy).toEqual({ fin: 10 });
    expect(probe.p5CloseMs).toBeGreaterThanOrEqual(150);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const events = instance.drainEvents();
    const closes = events.filter((event) => event.ev === 'close');
    expect(closes).toHaveLength(10);
    expect(closes.every((event) => event.by === 'server-idle' && event.idleMs! >= 150)).toBe(true);
    expect(events.filter((event) => event.ev === 'request')).toHaveLength(10);
    expect(events.filter((event) => event.ev === 'response')).toHaveLength(10);
  });

  it('exact mode with RST: the idle close is a reset', async () => {
    const instance = await upstream({ keepAliveTimeoutMs: 100, closeMode: 'exact', closeStyle: 'rst' });
    const probe = await probeIdleClose({ host: '127.0.0.1', port: instance.port }, { samples: 10 });
    expect(probe.closedBy).toEqual({ rst: 10 });
  });

  it('stock mode: Node closes on its own schedule and advertises Keep-Alive', async () => {
    const instance = await upstream({ keepAliveTimeoutMs: 200, closeMode: 'stock', closeStyle: 'fin' });
    const probe = await probeIdleClose({ host: '127.0.0.1', port: instance.port }, { samples: 6 });
    expect(probe.closedBy).toEqual({ fin: 6 });
    expect(probe.advertisedKeepAlive).toMatch(/^timeout=\d+$/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(instance.drainEvents().filter((event) => event.ev === 'close').every((event) => event.by === 'server-idle')).toBe(true);
  });

  it('the gate\'s probe: 200 idle connections side by side, opened 16 at a time (as the upstream\'s own events count them)', async () => {
    const instance = await upstream({ keepAliveTimeoutMs: 300, closeMode: 'exact', closeStyle: 'fin' });
    const probe = await probeIdleClose({ host: '127.0.0.1', port: instance.port }, { samples: 200, concurrency: 200, openAtOnce: 16 });
    expect(probe.closedBy).toEqual({ fin: 200 });
    expect(probe.samples).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Replay the upstream's own record: connections open at once, and those not yet answered.
    let open = 0;
    let unanswered = 0;
    let mostOpen = 0;
    let mostUnanswered = 0;
    for (const event of instance.drainEvents()) {
      if (event.ev === 'open') { open++; unanswered++; }
      if (event.ev === 'response') unanswered--;
      if (event.ev === 'close') open--;
      mostOpen = Math.max(mostOpen, open);
      mostUnanswered = Math.max(mostUnanswered, unanswered);
    }
    // Opening 16 at a time takes a few ms a round: far less than the 300 ms each waits idle, so
    // nearly all 200 are open together, while no more than 16 ever wait for their answer.
    expect(mostOpen).toBeGreaterThan(150);
    expect(mostUnanswered).toBeLessThanOrEqual(16);
    expect(mostUnanswered).toBeGreaterThan(1);
  });

  it('rejects a bad setting with one line and exit 2', async () => {
    await expect(upstream({ keepAliveTimeoutMs: 100, closeMode: 'stock', closeStyle: 'rst' })).rejects.toThrow(/upstream exited \(2\) at start: upstream-server: --close-style rst needs --close-mode exact/);
  });
});
