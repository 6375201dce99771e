import { describe, expect, it } from 'vitest';
import { RequestStream, trialOfTarget } from '../../src/workload/http-request.js';

const targets = (stream: RequestStream, ...chunks: string[]) => chunks.flatMap((chunk) => stream.push(Buffer.from(chunk, 'latin1')).requests.map((request) => request.target));

describe('the requests on a connection, as the connection tap reads them', () => {
  it('reads each request line where a message starts, and passes over bodies by their length', () => {
    // A POST whose body, and a header, hold a request line: once read as requests of their own,
    // and the answer given to the victim.
    const body = 'GET /?t=victim HTTP/1.1\r\n';
    const first = `POST /?t=b1.0 HTTP/1.1\r\nHost: x\r\nX-Note: GET /?t=header HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const second = 'GET /?t=b1.1 HTTP/1.1\r\nHost: x\r\n\r\n';
    expect(targets(new RequestStream(), first + second)).toEqual(['/?t=b1.0', '/?t=b1.1']);
    // Byte by byte, the same.
    const stream = new RequestStream();
    expect(targets(stream, ...[...(first + second)])).toEqual(['/?t=b1.0', '/?t=b1.1']);
  });

  it('passes over chunked request bodies', () => {
    const chunked = 'POST /?t=c1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n19\r\nGET /?t=victim HTTP/1.1\r\n\r\n0\r\n\r\n';
    expect(targets(new RequestStream(), chunked, 'GET /?t=c2 HTTP/1.1\r\n\r\n')).toEqual(['/?t=c1', '/?t=c2']);
  });

  it('stops reading (and says why) where the bytes stop being HTTP', () => {
    const stream = new RequestStream();
    expect(stream.push(Buffer.from('GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n'))).toEqual({ requests: [{ method: 'GET', target: '/' }], invalid: 'Content-Length "-1"' });
    expect(new RequestStream().push(Buffer.from('hello there\r\n\r\n')).invalid).toMatch(/not an HTTP\/1\.x request line/);
    expect(new RequestStream(1024).push(Buffer.from(`GET / HTTP/1.1\r\nX: ${'a'.repeat(2000)}`)).invalid).toBe('no end of the request head in 1024 bytes');
  });

  it('takes the trial id from the query, once per request', () => {
    expect(trialOfTarget('/?a=1&t=b3.2')).toBe('b3.2');
    expect(trialOfTarget('/health')).toBeUndefined();
    // 32 KB of "&t=x" (once matched over and over by the relay, 246 ms): one request, the first t.
    const long = `/?t=b1.0${'&t=x'.repeat(8_000)}`;
    expect(targets(new RequestStream(), `GET ${long} HTTP/1.1\r\n\r\n`)).toEqual([long]);
    expect(trialOfTarget(long)).toBe('b1.0');
  });
});
