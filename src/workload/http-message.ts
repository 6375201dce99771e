// The framing HTTP/1.x requests and responses share (RFC 9112): a head that ends with a blank
// line, then a body delimited by its length, by chunks, or by the close. Read from bytes as
// they arrive, from a peer that is not trusted: every size is validated before it is used, the
// head is bounded, and body bytes are counted and dropped, never kept. Imports nothing, so that
// the connection tap's thread (gate/tap/tap-worker.ts) starts in milliseconds.

/** What a peer sent that is not HTTP/1.x, in words. */
export interface Invalid {
  invalid: string;
}

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
/** A chunk-size line: hex digits (8 at most: 4 GiB, far past any body limit), then extensions. */
const CHUNK_SIZE_LINE = /^([0-9A-Fa-f]{1,8})[ \t]*(;.*)?$/;
const CHUNK_LINE_BYTES = 4096;
const EMPTY = Buffer.alloc(0);

/** Lower-cased names; a repeated header's values joined with ", ". */
export type Headers = Record<string, string>;

/** A head's first line and its headers. */
export function parseHead(head: string): { firstLine: string; headers: Headers } {
  const lines = head.split('\r\n');
  const headers: Headers = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { firstLine: lines[0]!, headers };
}

/**
 * Collects a head up to its blank line, at most `maxBytes`. `early` judges the bytes so far
 * (a status or request line can be refused before the head ends) and returns a problem or null.
 */
export class HeadReader {
  private pending: Buffer = EMPTY;

  constructor(private readonly maxBytes: number, private readonly what: string, private readonly early: (start: Buffer) => string | null = () => null) {}

  /** The head (without its blank line) and the bytes after it, null while more is needed, or what is wrong. */
  push(data: Buffer): { head: string; rest: Buffer } | Invalid | null {
    const searchFrom = Math.max(0, this.pending.length - 3);
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    const problem = this.early(this.pending);
    if (problem) return { invalid: problem };
    const end = this.pending.indexOf(HEAD_END, searchFrom);
    if (end < 0 ? this.pending.length > this.maxBytes : end + 4 > this.maxBytes) return { invalid: `no end of the ${this.what} in ${this.maxBytes} bytes` };
    if (end < 0) return null;
    const head = this.pending.subarray(0, end).toString('latin1');
    const rest = this.pending.subarray(end + 4);
    this.pending = EMPTY;
    return { head, rest };
  }
}

export type BodyFraming = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'until-close' };

/**
 * How a message's body is delimited (RFC 9112 6.3), each size checked: Transfer-Encoding over
 * Content-Length; chunked must be the final coding (else the body runs to the close: `unframed`
 * says what a message without either has, a response's until-close or a request's none).
 */
export function bodyFraming(headers: Headers, maxBody: number, unframed: BodyFraming): BodyFraming | Invalid {
  const transferEncoding = headers['transfer-encoding'];
  if (transferEncoding !== undefined) {
    const codings = transferEncoding.toLowerCase().split(',').map((coding) => coding.trim());
    return codings.at(-1) === 'chunked' ? { kind: 'chunked' } : { kind: 'until-close' };
  }
  const contentLength = headers['content-length'];
  if (contentLength === undefined) return unframed;
  // Repeated Content-Length headers are allowed only when they agree.
  const values = [...new Set(contentLength.split(',').map((value) => value.trim()))];
  if (values.length !== 1 || !/^\d{1,16}$/.test(values[0]!)) return { invalid: `Content-Length ${JSON.stringify(contentLength.slice(0, 40))}` };
  const length = Number(values[0]);
  if (length > maxBody) return { invalid: `a body over ${maxBody} bytes (Content-Length ${length})` };
  return length === 0 ? { kind: 'none' } : { kind: 'length', length };
}

type BodyState =
  | { kind: 'length'; remaining: number }
  | { kind: 'chunk-size' }
  | { kind: 'chunk-data'; remaining: number }
  | { kind: 'chunk-end' }
  | { kind: 'trailers' }
  | { kind: 'until-close' };

/** Passes over one body, counting its bytes against a limit. */
export class BodyReader {
  private state: BodyState;
  private pending: Buffer = EMPTY;
  private bytes = 0;
  private trailers: HeadReader | null = null;

