import { describe, expect, it } from 'vitest';
import { classifyStatus, parseResponse } from '../../src/workload/http-connection.js';

describe('parseResponse', () => {
  it('waits for the whole Content-Length body', () => {
    const full = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nKeep-Alive: timeout=5\r\n\r\nok\n');
    expect(parseResponse(full.subarray(0, full.length - 1))).toBeNull();
    expect(parseResponse(full)).toEqual({ status: 200, headers: { 'content-length': '3', 'keep-alive': 'timeout=5' }, length: full.length });
  });
  it('reads chunked bodies, and leaves the next response in the buffer', () => {
    const first = 'HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
    const parsed = parseResponse(Buffer.from(first + 'HTTP/1.1 200 OK\r\n'));
    expect(parsed).toMatchObject({ status: 502, length: first.length });
    expect(parseResponse(Buffer.from(first.slice(0, -2)))).toBeNull();
  });
  it('says what is not HTTP, without throwing (it runs inside socket handlers)', () => {
    expect(parseResponse(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'))).toEqual({ invalid: 'not an HTTP/1.x response: it began with "SSH-2.0-OpenSSH_9.2"' });
    // Judged from the first 12 bytes, before any line end.
    expect(parseResponse(Buffer.from('garbage garbage'))).toMatchObject({ invalid: expect.stringContaining('not an HTTP/1.x response') });
    expect(parseResponse(Buffer.from('HTTP/1.1 2'))).toBeNull();
    expect(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'))).toEqual({ invalid: 'a chunk size that is not hexadecimal' });
    expect(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n'))).toEqual({ invalid: 'Content-Length "-4"' });
    expect(parseResponse(Buffer.from(`HTTP/1.1 200 OK\r\n${'x'.repeat(70_000)}`))).toMatchObject({ invalid: expect.stringContaining('no end of the response head') });
  });
  it('classifies statuses as the analysis counts them', () => {
    expect([200, 302, 404, 502, 503, 504].map(classifyStatus)).toEqual(['ok', 'ok', 'other-status', '502', 'other-5xx', 'other-5xx']);
  });
});
