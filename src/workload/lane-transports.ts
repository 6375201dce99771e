// How a lane sends its requests. `raw` is the harness's own connection (it reuses its socket
// blindly, which is what a proxy's pool does); the others are the HTTP clients applications use,
// each deciding by itself whether to reuse an idle socket: Node's http.Agent (keep-alive, with
// or without its `timeout`, which decides whether the server's Keep-Alive hint is honoured) and
// undici's Agent. With `--proxy none` they talk to the upstream straight: the race one hop
// earlier, on the client's own socket (ECONNRESET / "socket hang up").
import http from 'node:http';
import { Agent as UndiciAgent, errors as undiciErrors } from 'undici';
import type { ClientKind, Endpoint, ErrorClass } from '../vocabulary.js';
import { hostPort } from '../util/ports.js';
import { HttpConnection, classifyStatus, type ExchangeResult } from './http-connection.js';

export interface TrialRequest {
  method: string;
  path: string;
  body?: string;
}

/** One lane's way to the server: one connection (raw) or one client with one socket at most. */
export interface LaneTransport {
  readonly isOpen: boolean;
  connect(): Promise<void>;
  send(request: TrialRequest, timeoutMs: number): Promise<ExchangeResult>;
  close(): void;
}

export interface TransportOptions {
  /** The client's own idle timeout (node-agent-timeout: the Agent's `timeout`), ms. */
  idleTimeoutMs: number;
}

export function laneTransport(kind: ClientKind, endpoint: Endpoint, options: TransportOptions): LaneTransport {
  switch (kind) {
    case 'raw': return new RawTransport(endpoint);
    case 'node-agent': return new NodeAgentTransport(endpoint, undefined);
    case 'node-agent-timeout': return new NodeAgentTransport(endpoint, options.idleTimeoutMs);
    case 'undici': return new UndiciTransport(endpoint);
  }
}

export function serializeRequest(request: TrialRequest): string {
  const head = `${request.method} ${request.path} HTTP/1.1\r\nHost: keepalive-lab\r\n`;
  if (request.body === undefined) return head + '\r\n';
  return head + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(request.body)}\r\n\r\n${request.body}`;
}

class RawTransport implements LaneTransport {
  private readonly connection: HttpConnection;
  constructor(endpoint: Endpoint) {
    this.connection = new HttpConnection(endpoint);
  }
  get isOpen(): boolean {
    return this.connection.isOpen;
  }
  connect(): Promise<void> {
    return this.connection.connect();
  }
  send(request: TrialRequest, timeoutMs: number): Promise<ExchangeResult> {
    return this.connection.send(serializeRequest(request), timeoutMs);
  }
  close(): void {
    this.connection.close();
  }
}

/** Node's http.Agent, keep-alive, one socket: the Agent alone decides when a socket is reused. */
class NodeAgentTransport implements LaneTransport {
  private readonly agent: http.Agent;
  readonly isOpen = true;
  constructor(private readonly endpoint: Endpoint, timeoutMs: number | undefined) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1, ...(timeoutMs !== undefined ? { timeout: timeoutMs } : {}) });
  }
  async connect(): Promise<void> {}
  send(request: TrialRequest, timeoutMs: number): Promise<ExchangeResult> {
    return new Promise((resolve) => {
      let settled = false;
      const sentAtNs = process.hrtime.bigint();
      const finish = (result: Omit<ExchangeResult, 'sentAtNs' | 'endedAtNs'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...result, sentAtNs, endedAtNs: process.hrtime.bigint(), reusedSocket: outgoing.reusedSocket });
      };
      const outgoing = http.request({
        host: this.endpoint.host, port: this.endpoint.port, method: request.method, path: request.path, agent: this.agent,
        headers: { host: 'keepalive-lab', ...(request.body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(request.body) } : {}) },
      }, (response) => {
        response.resume();
        response.on('end', () => finish({ status: response.statusCode!, errorClass: classifyStatus(response.statusCode!), connectionDone: false, headers: flatHeaders(response.headers) }));
        response.on('error', (error) => finish({ status: null, errorClass: nodeErrorClass(error), connectionDone: false, headers: {} }));
      });
      const timer = setTimeout(() => {
        outgoing.destroy();
        finish({ status: null, errorClass: 'timeout', connectionDone: false, headers: {} });
      }, timeoutMs);
      outgoing.on('error', (error) => finish({ status: null, errorClass: nodeErrorClass(error), connectionDone: false, headers: {} }));
      outgoing.end(request.body);
    });
  }
  close(): void {
    this.agent.destroy();
  }
}

/** undici's Agent with one connection: undici alone decides when a socket is reused. */
class UndiciTransport implements LaneTransport {
  private readonly agent = new UndiciAgent({ connections: 1 });
  private readonly origin: string;
  readonly isOpen = true;
  constructor(endpoint: Endpoint) {
    this.origin = `http://${hostPort(endpoint.host, endpoint.port)}`;
  }
  async connect(): Promise<void> {}
  async send(request: TrialRequest, timeoutMs: number): Promise<ExchangeResult> {
    const sentAtNs = process.hrtime.bigint();
    try {
      const response = await this.agent.request({
        origin: this.origin, path: request.path, method: request.method as 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
        headers: { host: 'keepalive-lab', ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(request.body !== undefined ? { body: request.body } : {}),
      });
      await response.body.text();
      return { status: response.statusCode, errorClass: classifyStatus(response.statusCode), connectionDone: false, headers: flatHeaders(response.headers), sentAtNs, endedAtNs: process.hrtime.bigint() };
    } catch (error) {
      return { status: null, errorClass: undiciErrorClass(error), connectionDone: false, headers: {}, sentAtNs, endedAtNs: process.hrtime.bigint() };
    }
  }
  close(): void {
    void this.agent.destroy().catch(() => {});
  }
}

function flatHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}

/** Node: "socket hang up" is a close without a response; "read ECONNRESET" a reset. */
function nodeErrorClass(error: NodeJS.ErrnoException): ErrorClass {
  if (error.message === 'socket hang up') return 'eof';
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return 'reset';
  return 'error';
}

/** undici: "other side closed" is a close without a response. */
function undiciErrorClass(error: unknown): ErrorClass {
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) return 'timeout';
  const { code, cause } = error as { code?: string; cause?: { code?: string } };
  if (code === 'ECONNRESET' || cause?.code === 'ECONNRESET') return 'reset';
  if (error instanceof undiciErrors.SocketError) return 'eof';
  return 'error';
}

