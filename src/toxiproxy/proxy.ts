// One proxy: a listener, and for each client connection its own upstream connection with two
// links (client->upstream is the `upstream` stream, upstream->client the `downstream` one).
import net from 'node:net';
import { ApiError, ERRORS } from './api-error.js';
import { Link } from './link.js';
import type { Stream, ToxicState } from './toxic-state.js';
import type { LinkControl } from './toxics/toxic.js';

export interface ProxyConfig {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
}

interface Connection {
  client: net.Socket;
  upstream: net.Socket;
  links: Record<Stream, Link> | null;
}

export class ToxicProxy {
  listen: string;
  upstream: string;
  enabled = false;
  toxics: ToxicState[] = [];
  private server: net.Server | null = null;
  private readonly connections = new Set<Connection>();

  constructor(readonly name: string, listen: string, upstream: string, private readonly scheduler: Pick<LinkControl, 'at'>) {
    this.listen = listen;
    this.upstream = upstream;
  }

  toJSON() {
    return { name: this.name, listen: this.listen, upstream: this.upstream, enabled: this.enabled, toxics: this.toxics };
  }

  async start(): Promise<void> {
    if (this.server) return;
    const { host, port } = splitAddress(this.listen, 'listen');
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => reject(new ApiError(`listen ${this.listen}: ${error.code ?? error.message}`, 500)));
      server.listen(port, host, () => resolve());
    });
    const address = server.address() as net.AddressInfo;
    // Port 0 picks a free port; the API reports the real one, as Toxiproxy does.
    this.listen = `${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    this.server = server;
    this.enabled = true;
  }

  /** Down: stop listening and drop every connection (Toxiproxy's `enabled: false`). */
  async stop(): Promise<void> {
    this.enabled = false;
    const server = this.server;
    this.server = null;
    for (const connection of this.connections) {
      connection.client.destroy();
      connection.upstream.destroy();
    }
    this.connections.clear();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  async update(config: Partial<ProxyConfig>): Promise<void> {
    const wasEnabled = this.enabled;
    const moved = (config.listen !== undefined && config.listen !== this.listen) || (config.upstream !== undefined && config.upstream !== this.upstream);
    if (config.upstream !== undefined) splitAddress(config.upstream, 'upstream');
    if (moved && this.server) await this.stop();
    if (config.listen !== undefined) this.listen = config.listen;
    if (config.upstream !== undefined) this.upstream = config.upstream;
    const enabled = config.enabled ?? wasEnabled;
    if (enabled && !this.server) await this.start();
    if (!enabled && this.server) await this.stop();
  }

  addToxic(toxic: ToxicState): void {
    if (this.toxics.some((existing) => existing.name === toxic.name)) throw ERRORS.toxicExists;
    this.toxics.push(toxic);
    this.rebuildLinks(toxic.stream);
  }

  replaceToxic(toxic: ToxicState): void {
    const index = this.toxics.findIndex((existing) => existing.name === toxic.name);
    if (index < 0) throw ERRORS.toxicNotFound;
    this.toxics[index] = toxic;
    this.rebuildLinks(toxic.stream);
  }

  removeToxic(name: string): void {
    const toxic = this.toxics.find((existing) => existing.name === name);
    if (!toxic) throw ERRORS.toxicNotFound;
    this.toxics = this.toxics.filter((existing) => existing !== toxic);
    this.rebuildLinks(toxic.stream);
  }

  resetToxics(): void {
    const streams = new Set(this.toxics.map((toxic) => toxic.stream));
    this.toxics = [];
    for (const stream of streams) this.rebuildLinks(stream);
  }

  private toxicsOf(stream: Stream): ToxicState[] {
    return this.toxics.filter((toxic) => toxic.stream === stream);
  }

  private rebuildLinks(stream: Stream): void {
    const toxics = this.toxicsOf(stream);
    for (const connection of this.connections) connection.links?.[stream].rebuild(toxics);
  }

  private accept(client: net.Socket): void {
    const { host, port } = splitAddress(this.upstream, 'upstream');
    client.pause();
    const upstream = net.connect({ host, port, allowHalfOpen: true });
    // Nagle off on both hops, set explicitly: a request that arrives in two reads (a POST's
    // head and body) would otherwise wait for the peer's delayed ACK, up to 40 ms.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const connection: Connection = { client, upstream, links: null };
    this.connections.add(connection);
    const forget = () => {
      if (client.destroyed && upstream.destroyed) this.connections.delete(connection);
    };
    client.on('close', forget);
    upstream.on('close', forget);
    client.on('error', () => {});
    upstream.once('error', () => {
      // Upstream unreachable: the client connection is closed, as Toxiproxy does.
      if (!connection.links) client.destroy();
    });
    upstream.once('connect', () => {
      const control: LinkControl = {
        at: (dueNs) => this.scheduler.at(dueNs),
        reset: () => {
          client.resetAndDestroy();
          upstream.resetAndDestroy();
        },
      };
      connection.links = {
        upstream: new Link(client, upstream, this.toxicsOf('upstream'), control),
        downstream: new Link(upstream, client, this.toxicsOf('downstream'), control),
      };
      client.resume();
    });
  }
}

/** "host:port" (or "[v6]:port"); a bad address is a 400 naming the field. */
export function splitAddress(address: string, field: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw ERRORS.badBody(`${field} must be host:port, got "${address}"`);
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' || host === 'localhost' ? '127.0.0.1' : host, port };
}
