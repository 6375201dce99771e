// Reads one HTTP/1.x response off a connection, as bytes arrive. The servers it reads are not
// trusted (field mode and the gate talk to whatever the user points them at), so every size is
// validated before it is used, the head and the body are bounded, and body bytes are counted
// and dropped rather than kept: a server streaming for ever costs time (which the exchange's
// timeout bounds), never memory. Framing follows RFC 9112 section 6.3.

export interface ResponseHead {
  status: number;
  /** Lower-cased names; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
}

/** What a server sent that is not an HTTP/1.x response, in words. */
export interface InvalidResponse {
  invalid: string;
}

export interface ResponseLimits {
  /** Longest head (status line and headers, and the trailers of a chunked body). */
  headBytes: number;
  /** Largest body: a measured URL that answers more is not one to fire at boundaries. */
  bodyBytes: number;
  /** Interim (1xx) answers taken before the final one. */
  interimResponses: number;
}

export const RESPONSE_LIMITS: ResponseLimits = { headBytes: 64 * 1024, bodyBytes: 32 * 1024 * 1024, interimResponses: 16 };

/** A chunk-size line: hex digits (8 at most: 4 GiB, far past the body limit), then extensions. */
const CHUNK_SIZE_LINE = /^([0-9A-Fa-f]{1,8})[ \t]*(;.*)?$/;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: |$)/;
const CHUNK_LINE_BYTES = 4096;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

type State =
  | { kind: 'head' }
  | { kind: 'length'; remaining: number }
  | { kind: 'chunk-size' }
  | { kind: 'chunk-data'; remaining: number }
  | { kind: 'chunk-end' }
  | { kind: 'trailers' }
  | { kind: 'until-close' };

export interface ReadResponse {
  response: ResponseHead;
  /** Bytes that came after the response: the start of something else. */
  rest: Buffer;
}

export class ResponseReader {
  private state: State = { kind: 'head' };
  /** Bytes of the line or head being read (bounded by the limits). */
  private pending: Buffer = Buffer.alloc(0);
  private head: ResponseHead | null = null;
  private bodyBytes = 0;
  private interim = 0;
  private outcome: ReadResponse | InvalidResponse | null = null;

  /** `bodiless`: the request was HEAD, so the answer has no body whatever its headers say. */
  constructor(private readonly bodiless = false, private readonly limits: ResponseLimits = RESPONSE_LIMITS) {}

  /** Feeds bytes; the response once it is complete, what is wrong, or null while more is needed. Never throws. */
  push(chunk: Buffer): ReadResponse | InvalidResponse | null {
    if (this.outcome) return this.outcome;
    let data = chunk;
    while (data.length > 0 && !this.outcome) data = this.step(data);
    return this.outcome;
  }

  /** The connection ended: a body read until the close is complete now; anything else is cut short (null). */
  end(): ReadResponse | null {
    if (this.outcome && 'response' in this.outcome) return this.outcome;
    if (this.state.kind === 'until-close' && this.head) return (this.outcome = { response: this.head, rest: Buffer.alloc(0) });
    return null;
  }

  /** Consumes a prefix of `data` in the current state; returns what is left. */
  private step(data: Buffer): Buffer {
    const state = this.state;
    switch (state.kind) {
      case 'head':
      case 'trailers':
        return this.readHead(data, state.kind);
      case 'chunk-size':
        return this.readLine(data, CHUNK_LINE_BYTES, 'a chunk-size line', (line) => this.onChunkSize(line));
      case 'chunk-end':
        return this.readChunkEnd(data);
      case 'length':
      case 'chunk-data': {
        const taken = Math.min(state.remaining, data.length);
        state.remaining -= taken;
        if (state.remaining === 0) {
          if (state.kind === 'length') this.complete(data.subarray(taken));
          else this.state = { kind: 'chunk-end' };
        }
        return data.subarray(taken);
      }
      case 'until-close':
        this.countBody(data.length);
        return Buffer.alloc(0);
    }
  }

