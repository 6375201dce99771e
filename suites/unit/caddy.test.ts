import { describe, expect, it } from 'vitest';
import { selectRuntime } from '../../src/runtime/select-runtime.js';
import { which } from '../../src/util/which.js';
import { parseCaddyLogLine } from '../../src/proxy/caddy/log.js';
import { renderCaddyConf } from '../../src/proxy/caddy/render.js';
import { parseCaddyDuration, prepareUserCaddyfile } from '../../src/proxy/caddy/user-conf.js';
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

describe('prepareUserCaddyfile', () => {
  const options = { sourcePath: '/srv/Caddyfile', upstreamAddress: '127.0.0.1:4000', listenPort: 9000, prefix: '/tmp/p' };
  const FULL = [
    '{',
    '\tadmin localhost:2019',
    '\temail ops@example.com',
    '}',
    ':8080 {',
    '\tbind 0.0.0.0',
    '\treverse_proxy /api/* app:3000 {',
    '\t\tlb_retries 2',
    '\t\ttransport http {',
    '\t\t\tkeepalive 90s',
    '\t\t\tkeepalive_idle_conns_per_host 8',
    '\t\t}',
    '\t}',
    '\treverse_proxy /other/* other:3000',
    '}',
  ].join('\n');

  it('points the named upstream at the harness, binds to loopback, and turns off what reaches beyond the run', () => {
    const conf = prepareUserCaddyfile(FULL, { ...options, pool: 'app:3000' });
    const lines = conf.text.split('\n');
    expect(lines).toContain('\treverse_proxy /api/* 127.0.0.1:4000 {');
    expect(lines).toContain('\treverse_proxy /other/* other:3000');
    expect(lines).toContain('\tbind 127.0.0.1');
    expect(lines.slice(0, 4)).toEqual(['{', '\tadmin off', '\tauto_https off', '\tdefault_bind 127.0.0.1']);
    expect(lines).toContain('\t# keepalive-lab: admin localhost:2019');
    expect(lines).toContain('\t# keepalive-lab: email ops@example.com');
    expect(conf).toMatchObject({ keepaliveTimeoutMs: 90_000, keepaliveTimeoutFromConfig: true, keepaliveConnections: 8, retrySetting: 'lb_retries 2',
      listenPort: 8080, listenFromConfig: true, listenAt: '/srv/Caddyfile:5', upstreamBlock: 'app:3000' });
    // Caddy's complaints name the user's lines: the three inserted lines map to none.
    expect(conf.sourceLines.slice(0, 6)).toEqual([1, null, null, null, 2, 3]);
  });

  it('reads Caddy\'s defaults where the transport sets none, and keepalive off as no reuse', () => {
    const template = prepareUserCaddyfile('{{listen}} {\n\treverse_proxy {{upstream}}\n}\n', options);
    expect(template).toMatchObject({ keepaliveTimeoutMs: 120_000, keepaliveTimeoutFromConfig: false, keepaliveConnections: 32, listenPort: 9000, listenFromConfig: false });
    expect(template.text.split('\n').slice(0, 6)).toEqual(['{', '\tadmin off', '\tauto_https off', '\tdefault_bind 127.0.0.1', '}', 'http://127.0.0.1:9000 {']);
    // A transport block without keepalive_idle_conns_per_host keeps Go's 2 (measured).
    expect(prepareUserCaddyfile('{{listen}} {\n\treverse_proxy {{upstream}} {\n\t\ttransport http {\n\t\t\tkeepalive 2s\n\t\t}\n\t}\n}\n', options).keepaliveConnections).toBe(2);
    const off = prepareUserCaddyfile('{{listen}} {\n\treverse_proxy {{upstream}} {\n\t\ttransport http {\n\t\t\tkeepalive off\n\t\t}\n\t}\n}\n', options);
    expect(off.noReuseReason).toMatch(/:4: keepalive off/);
  });

  it('refuses what it cannot run, in one line', () => {
    expect(() => prepareUserCaddyfile(FULL, options)).toThrow(/no \{\{upstream\}\} placeholder.*--caddy-upstream/);
    expect(() => prepareUserCaddyfile(FULL, { ...options, pool: 'api:3000' })).toThrow('--caddy-upstream api:3000: no reverse_proxy in /srv/Caddyfile sends to that address (it has: /api/*, app:3000, /other/*, other:3000)');
    expect(() => prepareUserCaddyfile(FULL.replace(':8080 {', 'example.com {'), { ...options, pool: 'app:3000' })).toThrow(/Caddyfile:5: the site address example.com matches requests by their host name/);
    expect(() => prepareUserCaddyfile(FULL.replace('keepalive 90s', 'keepalive soon'), { ...options, pool: 'app:3000' })).toThrow(/Caddyfile:10: "soon" is not a duration/);
  });

  it('reads Caddy\'s durations', () => {
    expect(parseCaddyDuration('1m30s')).toBe(90_000);
    expect(parseCaddyDuration('500ms')).toBe(500);
    expect(parseCaddyDuration('2')).toBe(2000);
    expect(() => parseCaddyDuration('2 s')).toThrow();
  });
});

describe('runtime for Caddy (no image is set up for it)', () => {
  it('is the local one: containers is refused in one line, auto picks local and says why', async () => {
    await expect(selectRuntime('containers', { proxy: 'caddy' })).rejects.toThrow(/^--proxy caddy runs on the local runtime only \(no Caddy image is set up for containers\): use --runtime local$/);
    if (which('caddy')) expect((await selectRuntime('auto', { proxy: 'caddy' })).note).toBe('runtime: local (auto: --proxy caddy runs on the local runtime only)');
  });
});
