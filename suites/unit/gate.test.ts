import { describe, expect, it } from 'vitest';
import { recommendFix } from '../../src/gate/gate-decision.js';
import { copiesFor } from '../../src/gate/run-gate.js';
import { parseNginxTime, prepareUserNginxConf } from '../../src/proxy/nginx/user-conf.js';
import { poolsByDefault } from '../../src/proxy/nginx/default-pooling.js';
import { gapsAround } from '../../src/gate/gate-verdict.js';

const FULL = `user www-data;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
events { worker_connections 768; }
http {
    include mime.types;
    access_log /var/log/nginx/access.log;
    upstream app {
        server 10.0.0.1:3000 max_fails=3;
        server 10.0.0.2:3000;
        keepalive 16;
        keepalive_timeout 75s;
    }
    server {
        listen 8080 default_server;
        location / { proxy_pass http://app; proxy_next_upstream error timeout non_idempotent; }
    }
}`;
// Included files as a table (the gate reads the disk: src/gate/nginx-includes.ts).
const INCLUDES: Record<string, string> = {
  '/srv/deploy/mime.types': 'types { text/html html; }',
  '/srv/deploy/sites/a.conf': 'server { listen 18081; location / { proxy_pass http://app; } }',
  '/srv/deploy/sites/b.conf': 'server {\n    listen 0.0.0.0:18082;\n    include /srv/deploy/more.conf;\n}',
  '/srv/deploy/more.conf': 'listen [::]:18083;',
};
const readInclude = (pattern: string) => Object.entries(INCLUDES)
  .filter(([file]) => file === pattern || (pattern.endsWith('/*.conf') && file.startsWith(pattern.slice(0, -6)) && file.endsWith('.conf')))
  .map(([file, text]) => ({ path: file, text }));
const options = { sourcePath: '/srv/deploy/nginx.conf', upstreamAddress: '127.0.0.1:5555', listenPort: 4444, prefix: '/tmp/p', readInclude };

