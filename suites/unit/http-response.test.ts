import { describe, expect, it } from 'vitest';
import { classifyStatus } from '../../src/workload/http-connection.js';
import { parseResponse, ResponseReader } from '../../src/workload/http-response.js';

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
    expect(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'))).toEqual({ invalid: 'a chunk size that is not hexadecimal: "zz"' });
    expect(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n'))).toEqual({ invalid: 'Content-Length "-4"' });
    expect(parseResponse(Buffer.from(`HTTP/1.1 200 OK\r\n${'x'.repeat(70_000)}`))).toMatchObject({ invalid: expect.stringContaining('no end of the response head') });
  });
  it('validates every size a hostile server sends (a chunk size of -6 once looped for ever)', () => {
    const chunked = (body: string) => Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
    expect(parseResponse(chunked('-6\r\nabc\r\n0\r\n\r\n'))).toEqual({ invalid: 'a chunk size that is not hexadecimal: "-6"' });
    expect(parseResponse(chunked('0x3\r\nabc\r\n'))).toMatchObject({ invalid: expect.stringContaining('not hexadecimal') });
    expect(parseResponse(chunked('3\r\nabcdef\r\n0\r\n\r\n'))).toEqual({ invalid: 'a chunk longer than its size' });
    expect(parseResponse(chunked('1ffffffff\r\n'))).toMatchObject({ invalid: expect.stringContaining('not hexadecimal') });
    expect(parseResponse(chunked(`${'a'.repeat(5000)}`))).toMatchObject({ invalid: 'a chunk-size line longer than 4096 bytes' });
    // Extensions are allowed; trailers are read to their blank line.
    expect(parseResponse(chunked('3;name=v\r\nabc\r\n0\r\nX-T: 1\r\n\r\n'))).toMatchObject({ status: 200 });
    const contentLength = (value: string) => parseResponse(Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n`));
    expect(contentLength('1e3')).toEqual({ invalid: 'Content-Length "1e3"' });
    expect(contentLength('0x10')).toEqual({ invalid: 'Content-Length "0x10"' });
    expect(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n'))).toEqual({ invalid: 'Content-Length "3, 4"' });
    expect(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok'))).toMatchObject({ status: 200 });
  });

  it('bounds the body, and counts it without keeping it', () => {
    const limits = { headBytes: 1024, bodyBytes: 100, interimResponses: 2 };
    expect(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n'), false, limits)).toEqual({ invalid: 'a body over 100 bytes (Content-Length 101)' });
    const reader = new ResponseReader(false, limits);
    expect(reader.push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'))).toBeNull();
    const chunk = Buffer.from(`28\r\n${'x'.repeat(40)}\r\n`);
    expect([reader.push(chunk), reader.push(chunk), reader.push(chunk)]).toEqual([null, null, { invalid: 'a body over 100 bytes' }]);
    // A body that runs to the close (no length, not chunked) is complete when the connection ends.
    const untilClose = new ResponseReader(false, limits);
    expect(untilClose.push(Buffer.from('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nsome body'))).toBeNull();
    expect(untilClose.end()).toMatchObject({ response: { status: 200 } });
    // Cut short: a Content-Length body missing bytes at the close is no answer.
    const cut = new ResponseReader(false, limits);
    cut.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    expect(cut.end()).toBeNull();
  });

  it('reads a HEAD answer, 204 and 304 as bodiless, and 1xx answers as interim', () => {
    const head = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n');
    expect(parseResponse(head)).toBeNull();
    expect(parseResponse(head, true)).toMatchObject({ status: 200, length: head.length });
    expect(parseResponse(Buffer.from('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n'))).toMatchObject({ status: 304 });
    const interim = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n';
    expect(parseResponse(Buffer.from(interim))).toBeNull();
    const full = `${interim}HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok`;
    expect(parseResponse(Buffer.from(full))).toEqual({ status: 201, headers: { 'content-length': '2' }, length: full.length });
    expect(parseResponse(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'.repeat(3)), false, { headBytes: 1024, bodyBytes: 100, interimResponses: 2 })).toEqual({ invalid: 'more than 2 interim (1xx) answers' });
    expect(parseResponse(Buffer.from('HTTP/1.1 101 Switching Protocols\r\n\r\n'))).toMatchObject({ invalid: expect.stringContaining('101') });
  });

  it('classifies statuses as the analysis counts them', () => {
    expect([200, 302, 404, 502, 503, 504].map(classifyStatus)).toEqual(['ok', 'ok', 'other-status', '502', 'other-5xx', 'other-5xx']);
  });
});
