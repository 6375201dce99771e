// A minimal HTTP/1.1 keep-alive client connection with one exchange in flight. Hand-written on
// purpose: the workload needs the exact instant a request is written and the instant its
// answer ends, and must tell a reset from a close without a response; an HTTP client library
// hides all three behind its own pooling and retries.
import net from 'node:net';
import tls from 'node:tls';
import type { Endpoint, ErrorClass } from '../vocabulary.js';

/** TLS towards the endpoint (an https URL): the name the certificate must carry (SNI; unset for an IP address), and extra CAs to trust. */
export interface TlsSettings {
  servername?: string;
  ca?: string | Buffer;
}

export interface ExchangeResult {
  status: number | null;
  errorClass: ErrorClass;
  /** hrtime (ns) when the request was handed to the socket. */
  sentAtNs: bigint;
  /** hrtime (ns) when the answer was complete, or the connection failed. */
  endedAtNs: bigint;
  /** The server will close this connection (Connection: close), or it is gone. */
  connectionDone: boolean;
  headers: Record<string, string>;
  /** Whether the client reused an idle socket for this request, where the client says (http.Agent). */
  reusedSocket?: boolean;
  /** Set when the server answered something that is not an HTTP/1.x response: what was wrong. */
  invalidResponse?: string;
}

interface Pending {
  sentAtNs: bigint;
  resolve: (result: ExchangeResult) => void;
  timer: NodeJS.Timeout;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export class HttpConnection {
  private socket: net.Socket | null = null;
  private buffered: Buffer = Buffer.alloc(0);
  private pending: Pending | null = null;

  constructor(private readonly endpoint: Endpoint, private readonly tlsSettings: TlsSettings | null = null) {}

  get isOpen(): boolean {
    return this.socket !== null && !this.socket.destroyed;
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      // Over TLS the connection is usable once the handshake (and the certificate check) is done.
      const socket: net.Socket = this.tlsSettings
        ? tls.connect({ host: this.endpoint.host, port: this.endpoint.port, ...(this.tlsSettings.servername ? { servername: this.tlsSettings.servername } : {}), ...(this.tlsSettings.ca ? { ca: this.tlsSettings.ca } : {}), ALPNProtocols: ['http/1.1'] })
        : net.connect(this.endpoint.port, this.endpoint.host);
      socket.setNoDelay(true);
      socket.once(this.tlsSettings ? 'secureConnect' : 'connect', () => {
        socket.off('error', reject);
        resolve();
      });
      socket.once('error', reject);
      // Events of a socket this connection has already replaced must not touch the new one.
      const current = () => this.socket === socket;
      socket.on('data', (chunk: Buffer) => current() && this.onData(chunk));
      socket.on('error', (error: NodeJS.ErrnoException) => current() && this.fail(error.code === 'ECONNRESET' || error.code === 'EPIPE' ? 'reset' : 'error'));
      socket.on('close', () => current() && this.fail('eof'));
      this.socket = socket;
      this.buffered = Buffer.alloc(0);
    });
  }

  /** Writes `request` now and resolves with how the exchange ended. */
  send(request: Buffer | string, timeoutMs: number): Promise<ExchangeResult> {
    const socket = this.socket;
    if (!socket || socket.destroyed) throw new Error('send on a closed connection');
    if (this.pending) throw new Error('one exchange at a time');
    return new Promise((resolve) => {
      const sentAtNs = process.hrtime.bigint();
      const timer = setTimeout(() => this.fail('timeout'), timeoutMs);
      this.pending = { sentAtNs, resolve, timer };
      socket.write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    if (!this.pending) return;
    const parsed = parseResponse(this.buffered);
    if (!parsed) return;
    if ('invalid' in parsed) {
      this.fail('error', parsed.invalid);
      return;
    }
    this.buffered = this.buffered.subarray(parsed.length);
    this.finish({
      status: parsed.status,
      errorClass: classifyStatus(parsed.status),
      connectionDone: parsed.headers.connection === 'close',
      headers: parsed.headers,
    });
  }

  private fail(errorClass: ErrorClass, invalidResponse?: string): void {
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
    if (this.pending) this.finish({ status: null, errorClass, connectionDone: true, headers: {}, ...(invalidResponse !== undefined && { invalidResponse }) });
  }

  private finish(outcome: Omit<ExchangeResult, 'sentAtNs' | 'endedAtNs'>): void {
    const endedAtNs = process.hrtime.bigint();
    const pending = this.pending!;
    this.pending = null;
    clearTimeout(pending.timer);
    pending.resolve({ ...outcome, sentAtNs: pending.sentAtNs, endedAtNs });
  }
}

export function classifyStatus(status: number): ErrorClass {
  if (status >= 200 && status < 400) return 'ok';
  if (status === 502) return '502';
  if (status >= 500) return 'other-5xx';
  return 'other-status';
}

export interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  /** Bytes the whole response took in the buffer. */
  length: number;
}