describe('a user\'s nginx config, prepared', () => {
  it('full config: the named block points at the harness, listeners move to 127.0.0.1, line numbers stay', () => {
    const conf = prepareUserNginxConf(FULL, { ...options, upstreamBlock: 'app' });
    const lines = conf.text.split('\n');
    expect(lines.slice(0, FULL.split('\n').length).length).toBe(FULL.split('\n').length);
    expect(lines[8]).toBe('        server 127.0.0.1:5555;');
    expect(lines[9]).toMatch(/^\s*# keepalive-lab: server line replaced$/);
    expect(lines[14]).toBe('        listen 127.0.0.1:8080 default_server;');
    expect(lines[0]).toBe('# keepalive-lab: user www-data;');
    expect(lines[5]).toBe('    include /tmp/p/include-1/mime.types;');
    expect(lines[6]).toBe('    access_log off;');
    // No access log but in the prefix: with none named, nginx writes its compiled-in one (/var/log/nginx/access.log on Debian).
    expect(lines[4]).toMatch(/^http \{ access_log off; client_body_temp_path \/tmp\/p\/client_body_temp; proxy_temp_path/);
    expect(lines.slice(-3)).toEqual(['pid /tmp/p/nginx.pid;', 'error_log stderr info;', 'daemon off;']);
    expect(conf).toMatchObject({ listenPort: 8080, listenFromConfig: true, listenAt: '/srv/deploy/nginx.conf:15', upstreamBlock: 'app', keepaliveTimeoutMs: 75_000,
      keepaliveTimeoutFromConfig: true, keepaliveConnections: 16, proxyNextUpstream: 'error timeout non_idempotent' });
  });

  it('a block without keepalive: no reuse before nginx 1.29.7 (the reason says the upgrade pools), 32 idle connections from 1.29.7 on', () => {
    const noKeepalive = FULL.replace('        keepalive 16;\n', '');
    const old = prepareUserNginxConf(noKeepalive, { ...options, upstreamBlock: 'app', nginxVersion: '1.22.1' });
    expect(old.keepaliveConnections).toBeNull();
    expect(old.noReuseReason).toMatch(/^upstream app has no keepalive directive: nginx 1\.22\.1 opens a new upstream connection per request.*nginx 1\.29\.7 and later pool upstream connections by default \(keepalive 32\)/);
    const pooling = prepareUserNginxConf(noKeepalive, { ...options, upstreamBlock: 'app', nginxVersion: '1.29.7' });
    expect(pooling).toMatchObject({ keepaliveConnections: 32, keepaliveFromDefault: true });
    expect(pooling.noReuseReason).toBeUndefined();
    // A config that says keepalive is read as written on every version.
    expect(prepareUserNginxConf(FULL, { ...options, upstreamBlock: 'app', nginxVersion: '1.30.0' })).toMatchObject({ keepaliveConnections: 16 });
    expect(prepareUserNginxConf(FULL, { ...options, upstreamBlock: 'app', nginxVersion: '1.30.0' }).keepaliveFromDefault).toBeUndefined();
  });

  it('which nginx versions pool upstream connections by default', () => {
    for (const version of ['1.29.7', '1.29.10', '1.30.0', '2.0.0']) expect(poolsByDefault(version), version).toBe(true);
    for (const version of ['1.22.1', '1.29.6', '1.28.9', '1.9.15', 'unknown']) expect(poolsByDefault(version), version).toBe(false);
  });

  it('template: the placeholders are filled; nginx\'s default timeout when the block sets none', () => {
    const conf = prepareUserNginxConf('events {}\nhttp {\n upstream u { server {{upstream}}; keepalive 8; }\n server { listen {{listen}}; location / { proxy_pass http://u; } }\n}', options);
    expect(conf.text).toContain('server 127.0.0.1:5555;');
    expect(conf.text).toContain('listen 127.0.0.1:4444;');
    expect(conf).toMatchObject({ listenPort: 4444, listenFromConfig: false, upstreamBlock: 'u', keepaliveTimeoutMs: 60_000, keepaliveTimeoutFromConfig: false, keepaliveConnections: 8 });
  });

  it('listens on IPv4 and IPv6 become one 127.0.0.1 listen per server', () => {
    const text = FULL.replace('        listen 8080 default_server;', '        listen 8080 default_server; \n        listen [::]:8080 default_server;');
    const lines = prepareUserNginxConf(text, { ...options, upstreamBlock: 'app' }).text.split('\n');
    expect(lines[14]).toBe('        listen 127.0.0.1:8080 default_server; ');
    expect(lines[15]).toBe('# keepalive-lab: listen [::]:8080 default_server; (the same port on 127.0.0.1 as above)');
  });

  it('every listen moves to 127.0.0.1: one-line server blocks, included files, beside a {{listen}}', () => {
    const text = FULL.replace('    include mime.types;', '    include mime.types; include sites/*.conf;')
      .replace('        listen 8080 default_server;', '        listen 8080 default_server; server { listen 18080; return 204; }');
    const conf = prepareUserNginxConf(text, { ...options, upstreamBlock: 'app' });
    const lines = conf.text.split('\n');
    expect(lines[5]).toBe('    include /tmp/p/include-1/mime.types; include /tmp/p/include-2/*.conf;');
    expect(lines[14]).toBe('        listen 127.0.0.1:8080 default_server; server { listen 127.0.0.1:18080; return 204; }');
    expect(conf.includedFiles).toEqual([
      { path: '/tmp/p/include-1/mime.types', source: '/srv/deploy/mime.types', text: 'types { text/html html; }' },
      { path: '/tmp/p/include-2/a.conf', source: '/srv/deploy/sites/a.conf', text: 'server { listen 127.0.0.1:18081; location / { proxy_pass http://app; } }' },
      { path: '/tmp/p/include-3/more.conf', source: '/srv/deploy/more.conf', text: 'listen 127.0.0.1:18083;' },
      { path: '/tmp/p/include-2/b.conf', source: '/srv/deploy/sites/b.conf', text: 'server {\n    listen 127.0.0.1:18082;\n    include /tmp/p/include-3/more.conf;\n}' },
    ]);
    // The clients' port is the first listen in nginx's reading order, here an included file's.
    expect(conf).toMatchObject({ listenPort: 18081, listenAt: '/srv/deploy/sites/a.conf:1' });
    // Beside a {{listen}} placeholder, the user's other listens move too.
    const template = prepareUserNginxConf('events {}\nhttp {\n upstream u { server {{upstream}}; keepalive 8; }\n server { listen {{listen}}; location / { proxy_pass http://u; } }\n server { listen 9090; }\n}', options);
    expect(template.text).toContain('server { listen 127.0.0.1:9090; }');
    expect(template).toMatchObject({ listenPort: 4444, listenFromConfig: false });
  });

  it('a listen continued on the next line, and one after a quoted " #", move to 127.0.0.1 too (each listened on 0.0.0.0 once)', () => {
    const text = FULL.replace('        listen 8080 default_server;', '        listen\n          0.0.0.0:8080 default_server; # the main one')
      .replace('    include mime.types;', '    include mime.types; server { add_header X " #"; listen 0.0.0.0:18090; return 204; }');
    const conf = prepareUserNginxConf(text, { ...options, upstreamBlock: 'app' });
    const lines = conf.text.split('\n');
    // Joined onto its first line; the line it took is left empty, so the count stays.
    expect(lines[14]).toBe('        listen 0.0.0.0:8080 default_server; # the main one'.replace('0.0.0.0', '127.0.0.1'));
    expect(lines[15]).toBe('');
    expect(lines[5]).toBe('    include /tmp/p/include-1/mime.types; server { add_header X " #"; listen 127.0.0.1:18090; return 204; }');
    expect(conf.text).not.toContain('0.0.0.0');
    expect(lines.length).toBe(text.split('\n').length + 4);
  });

  it('whatever writes files writes into the prefix, wherever it stands (logs and a cache in a server block once wrote where the config said)', () => {
    const text = FULL.replace('    include mime.types;', '    include mime.types; proxy_cache_path /var/cache/nginx/app levels=1:2 keys_zone=app:10m; proxy_temp_path /var/tmp/nginx 1 2;')
      .replace('        listen 8080 default_server;', '        listen 8080 default_server; access_log /var/log/nginx/app.log main; error_log /var/log/nginx/app.err; proxy_store on;');
    const conf = prepareUserNginxConf(text, { ...options, upstreamBlock: 'app' });
    const lines = conf.text.split('\n');
    expect(lines[5]).toBe('    include /tmp/p/include-1/mime.types; proxy_cache_path /tmp/p/cache-1 levels=1:2 keys_zone=app:10m; proxy_temp_path /tmp/p/proxy_temp 1 2;');
    expect(lines[14]).toBe('        listen 127.0.0.1:8080 default_server; access_log off; error_log stderr info; proxy_store off;');
    // Only the lines the harness commented out (the user's pid and logs) still name /var.
    expect(lines.filter((line) => !line.trim().startsWith('#')).join('\n')).not.toMatch(/\/var\//);
  });

  it('an include loop is one line, not a stack overflow', () => {
    const looping = (pattern: string) => (pattern === '/srv/deploy/loop.conf' ? [{ path: pattern, text: 'include loop.conf;' }] : []);
    expect(() => prepareUserNginxConf(FULL.replace('    include mime.types;', '    include loop.conf;'), { ...options, upstreamBlock: 'app', readInclude: looping }))
      .toThrow('--nginx-conf: /srv/deploy/loop.conf includes /srv/deploy/loop.conf: an include loop, which nginx cannot load either: break it');
  });

  it('names what is missing, and the fix', () => {
    expect(() => prepareUserNginxConf(FULL, { ...options, upstreamBlock: 'api' })).toThrow('--upstream-block api: no upstream block of that name in /srv/deploy/nginx.conf (it has: app): name the block your proxy_pass uses');
    expect(() => prepareUserNginxConf(FULL, options)).toThrow(/no \{\{upstream\}\} placeholder: .* --upstream-block/);
    expect(() => prepareUserNginxConf(FULL.replace('listen 8080 default_server', 'listen 443 ssl'), { ...options, upstreamBlock: 'app' })).toThrow(/:15: the gate speaks plain HTTP\/1\.1 .* "ssl"/);
  });

  it('reads nginx times (a bare number is seconds)', () => {
    expect(parseNginxTime('60')).toBe(60_000);
    expect(parseNginxTime('75s')).toBe(75_000);
    expect(parseNginxTime('1m30s')).toBe(90_000);
    expect(parseNginxTime('500ms')).toBe(500);
    expect(() => parseNginxTime('soon')).toThrow();
  });
});

describe('copies of the proxy', () => {
  it('keep about 80 trials/s at the decisive idle time, one burst per copy per idle period, 1 to 16', () => {
    expect(copiesFor(200, 32)).toBe(1);
    expect(copiesFor(1500, 32)).toBe(4);
    expect(copiesFor(6010, 32)).toBe(16);
    expect(copiesFor(2000, 16)).toBe(10);
  });
});

describe('gate decision', () => {
  it('recommends from the measured close: Node settings above the proxy, or the proxy below the upstream\'s earliest close', () => {
    const fix = recommendFix({ proxyLabel: 'nginx (nginx.conf)', upstreamBlock: 'app', proxyTimeoutMs: 60_000, upstreamCloseMs: 6010.8, upstreamCloseP5Ms: 6003.5 });
    expect(fix).toMatchObject({ nodeKeepAliveTimeoutMs: 61_000, nodeHeadersTimeoutMs: 62_000, proxyKeepaliveTimeoutBelowMs: 5000 });
    expect(fix.text).toBe('upstream closes idle connections at 6.01 s, nginx (nginx.conf) keeps them 60 s: set server.keepAliveTimeout >= 61 s and server.headersTimeout above it (62 s) in Node, ' +
      'or the upstream\'s idle timeout above 61 s in any server; or lower keepalive_timeout in upstream app to 5 s or less');
    expect(recommendFix({ proxyLabel: 'nginx', upstreamBlock: null, proxyTimeoutMs: 2000, upstreamCloseMs: 1001, upstreamCloseP5Ms: 1000.9 }).proxyKeepaliveTimeoutBelowMs).toBe(500);
  });

  it('aims bursts on the 0.5 ms grid across a span', () => {
    expect(gapsAround(998.7, 1001.2)).toEqual([998.5, 999, 999.5, 1000, 1000.5, 1001]);
  });
});