  /** The CRLF that must follow a chunk's data. */
  private readChunkEnd(data: Buffer): Buffer {
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    if (this.pending.length < 2) return Buffer.alloc(0);
    if (!this.pending.subarray(0, 2).equals(CRLF)) return this.fail('a chunk longer than its size');
    const rest = this.pending.subarray(2);
    this.pending = Buffer.alloc(0);
    this.state = { kind: 'chunk-size' };
    return rest;
  }

  /** Reads up to the blank line ending a head (or trailers), bounded by the head limit. */
  private readHead(data: Buffer, kind: 'head' | 'trailers'): Buffer {
    const searchFrom = Math.max(0, this.pending.length - 3);
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    if (kind === 'head') {
      const invalid = statusLineProblem(this.pending);
      if (invalid) return this.fail(invalid);
    }
    // Trailers may be empty: the blank line straight after the last chunk.
    if (kind === 'trailers' && this.pending.subarray(0, 2).equals(CRLF)) return this.afterTrailers(2);
    const end = this.pending.indexOf(HEAD_END, searchFrom);
    if (end < 0) {
      if (this.pending.length > this.limits.headBytes) return this.fail(`no end of the response ${kind} in ${this.limits.headBytes} bytes`);
      return Buffer.alloc(0);
    }
    if (end + 4 > this.limits.headBytes) return this.fail(`no end of the response ${kind} in ${this.limits.headBytes} bytes`);
    if (kind === 'trailers') return this.afterTrailers(end + 4);
    const headText = this.pending.subarray(0, end).toString('latin1');
    const rest = this.pending.subarray(end + 4);
    this.pending = Buffer.alloc(0);
    return this.onHead(headText, rest);
  }

  private afterTrailers(length: number): Buffer {
    const rest = this.pending.subarray(length);
    this.pending = Buffer.alloc(0);
    this.complete(rest);
    return Buffer.alloc(0);
  }