/** What a server sent that is not an HTTP/1.x response, in words. */
export interface InvalidResponse {
  invalid: string;
}

/** Longest head a response may have: past it, a server that never sends CRLF CRLF is not HTTP. */
const MAX_HEAD_BYTES = 64 * 1024;

/**
 * Parses one complete response from the start of `data`: the response, null if more is needed,
 * or what is wrong with it. It never throws: it runs inside socket handlers, where a throw
 * would end the process.
 */
export function parseResponse(data: Buffer): ParsedResponse | InvalidResponse | null {
  // The status line can be judged as soon as it is in (or 12 bytes are: "HTTP/1.1 200").
  const firstLineEnd = data.indexOf('\r\n');
  const firstLine = data.subarray(0, firstLineEnd < 0 ? Math.min(data.length, 200) : firstLineEnd).toString('latin1');
  if ((firstLineEnd >= 0 || data.length >= 12) && !/^HTTP\/1\.[01] \d{3}/.test(firstLine)) return { invalid: `not an HTTP/1.x response: it began with ${JSON.stringify(firstLine.slice(0, 60))}` };
  const headerEnd = data.indexOf(HEADER_END);
  if (headerEnd < 0) return data.length > MAX_HEAD_BYTES ? { invalid: `no end of the response head in ${MAX_HEAD_BYTES} bytes` } : null;
  const lines = data.subarray(0, headerEnd).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')![1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const bodyStart = headerEnd + HEADER_END.length;
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
    const end = chunkedBodyEnd(data, bodyStart);
    if (end === BAD_CHUNK) return { invalid: 'a chunk size that is not hexadecimal' };
    return end < 0 ? null : { status, headers, length: end };
  }
  const contentLength = Number(headers['content-length'] ?? 0);
  if (!Number.isSafeInteger(contentLength) || contentLength < 0) return { invalid: `Content-Length ${JSON.stringify(headers['content-length'])}` };
  if (data.length < bodyStart + contentLength) return null;
  return { status, headers, length: bodyStart + contentLength };
}

const BAD_CHUNK = -2;

/** Offset just past a chunked body that starts at `start`, -1 if it is not complete, BAD_CHUNK. */
function chunkedBodyEnd(data: Buffer, start: number): number {
  let position = start;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', position);
    if (lineEnd < 0) return -1;
    const size = parseInt(data.subarray(position, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) return BAD_CHUNK;
    position = lineEnd + 2;
    if (size === 0) {
      // Trailers (rare) end with an empty line.
      const trailerEnd = data.indexOf('\r\n', position);
      if (trailerEnd < 0) return -1;
      if (trailerEnd === position) return position + 2;
      const end = data.indexOf(HEADER_END, position);
      return end < 0 ? -1 : end + 4;
    }
    if (data.length < position + size + 2) return -1;
    position += size + 2;
  }
}
