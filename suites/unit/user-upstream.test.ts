// --upstream-url as a user writes it: an IPv6 host comes in brackets, a socket wants it bare.
import http from 'node:http';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { upstreamAtUrl } from '../../src/gate/user-upstream.js';

describe('--upstream-url', () => {
  it('reaches an upstream on [::1] (the brackets were kept: "nothing answers")', async () => {
    const server = http.createServer((request, response) => response.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const upstream = await upstreamAtUrl(`http://[::1]:${port}/`);
      expect(upstream.endpoint).toEqual({ host: '::1', port });
    } finally {
      server.close();
    }
  });
});
