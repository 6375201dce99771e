// What each proxy's config listens on, read before the proxy starts (the gate refuses a config
// that listens off loopback before any socket opens; listen-guard.ts checks the kernel after).
import { describe, expect, it } from 'vitest';
import { offLoopbackInAdapted } from '../../src/proxy/caddy/listens.js';
import { offLoopbackHaproxyListens } from '../../src/proxy/haproxy/listens.js';
import { staysOnHost } from '../../src/proxy/listen-address.js';
import { offLoopbackIn, statementsOf } from '../../src/proxy/nginx/listens.js';

describe('listen addresses', () => {
  it('stay on this host only on a loopback host or a unix socket', () => {
    expect(['127.0.0.1:80', '127.3.2.1:80', '[::1]:80', 'localhost:80', 'unix:/run/x.sock', '/run/x.sock'].every(staysOnHost)).toBe(true);
    expect(['80', '*:80', ':80', '0.0.0.0:80', '[::]:80', '10.0.0.5:80', 'example.com:80'].some(staysOnHost)).toBe(false);
  });
});

describe('nginx, as nginx -T prints it', () => {
  const off = (text: string) => offLoopbackIn(statementsOf(text, 'nginx.conf'));
  it('finds a listen however it is laid out or quoted', () => {
    expect(off('http { server { listen\n    0.0.0.0:8080; } }')).toEqual(['listen 0.0.0.0:8080 at nginx.conf:1']);
    expect(off('http { server { add_header X " #"; listen 8081; } }')).toEqual(['listen 8081 at nginx.conf:1']);
    expect(off("http { server { listen '0.0.0.0:8082' ; } }")).toEqual(['listen 0.0.0.0:8082 at nginx.conf:1']);
    expect(off('stream { server { listen 9000; proxy_pass x; } }')).toEqual(['listen 9000 at nginx.conf:1']);
    // A comment hides what follows it on its line only.
    expect(off('http { server { # listen 1;\n listen 127.0.0.1:80; } }')).toEqual([]);
    // A variable's braces are part of a word, not a block.
    expect(off('http { server { listen 127.0.0.1:80; return 200 ${host}; } }')).toEqual([]);
  });
  it('finds a server block of http with no listen (nginx listens on *:80), unless an include may hold one', () => {
    expect(off('http {\n  server {\n    return 204;\n  }\n}')).toEqual(['a server block with no listen (nginx listens on *:80) at nginx.conf:2']);
    expect(off('http { server { include site.conf; } }')).toEqual([]);
    expect(off('http { server { listen 127.0.0.1:81; location / { return 204; } } }')).toEqual([]);
  });
});

describe('Caddy, as caddy adapt prints it', () => {
  it('finds listeners with no host or another host, and an admin endpoint off loopback', () => {
    expect(offLoopbackInAdapted({ apps: { http: { servers: { srv0: { listen: ['127.0.0.1:8080'] }, srv1: { listen: [':8081', 'tcp/0.0.0.0:8082', 'udp/[::1]:8083'] } } } } }))
      .toEqual([':8081 (server srv1)', 'tcp/0.0.0.0:8082 (server srv1)']);
    expect(offLoopbackInAdapted({ admin: { listen: '0.0.0.0:2019' } })).toEqual(['the admin endpoint 0.0.0.0:2019']);
    expect(offLoopbackInAdapted({ admin: { disabled: true, listen: '0.0.0.0:2019' } })).toEqual([]);
  });
});

describe('HAProxy, by its sections', () => {
  it('finds a peers section\'s peer off loopback, and a bind the preparation left', () => {
    const text = 'global\n    log stdout local0\npeers mesh\n    peer vm 0.0.0.0:10000\n    peer other 127.0.0.2:10001\nfrontend web\n    bind 127.0.0.1:80\n    bind ipv4@0.0.0.0:81\n';
    expect(offLoopbackHaproxyListens(text, 'haproxy.cfg', [1, 2, 3, 4, 5, 6, 7, 8, 9])).toEqual(['peer 0.0.0.0:10000 at haproxy.cfg:4', 'bind ipv4@0.0.0.0:81 at haproxy.cfg:8']);
  });
});