  constructor(framing: Exclude<BodyFraming, { kind: 'none' }>, private readonly maxBody: number, private readonly maxTrailerBytes: number) {
    this.state = framing.kind === 'length' ? { kind: 'length', remaining: framing.length } : framing.kind === 'chunked' ? { kind: 'chunk-size' } : { kind: 'until-close' };
    if (framing.kind === 'length') this.bytes = framing.length;
  }

  /** Consumes body bytes: done with the bytes after the body, not yet (all consumed), or what is wrong. */
  push(data: Buffer): { done: true; rest: Buffer } | { done: false } | Invalid {
    let rest = data;
    while (rest.length > 0) {
      const stepped = this.step(rest);
      if ('invalid' in stepped || stepped.done) return stepped;
      rest = stepped.rest;
    }
    return { done: false };
  }

  /** The connection ended: whether that completed the body (one delimited by the close). */
  endsAtClose(): boolean {
    return this.state.kind === 'until-close';
  }

  private step(data: Buffer): { done: true; rest: Buffer } | { done: false; rest: Buffer } | Invalid {
    const state = this.state;
    switch (state.kind) {
      case 'length':
      case 'chunk-data': {
        const taken = Math.min(state.remaining, data.length);
        state.remaining -= taken;
        if (state.remaining > 0) return { done: false, rest: EMPTY };
        if (state.kind === 'length') return { done: true, rest: data.subarray(taken) };
        this.state = { kind: 'chunk-end' };
        return { done: false, rest: data.subarray(taken) };
      }
      case 'chunk-end': {
        this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
        if (this.pending.length < 2) return { done: false, rest: EMPTY };
        if (!this.pending.subarray(0, 2).equals(CRLF)) return { invalid: 'a chunk longer than its size' };
        const rest = this.pending.subarray(2);
        this.pending = EMPTY;
        this.state = { kind: 'chunk-size' };
        return { done: false, rest };
      }
      case 'chunk-size':
        return this.readChunkSize(data);
      case 'trailers':
        return this.readTrailers(data);
      case 'until-close':
        this.bytes += data.length;
        return this.bytes > this.maxBody ? { invalid: `a body over ${this.maxBody} bytes` } : { done: false, rest: EMPTY };
    }
  }

  private readChunkSize(data: Buffer): { done: false; rest: Buffer } | Invalid {
    const searchFrom = Math.max(0, this.pending.length - 1);
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    const end = this.pending.indexOf(CRLF, searchFrom);
    if (end < 0 ? this.pending.length > CHUNK_LINE_BYTES : end > CHUNK_LINE_BYTES) return { invalid: `a chunk-size line longer than ${CHUNK_LINE_BYTES} bytes` };
    if (end < 0) return { done: false, rest: EMPTY };
    const line = this.pending.subarray(0, end).toString('latin1');
    const rest = this.pending.subarray(end + 2);
    this.pending = EMPTY;
    const match = CHUNK_SIZE_LINE.exec(line);
    if (!match) return { invalid: `a chunk size that is not hexadecimal: ${JSON.stringify(line.slice(0, 40))}` };
    const size = parseInt(match[1]!, 16);
    if (size === 0) {
      this.state = { kind: 'trailers' };
      return { done: false, rest };
    }
    this.bytes += size;
    if (this.bytes > this.maxBody) return { invalid: `a body over ${this.maxBody} bytes` };
    this.state = { kind: 'chunk-data', remaining: size };
    return { done: false, rest };
  }

  /** Trailers (rare) end with a blank line, which may follow the last chunk at once. */
  private readTrailers(data: Buffer): { done: true; rest: Buffer } | { done: false; rest: Buffer } | Invalid {
    if (this.trailers === null) {
      this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
      if (this.pending.length < 2) return { done: false, rest: EMPTY };
      const start = this.pending;
      this.pending = EMPTY;
      if (start.subarray(0, 2).equals(CRLF)) return { done: true, rest: start.subarray(2) };
      this.trailers = new HeadReader(this.maxTrailerBytes, 'trailers');
      data = start;
    }
    const read = this.trailers.push(data);
    if (read === null) return { done: false, rest: EMPTY };
    if ('invalid' in read) return read;
    return { done: true, rest: read.rest };
  }
}
