// The proxy's own idle close of upstream connections, measured rather than read from its
// config: the prepared config in front of the harness's upstream program, which never closes an
// idle connection itself (exact mode, an hour) and records, for each connection the proxy
// closes, how long it had been idle. A burst of requests makes the proxy cache that many
// connections; then the probe waits for the proxy to let them go.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startLocalUpstream } from '../upstream/local-upstream.js';
import { freePort } from '../util/ports.js';
import { quantile } from '../util/stats.js';
import { HttpConnection } from '../workload/http-connection.js';
import type { GateProxy } from './gate-proxy.js';

/** The proxy closed its idle upstream connections: when, as idle times at close. */
export interface ProxyIdleClose {
  samples: number;
  medianMs: number;
  p5Ms: number;
  p95Ms: number;
}

/** The proxy closed none of them while the probe waited (HAProxy keeps them in its idle pool). */
export interface ProxyKeptIdle {
  keptOpenMs: number;
  connections: number;
}

const NEVER_MS = 3_600_000;

/** The measured close; that none was closed within `waitMs`; or null when no request went through. */
export async function measureProxyIdleClose(proxy: GateProxy, options: { listenPort: number; burst: number; request: (host: string) => string; waitMs: number; workDir: string }): Promise<ProxyIdleClose | ProxyKeptIdle | null> {
  const dir = fs.mkdtempSync(path.join(options.workDir, 'proxy-idle-'));
  const upstream = await startLocalUpstream({ keepAliveTimeoutMs: NEVER_MS, closeMode: 'exact', closeStyle: 'fin' }, await freePort(), path.join(dir, 'events.jsonl'));
  const connections: HttpConnection[] = [];
  let running: { stop(): Promise<void> } | null = null;
  try {
    const conf = proxy.prepare(`127.0.0.1:${upstream.port}`, options.listenPort, options.burst);
    running = await proxy.start(conf, () => {});
    // A full config listens where it says, a template where the gate said.
    const endpoint = { host: '127.0.0.1', port: conf.listenPort };
    for (let i = 0; i < options.burst; i++) connections.push(new HttpConnection(endpoint));
    await Promise.all(connections.map((connection) => connection.connect()));
    // At once, so that each request needs its own upstream connection.
    const results = await Promise.all(connections.map((connection) => connection.send(options.request(`127.0.0.1:${conf.listenPort}`), 10_000)));
    const answered = results.filter((result) => result.errorClass === 'ok').length;
    if (answered === 0) return null;
    const idleAtClose: number[] = [];
    const deadline = Date.now() + options.waitMs;
    while (Date.now() < deadline && idleAtClose.length < answered) {
      await delay(100);
      for (const event of upstream.drainEvents()) {
        if (event.ev === 'close' && event.by === 'client' && typeof event.idleMs === 'number') idleAtClose.push(event.idleMs);
      }
    }
    if (idleAtClose.length === 0) return { keptOpenMs: options.waitMs, connections: answered };
    const round = (value: number) => Math.round(value * 10) / 10;
    return { samples: idleAtClose.length, medianMs: round(quantile(idleAtClose, 0.5)), p5Ms: round(quantile(idleAtClose, 0.05)), p95Ms: round(quantile(idleAtClose, 0.95)) };
  } finally {
    for (const connection of connections) connection.close();
    await running?.stop();
    await upstream.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