  private onHead(headText: string, rest: Buffer): Buffer {
    const lines = headText.split('\r\n');
    const status = Number(STATUS_LINE.exec(lines[0]!)![1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    if (status >= 100 && status < 200) {
      // 1xx answers are interim (RFC 9110 15.2): the final answer follows on the same bytes.
      // 101 would switch protocols, which no request here asks for.
      if (status === 101) return this.fail('101 Switching Protocols, to a request that asked for no upgrade');
      if (++this.interim > this.limits.interimResponses) return this.fail(`more than ${this.limits.interimResponses} interim (1xx) answers`);
      return rest;
    }
    this.head = { status, headers };
    const framing = bodyFraming(status, headers, this.bodiless, this.limits.bodyBytes);
    if ('invalid' in framing) return this.fail(framing.invalid);
    if (framing.kind === 'none' || (framing.kind === 'length' && framing.length === 0)) {
      this.complete(rest);
      return Buffer.alloc(0);
    }
    if (framing.kind === 'length') {
      this.bodyBytes = framing.length;
      this.state = { kind: 'length', remaining: framing.length };
    } else this.state = { kind: framing.kind };
    return rest;
  }

  private onChunkSize(line: string): string | null {
    const match = CHUNK_SIZE_LINE.exec(line);
    if (!match) return `a chunk size that is not hexadecimal: ${JSON.stringify(line.slice(0, 40))}`;
    const size = parseInt(match[1]!, 16);
    if (size === 0) {
      this.state = { kind: 'trailers' };
      return null;
    }
    if (!this.countBody(size)) return null;
    this.state = { kind: 'chunk-data', remaining: size };
    return null;
  }

  /** Counts body bytes against the limit; false (and the reader failed) past it. */
  private countBody(bytes: number): boolean {
    this.bodyBytes += bytes;
    if (this.bodyBytes <= this.limits.bodyBytes) return true;
    this.fail(`a body over ${this.limits.bodyBytes} bytes`);
    return false;
  }

  /** Reads one CRLF-ended line of at most `maxBytes` and hands it to `onLine` (which returns a problem or null). */
  private readLine(data: Buffer, maxBytes: number, what: string, onLine: (line: string) => string | null): Buffer {
    const searchFrom = Math.max(0, this.pending.length - 1);
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    const end = this.pending.indexOf(CRLF, searchFrom);
    if (end < 0) return this.pending.length > maxBytes ? this.fail(`${what} longer than ${maxBytes} bytes`) : Buffer.alloc(0);
    if (end > maxBytes) return this.fail(`${what} longer than ${maxBytes} bytes`);
    const line = this.pending.subarray(0, end).toString('latin1');
    const rest = this.pending.subarray(end + 2);
    this.pending = Buffer.alloc(0);
    const problem = onLine(line);
    return problem ? this.fail(problem) : rest;
  }

  private complete(rest: Buffer): void {
    this.outcome = { response: this.head!, rest };
  }

  private fail(invalid: string): Buffer {
    this.outcome ??= { invalid };
    return Buffer.alloc(0);
  }
}

type Framing = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunk-size' } | { kind: 'until-close' } | InvalidResponse;

/** How the body is delimited (RFC 9112 6.3), each size checked. */
function bodyFraming(status: number, headers: Record<string, string>, bodiless: boolean, maxBody: number): Framing {
  if (bodiless || status === 204 || status === 304) return { kind: 'none' };
  const transferEncoding = headers['transfer-encoding'];
  if (transferEncoding !== undefined) {
    // Transfer-Encoding overrides Content-Length; chunked must be the final coding, else the
    // body runs to the close.
    const codings = transferEncoding.toLowerCase().split(',').map((coding) => coding.trim());
    return codings.at(-1) === 'chunked' ? { kind: 'chunk-size' } : { kind: 'until-close' };
  }
  const contentLength = headers['content-length'];
  if (contentLength === undefined) return { kind: 'until-close' };
  // Repeated Content-Length headers are allowed only when they agree.
  const values = [...new Set(contentLength.split(',').map((value) => value.trim()))];
  if (values.length !== 1 || !/^\d{1,16}$/.test(values[0]!)) return { invalid: `Content-Length ${JSON.stringify(contentLength.slice(0, 40))}` };
  const length = Number(values[0]);
  if (length > maxBody) return { invalid: `a body over ${maxBody} bytes (Content-Length ${length})` };
  return { kind: 'length', length };
}

/** What is wrong with the status line, once enough of it is in to judge (a line end, or 12 bytes). */
function statusLineProblem(data: Buffer): string | null {
  const lineEnd = data.indexOf(CRLF);
  if (lineEnd < 0 && data.length < 12) return null;
  const line = data.subarray(0, lineEnd < 0 ? Math.min(data.length, 200) : Math.min(lineEnd, 200)).toString('latin1');
  if (lineEnd < 0) return /^HTTP\/1\.[01] \d{3}/.test(line) ? null : `not an HTTP/1.x response: it began with ${JSON.stringify(line.slice(0, 60))}`;
  return STATUS_LINE.test(line) ? null : `not an HTTP/1.x response: it began with ${JSON.stringify(line.slice(0, 60))}`;
}

export interface ParsedResponse extends ResponseHead {
  /** Bytes the whole response (interim answers included) took in the buffer. */
  length: number;
}

/** Parses one response from the start of `data`: the response, null if more is needed, or what is wrong with it. */
export function parseResponse(data: Buffer, bodiless = false, limits: ResponseLimits = RESPONSE_LIMITS): ParsedResponse | InvalidResponse | null {
  const read = new ResponseReader(bodiless, limits).push(data);
  if (!read || 'invalid' in read) return read;
  return { ...read.response, length: data.length - read.rest.length };
}
