// A minimal HTTP/1.1 keep-alive client connection with one exchange in flight. Hand-written on
// purpose: the workload needs the exact instant a request is written and the instant its
// answer ends, and must tell a reset from a close without a response; an HTTP client library
// hides all three behind its own pooling and retries.
import net from 'node:net';
import tls from 'node:tls';
import type { Endpoint, ErrorClass } from '../vocabulary.js';
import { RESPONSE_LIMITS, ResponseReader, type ReadResponse } from './http-response.js';

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
  reader: ResponseReader;
}

export class HttpConnection {
  private socket: net.Socket | null = null;
  /** Bytes that came with no exchange in flight (bounded: a server that talks unasked is cut off). */
  private unasked: Buffer = Buffer.alloc(0);
  private pending: Pending | null = null;

  constructor(private readonly endpoint: Endpoint, private readonly tlsSettings: TlsSettings | null = null) {}

  get isOpen(): boolean {
    return this.socket !== null && !this.socket.destroyed;
  }

  /**
   * Opens the connection (over TLS, through the handshake). `timeoutMs`: a server that takes the
   * TCP connection but never completes the handshake (or a SYN nobody answers) fails it with
   * ETIMEDOUT instead of holding it for ever.
   */
  connect(timeoutMs?: number): Promise<void> {
    return new Promise((resolve, reject) => {
      // Over TLS the connection is usable once the handshake (and the certificate check) is done.
      const socket: net.Socket = this.tlsSettings
        ? tls.connect({ host: this.endpoint.host, port: this.endpoint.port, ...(this.tlsSettings.servername ? { servername: this.tlsSettings.servername } : {}), ...(this.tlsSettings.ca ? { ca: this.tlsSettings.ca } : {}), ALPNProtocols: ['http/1.1'] })
        : net.connect(this.endpoint.port, this.endpoint.host);
      socket.setNoDelay(true);
      const failed = (error: Error) => {
        if (timer) clearTimeout(timer);
        reject(error);
      };
      const timer = timeoutMs === undefined ? null : setTimeout(() => {
        socket.off('error', failed);
        socket.destroy();
        reject(Object.assign(new Error(`no connection within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, timeoutMs);
      socket.once(this.tlsSettings ? 'secureConnect' : 'connect', () => {
        if (timer) clearTimeout(timer);
        socket.off('error', failed);
        resolve();
      });
      socket.once('error', failed);
      // Events of a socket this connection has already replaced must not touch the new one.
      const current = () => this.socket === socket;
      socket.on('data', (chunk: Buffer) => current() && this.onData(chunk));
      socket.on('error', (error: NodeJS.ErrnoException) => current() && this.fail(error.code === 'ECONNRESET' || error.code === 'EPIPE' ? 'reset' : 'error'));
      socket.on('close', () => current() && this.onClose());
      this.socket = socket;
      this.unasked = Buffer.alloc(0);
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
      // The answer to a HEAD has no body, whatever its Content-Length says.
      const head = typeof request === 'string' ? request.startsWith('HEAD ') : request.subarray(0, 5).toString('latin1') === 'HEAD ';
      this.pending = { sentAtNs, resolve, timer, reader: new ResponseReader(head) };
      socket.write(request);
      // Bytes the server sent before this request are read as the start of its answer, as before.
      if (this.unasked.length > 0) {
        const unasked = this.unasked;
        this.unasked = Buffer.alloc(0);
        this.onData(unasked);
      }
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private onData(chunk: Buffer): void {
    if (!this.pending) {
      this.unasked = this.unasked.length === 0 ? chunk : Buffer.concat([this.unasked, chunk]);
      if (this.unasked.length > RESPONSE_LIMITS.headBytes) this.fail('error');
      return;
    }
    const read = this.pending.reader.push(chunk);
    if (!read) return;
    if ('invalid' in read) {
      this.fail('error', read.invalid);
      return;
    }
    this.unasked = read.rest;
    this.answered(read, false);
  }

  private onClose(): void {
    // A body delimited by the close (no Content-Length, not chunked) is complete now.
    const read = this.pending?.reader.end();
    if (read) {
      this.socket = null;
      this.answered(read, true);
      return;
    }
    this.fail('eof');
  }

  private answered({ response }: ReadResponse, closed: boolean): void {
    this.finish({
      status: response.status,
      errorClass: classifyStatus(response.status),
      connectionDone: closed || response.headers.connection?.toLowerCase() === 'close',
      headers: response.headers,
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
