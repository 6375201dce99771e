// The HTTP API of Toxiproxy 2.x over the embedded proxies: same routes, JSON shapes and
// status codes, so toxiproxy-node-client (and any other client) drives it unchanged.
import http from 'node:http';
import type net from 'node:net';
import { PreciseScheduler } from '../workload/precise-scheduler.js';
import { ApiError, ERRORS } from './api-error.js';
import { ToxicProxy, splitAddress } from './proxy.js';
import { isObject, toxicFromBody, updatedToxic } from './toxic-state.js';

export const EMBEDDED_VERSION = 'keepalive-lab-embedded/2.x-api';

/**
 * Largest request body: a populate of hundreds of proxies is a few tens of KB. Without a limit
 * one 200 MB POST took the server from 99 MB to 880 MB of memory.
 */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface ToxiproxyServerOptions {
  host?: string;
  port?: number;
  /** Spin window (ms) of the toxics' timers; see PreciseScheduler. */
  spinMs?: number;
}

export interface RunningToxiproxy {
  url: string;
  port: number;
  close(): Promise<void>;
}

type Handler = (params: string[], body: unknown) => Promise<[number, unknown]> | [number, unknown];
type Route = [methods: string, path: RegExp, handler: Handler];

export async function startToxiproxyServer(options: ToxiproxyServerOptions = {}): Promise<RunningToxiproxy> {
  const host = options.host ?? '127.0.0.1';
  const proxies = new ProxyTable(host, new PreciseScheduler(options.spinMs ?? 0.5));
  const routes = apiRoutes(proxies);
  const server = http.createServer((request, response) => void answer(routes, request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8474, host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    async close() {
      await proxies.stopAll();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The server's proxies by name, created and replaced as the API asks. */
class ProxyTable {
  readonly byName = new Map<string, ToxicProxy>();
  /**
   * A server on loopback opens relays on loopback only: otherwise any local client could make
   * it listen on every interface and relay other hosts into this one. A server whose operator
   * put it on another address (a container's 0.0.0.0) already serves those hosts.
   */
  private readonly onLoopback: boolean;

  constructor(private readonly host: string, private readonly scheduler: PreciseScheduler) {
    this.onLoopback = isLoopback(host);
  }

  get(name: string): ToxicProxy {
    const proxy = this.byName.get(decodeURIComponent(name));
    if (!proxy) throw ERRORS.proxyNotFound;
    return proxy;
  }

  checkListen(listen: string): void {
    const { host: listenHost } = splitAddress(listen, 'listen');
    if (this.onLoopback && !isLoopback(listenHost)) {
      throw ERRORS.badBody(`listen must be a loopback address (127.0.0.1, [::1], localhost) while the API itself listens on ${this.host}, got "${listen}"`);
    }
  }

  async create(body: unknown, replace: boolean): Promise<ToxicProxy> {
    if (!isObject(body)) throw ERRORS.badBody('expected a JSON object');
    const { name, listen = '127.0.0.1:0', upstream, enabled = true } = body;
    if (typeof name !== 'string' || name === '') throw ERRORS.missingField('name');
    if (typeof upstream !== 'string' || upstream === '') throw ERRORS.missingField('upstream');
    if (typeof listen !== 'string' || typeof enabled !== 'boolean') throw ERRORS.badBody('listen must be a string and enabled a boolean');
    this.checkListen(listen);
    splitAddress(upstream, 'upstream');
    const existing = this.byName.get(name);
    if (existing && !replace) throw ERRORS.proxyExists;
    if (existing) {
      if (existing.listen === listen && existing.upstream === upstream) {
        await existing.update({ enabled });
        return existing;
      }
      await existing.stop();
      this.byName.delete(name);
    }
    const proxy = new ToxicProxy(name, listen, upstream, this.scheduler);
    if (enabled) await proxy.start();
    this.byName.set(name, proxy);
    return proxy;
  }

  async remove(name: string): Promise<void> {
    const proxy = this.get(name);
    await proxy.stop();
    this.byName.delete(proxy.name);
  }

  async stopAll(): Promise<void> {
    for (const proxy of this.byName.values()) await proxy.stop();
    this.byName.clear();
  }
}

/** Toxiproxy 2.x's routes over the table. */
function apiRoutes(proxies: ProxyTable): Route[] {
  const toxicOf = (name: string, toxicName: string) => {
    const toxic = proxies.get(name).toxics.find((t) => t.name === decodeURIComponent(toxicName));
    if (!toxic) throw ERRORS.toxicNotFound;
    return toxic;
  };
  return [
    ['GET', /^\/version$/, () => [200, { version: EMBEDDED_VERSION }]],
    ['POST', /^\/reset$/, async () => {
      for (const proxy of proxies.byName.values()) {
        proxy.resetToxics();
        if (!proxy.enabled) await proxy.start();
      }
      return [204, null];
    }],
    ['GET', /^\/proxies$/, () => [200, Object.fromEntries(proxies.byName)]],
    ['POST', /^\/proxies$/, async (_, body) => [201, await proxies.create(body, false)]],
    ['POST', /^\/populate$/, async (_, body) => {
      if (!Array.isArray(body)) throw ERRORS.badBody('expected an array of proxies');
      const created: ToxicProxy[] = [];
      for (const entry of body) created.push(await proxies.create(entry, true));
      return [201, { proxies: created }];
    }],
    ['GET', /^\/proxies\/([^/]+)$/, ([name]) => [200, proxies.get(name!)]],
    ['POST|PATCH', /^\/proxies\/([^/]+)$/, async ([name], body) => {
      const proxy = proxies.get(name!);
      if (!isObject(body)) throw ERRORS.badBody('expected a JSON object');
      const { listen, upstream, enabled } = body;
      if ((listen !== undefined && typeof listen !== 'string') || (upstream !== undefined && typeof upstream !== 'string') || (enabled !== undefined && typeof enabled !== 'boolean')) {
        throw ERRORS.badBody('listen and upstream must be strings, enabled a boolean');
      }
      if (listen !== undefined) proxies.checkListen(listen);
      await proxy.update({ ...(listen !== undefined && { listen }), ...(upstream !== undefined && { upstream }), ...(enabled !== undefined && { enabled }) });
      return [200, proxy];
    }],
    ['DELETE', /^\/proxies\/([^/]+)$/, async ([name]) => {
      await proxies.remove(name!);
      return [204, null];
    }],
    ['GET', /^\/proxies\/([^/]+)\/toxics$/, ([name]) => [200, proxies.get(name!).toxics]],
    ['POST', /^\/proxies\/([^/]+)\/toxics$/, ([name], body) => {
      const proxy = proxies.get(name!);
      const toxic = toxicFromBody(body);
      proxy.addToxic(toxic);
      return [200, toxic];
    }],
    ['GET', /^\/proxies\/([^/]+)\/toxics\/([^/]+)$/, ([name, toxicName]) => [200, toxicOf(name!, toxicName!)]],
    ['POST|PATCH', /^\/proxies\/([^/]+)\/toxics\/([^/]+)$/, ([name, toxicName], body) => {
      const toxic = updatedToxic(toxicOf(name!, toxicName!), body);
      proxies.get(name!).replaceToxic(toxic);
      return [200, toxic];
    }],
    ['DELETE', /^\/proxies\/([^/]+)\/toxics\/([^/]+)$/, ([name, toxicName]) => {
      proxies.get(name!).removeToxic(decodeURIComponent(toxicName!));
      return [204, null];
    }],
  ];
}

/** One API request: refused from a browser, routed, its JSON body read within the limit, answered. */
async function answer(routes: readonly Route[], request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  const send = (status: number, payload: unknown) => {
    const text = payload === null ? '' : JSON.stringify(payload);
    // After a refused body the rest of it is still on the wire: close rather than read it.
    if (status === 413) response.shouldKeepAlive = false;
    response.writeHead(status, payload === null ? {} : { 'content-type': 'application/json' });
    response.end(text);
  };
  try {
    refuseBrowsers(request);
    const path = (request.url ?? '/').split('?')[0]!;
    const route = routes.find(([methods, pattern]) => methods.split('|').includes(request.method ?? '') && pattern.test(path));
    if (!route) {
      const known = routes.some(([, pattern]) => pattern.test(path));
      throw new ApiError(known ? 'method not allowed' : 'not found', known ? 405 : 404);
    }
    const text = await readBody(request);
    let body: unknown = undefined;
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch (error) {
        throw ERRORS.badBody((error as Error).message);
      }
    }
    const [status, payload] = await route[2](route[1].exec(path)!.slice(1), body);
    send(status, payload);
  } catch (error) {
    const apiError = error instanceof ApiError ? error : new ApiError((error as Error).message, 500);
    send(apiError.status, { error: apiError.message, status: apiError.status });
  }
}

/**
 * A web page can send requests to loopback (a form's text/plain POST needs no preflight), so
 * the API refuses what only browsers send, as Toxiproxy does for user agents that start with
 * "Mozilla/" (403). An Origin or Sec-Fetch-Site header also marks a request made by a page.
 */
function refuseBrowsers(request: http.IncomingMessage): void {
  const agent = request.headers['user-agent'] ?? '';
  if (agent.startsWith('Mozilla/')) throw new ApiError('User agent not allowed', 403);
  if (request.headers.origin !== undefined || request.headers['sec-fetch-site'] !== undefined) {
    throw new ApiError('requests from web pages are not allowed', 403);
  }
}

function readBody(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      reject(new ApiError(`request body larger than ${MAX_BODY_BYTES} bytes`, 413));
      return;
    }
    const parts: Buffer[] = [];
    let size = 0;
    request.on('data', (part: Buffer) => {
      size += part.length;
      if (size > MAX_BODY_BYTES) {
        // Stop holding it; the answer goes out and the connection closes after it.
        request.removeAllListeners('data');
        request.pause();
        reject(new ApiError(`request body larger than ${MAX_BODY_BYTES} bytes`, 413));
        return;
      }
      parts.push(part);
    });
    request.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    request.on('error', reject);
  });
}

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) || /^::ffff:127\./i.test(bare);
}
