// Reads one HTTP/1.x response off a connection, as bytes arrive. The servers it reads are not
// trusted (field mode and the gate talk to whatever the user points them at), so every size is
// validated before it is used, the head and the body are bounded, and body bytes are counted
// and dropped rather than kept: a server streaming for ever costs time (which the exchange's
// timeout bounds), never memory. Framing follows RFC 9112 section 6.3.

import { BodyReader, bodyFraming, HeadReader, parseHead, type BodyFraming, type Invalid } from './http-message.js';

export interface ResponseHead {
  status: number;
  /** Lower-cased names; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
}

/** What a server sent that is not an HTTP/1.x response, in words. */
export type InvalidResponse = Invalid;

export interface ResponseLimits {
  /** Longest head (status line and headers, and the trailers of a chunked body). */
  headBytes: number;
  /** Largest body: a measured URL that answers more is not one to fire at boundaries. */
  bodyBytes: number;
  /** Interim (1xx) answers taken before the final one. */
  interimResponses: number;
}

export const RESPONSE_LIMITS: ResponseLimits = { headBytes: 64 * 1024, bodyBytes: 32 * 1024 * 1024, interimResponses: 16 };

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: |$)/;
const EMPTY = Buffer.alloc(0);

export interface ReadResponse {
  response: ResponseHead;
  /** Bytes that came after the response: the start of something else. */
  rest: Buffer;
}

export class ResponseReader {
  private head: HeadReader;
  private response: ResponseHead | null = null;
  private body: BodyReader | null = null;
  private interim = 0;
  private outcome: ReadResponse | InvalidResponse | null = null;

  /** `bodiless`: the request was HEAD, so the answer has no body whatever its headers say. */
  constructor(private readonly bodiless = false, private readonly limits: ResponseLimits = RESPONSE_LIMITS) {
    this.head = this.newHead();
  }

  /** Feeds bytes; the response once it is complete, what is wrong, or null while more is needed. Never throws. */
  push(chunk: Buffer): ReadResponse | InvalidResponse | null {
    let data = chunk;
    while (!this.outcome && data.length > 0) data = this.step(data);
    return this.outcome;
  }

  /** The connection ended: a body read until the close is complete now; anything else is cut short (null). */
  end(): ReadResponse | null {
    if (this.outcome && 'response' in this.outcome) return this.outcome;
    if (!this.outcome && this.response && this.body?.endsAtClose()) return (this.outcome = { response: this.response, rest: EMPTY });
    return null;
  }

  private newHead(): HeadReader {
    return new HeadReader(this.limits.headBytes, 'response head', statusLineProblem);
  }

  /** Consumes a prefix of `data`; returns what is left. */
  private step(data: Buffer): Buffer {
    if (this.body) {
      const read = this.body.push(data);
      if ('invalid' in read) this.outcome = read;
      else if (read.done) this.outcome = { response: this.response!, rest: read.rest };
      return EMPTY;
    }
    const read = this.head.push(data);
    if (read === null) return EMPTY;
    if ('invalid' in read) {
      this.outcome = read;
      return EMPTY;
    }
    const { firstLine, headers } = parseHead(read.head);
    const status = Number(STATUS_LINE.exec(firstLine)![1]);
    if (status >= 100 && status < 200) {
      // 1xx answers are interim (RFC 9110 15.2): the final answer follows on the same bytes.
      // 101 would switch protocols, which no request here asks for.
      if (status === 101) this.outcome = { invalid: '101 Switching Protocols, to a request that asked for no upgrade' };
      else if (++this.interim > this.limits.interimResponses) this.outcome = { invalid: `more than ${this.limits.interimResponses} interim (1xx) answers` };
      this.head = this.newHead();
      return read.rest;
    }
    this.response = { status, headers };
    const framing: BodyFraming | InvalidResponse = this.bodiless || status === 204 || status === 304 ? { kind: 'none' } : bodyFraming(headers, this.limits.bodyBytes, { kind: 'until-close' });
    if ('invalid' in framing) this.outcome = framing;
    else if (framing.kind === 'none') this.outcome = { response: this.response, rest: read.rest };
    else this.body = new BodyReader(framing, this.limits.bodyBytes, this.limits.headBytes);
    return read.rest;
  }
}

/** What is wrong with the status line, once enough of it is in to judge (a line end, or 12 bytes). */
function statusLineProblem(data: Buffer): string | null {
  const lineEnd = data.indexOf('\r\n');
  if (lineEnd < 0 && data.length < 12) return null;
  const line = data.subarray(0, lineEnd < 0 ? Math.min(data.length, 200) : Math.min(lineEnd, 200)).toString('latin1');
  const fine = lineEnd < 0 ? /^HTTP\/1\.[01] \d{3}/.test(line) : STATUS_LINE.test(line);
  return fine ? null : `not an HTTP/1.x response: it began with ${JSON.stringify(line.slice(0, 60))}`;
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
