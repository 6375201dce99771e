// Reads the requests a client (the proxy) sends on one connection, one after another, as bytes
// arrive: each request line is read where a message starts, and each body is passed over by its
// own length, so that a body or a header holding "GET /?t=victim HTTP/1.1" is never taken for a
// request. Bounded heads, bodies counted and dropped. Imports nothing heavy: it runs in the
// connection tap's thread.
import { BodyReader, bodyFraming, HeadReader, parseHead, type Invalid } from './http-message.js';

export interface RequestLine {
  method: string;
  /** The request target as sent (path and query). */
  target: string;
}

const REQUEST_LINE = /^([A-Z][A-Z-]{0,19}) (\S+) HTTP\/1\.[01]$/;
/** A request body may be any size (an upload): its bytes are only counted. */
const ANY_BODY = Number.MAX_SAFE_INTEGER;
const EMPTY = Buffer.alloc(0);

export class RequestStream {
  private head: HeadReader;
  private body: BodyReader | null = null;
  private failed: Invalid | null = null;

  constructor(private readonly maxHeadBytes = 64 * 1024) {
    this.head = new HeadReader(maxHeadBytes, 'request head', requestLineProblem);
  }

  /**
   * The requests whose heads these bytes complete, in order. Once the bytes are not HTTP/1.x,
   * `invalid` says why, and nothing more is read (the caller relays the rest unread).
   */
  push(chunk: Buffer): { requests: RequestLine[]; invalid?: string } {
    const requests: RequestLine[] = [];
    let data = chunk;
    while (!this.failed && data.length > 0) data = this.step(data, requests);
    return this.failed ? { requests, invalid: this.failed.invalid } : { requests };
  }

  private step(data: Buffer, requests: RequestLine[]): Buffer {
    if (this.body) {
      const read = this.body.push(data);
      if ('invalid' in read) this.failed = read;
      else if (read.done) {
        this.body = null;
        return read.rest;
      }
      return EMPTY;
    }
    const read = this.head.push(data);
    if (read === null) return EMPTY;
    if ('invalid' in read) {
      this.failed = read;
      return EMPTY;
    }
    this.head = new HeadReader(this.maxHeadBytes, 'request head', requestLineProblem);
    const { firstLine, headers } = parseHead(read.head);
    const [, method, target] = REQUEST_LINE.exec(firstLine)!;
    requests.push({ method: method!, target: target! });
    const framing = bodyFraming(headers, ANY_BODY, { kind: 'none' });
    if ('invalid' in framing) this.failed = framing;
    // A request's body cannot run to the close (RFC 9112 6.3): a coding other than chunked is refused.
    else if (framing.kind === 'until-close') this.failed = { invalid: `Transfer-Encoding ${JSON.stringify(headers['transfer-encoding'])} on a request` };
    else if (framing.kind !== 'none') this.body = new BodyReader(framing, ANY_BODY, this.maxHeadBytes);
    return read.rest;
  }
}

/** What is wrong with a request line, once it is in. */
function requestLineProblem(data: Buffer): string | null {
  const lineEnd = data.indexOf('\r\n');
  if (lineEnd < 0) return null;
  const line = data.subarray(0, lineEnd).toString('latin1');
  return REQUEST_LINE.test(line) ? null : `not an HTTP/1.x request line: ${JSON.stringify(line.slice(0, 60))}`;
}

/** The trial id a request target carries in its query (t=ID), or undefined. */
export function trialOfTarget(target: string): string | undefined {
  const query = target.indexOf('?');
  if (query < 0) return undefined;
  return new URLSearchParams(target.slice(query + 1)).get('t') ?? undefined;
}
