import { describe, expect, it } from 'vitest';
import { parseCaddyLogLine } from '../../src/proxy/caddy/log.js';
import { renderCaddyConf } from '../../src/proxy/caddy/render.js';
import { parseSweepConfig } from '../../src/scenario/sweep-config.js';

describe('renderCaddyConf', () => {
  const render = (retry: 'default' | 'lb_retries') => JSON.parse(renderCaddyConf({ lanes: 3, keepaliveTimeoutMs: 50, keepaliveConnections: 1, retry }, { listen: '127.0.0.1:8080', upstream: '127.0.0.1:3000' }));

  it('listens on the given address only, with no admin endpoint and no config saved', () => {
    const conf = render('default');
    expect(conf.admin).toEqual({ disabled: true, config: { persist: false } });
    expect(conf.apps.http.servers.lanes.listen).toEqual(['127.0.0.1:8080']);
  });

  it('gives each lane its own route and reverse_proxy (its own pool), with the idle timeout in nanoseconds', () => {
    const routes = render('default').apps.http.servers.lanes.routes;
    expect(routes.map((route: { match: { path: string[] }[] }) => route.match[0]!.path[0])).toEqual(['/lane/0/*', '/lane/1/*', '/lane/2/*']);
    const handler = routes[1].handle[0];
    expect(handler).toMatchObject({ handler: 'reverse_proxy', upstreams: [{ dial: '127.0.0.1:3000' }], transport: { protocol: 'http', keep_alive: { idle_timeout: 50_000_000, max_idle_conns_per_host: 1 } } });
    expect(handler.load_balancing).toBeUndefined();
  });

  it('lb_retries retries any method three times', () => {
    const handler = render('lb_retries').apps.http.servers.lanes.routes[0].handle[0];
    expect(handler.load_balancing.retries).toBe(3);
    expect(handler.load_balancing.retry_match[0].method).toContain('POST');
  });

  it('takes Caddy\'s own retry policies only', () => {
    expect(parseSweepConfig({ proxy: 'caddy' }).retry).toEqual(['default', 'lb_retries']);
    expect(() => parseSweepConfig({ proxy: 'caddy', retry: ['off'] })).toThrow(/"off" is not a retry policy of Caddy: use default, lb_retries/);
  });
});

describe('parseCaddyLogLine', () => {
  // As Caddy 2.6.2 wrote them for raced POSTs here (addresses shortened).
  const line = (msg: string) => JSON.stringify({ level: 'error', ts: 1, logger: 'http.log.error', msg, request: { method: 'POST', uri: '/lane/25/?t=c1.88' }, status: 502 });

  it('keys an error to its trial and names the round trip\'s error', () => {
    expect(parseCaddyLogLine(line('readfrom tcp a->b: write tcp a->b: write: broken pipe'), 5)).toMatchObject({ at: 5, level: 'error', reason: 'broken_pipe', trial: 'c1.88' });
    expect(parseCaddyLogLine(line('read tcp a->b: read: connection reset by peer'), 5)!.reason).toBe('reset_by_peer');
    expect(parseCaddyLogLine(line('EOF'), 5)!.reason).toBe('prematurely_closed');
    expect(parseCaddyLogLine(line('readfrom tcp a->b: write tcp a->b: use of closed network connection'), 5)!.reason).toBe('prematurely_closed');
    expect(parseCaddyLogLine(line('readfrom tcp a->b: http: invalid Read on closed Body'), 5)!.reason).toBe('other');
  });

  it('skips info lines and anything that is not a JSON object', () => {
    expect(parseCaddyLogLine(JSON.stringify({ level: 'info', msg: 'serving initial configuration' }), 1)).toBeNull();
    expect(parseCaddyLogLine('not json', 1)).toBeNull();
    expect(parseCaddyLogLine('null', 1)).toBeNull();
    expect(parseCaddyLogLine('{"level":"error","msg":"x","request":{"uri":7}}', 1)).toMatchObject({ trial: null });
  });
});
