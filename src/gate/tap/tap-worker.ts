// The connection tap's relay, in its own thread: the gate's client spins for the last
// milliseconds before each aim (precise-scheduler.ts), and a relay on that event loop would hold
// every other copy's requests and the upstream's closes for as long. It imports nothing but
// Node's own modules and the request reader (which imports nothing), so that the thread starts
// in milliseconds.
//
// It passes bytes and closes on as the kernel would have without it: a FIN goes on as a FIN
// (both sockets allow half-open, so neither side closes early), a reset goes on as a reset, and
// a request sent after the upstream closed is written to the upstream anyway, whose kernel then
// answers with the reset the proxy would have got. What it adds is a record of each connection,
// in the vocabulary of the harness's own upstream (containers/upstream/upstream-server.mjs).
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { RequestStream, trialOfTarget } from '../../workload/http-request.js';
// Types only (erased): the thread loads nothing of the harness.
import type { UpstreamEventRecord } from '../../history/records.js';

export interface TapWorkerData {
  upstreamHost: string;
  upstreamPort: number;
}

/**
 * What the tap saw, in the harness's upstream's own record (`t` in monotonic ms). Its closes say
 * who closed first: `server-idle` (the upstream, nothing outstanding), `server` (the upstream,
 * with a request outstanding), `server-reset`, `client` (the proxy) or `client-reset`; `idleMs`
 * is the time since the upstream's last bytes on the connection (null: it sent none).
 */
export type TapEvent = Omit<UpstreamEventRecord, 'type'>;

export type TapMessage = { kind: 'listening'; port: number } | { kind: 'events'; events: TapEvent[] } | { kind: 'error'; message: string };

const { upstreamHost, upstreamPort } = workerData as TapWorkerData;
const port = parentPort!;
const now = () => Number(process.hrtime.bigint()) / 1e6;
// Events leave in batches, once per turn of the loop: a message per event would cost more than the relay.
let batch: TapEvent[] = [];
function emit(event: TapEvent): void {
  if (batch.length === 0) setImmediate(flush);
  batch.push(event);
}
function flush(): void {
  const events = batch;
  batch = [];
  if (events.length > 0) port.postMessage({ kind: 'events', events } satisfies TapMessage);
}

let nextConn = 0;
const sockets = new Set<net.Socket>();
const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (proxySide) => {
  const conn = ++nextConn;
  emit({ t: now(), ev: 'open', conn, ...(proxySide.remotePort !== undefined ? { peer: proxySide.remotePort } : {}) });
  const upstream = net.connect({ host: upstreamHost, port: upstreamPort, allowHalfOpen: true, noDelay: true });
  sockets.add(proxySide).add(upstream);
  let closedBy: string | null = null;
  let closedAt = 0;
  /** The trial whose request waits for its answer (undefined: none). */
  let outstanding: string | undefined;
  let lastAnswerAt: number | null = null;
  let answered: string | null = null;
  const trialsIn = trialReader();

  proxySide.on('data', (data: Buffer) => {
    for (const trial of trialsIn(data)) {
      settleAnswer();
      emit({ t: now(), ev: 'request', conn, trial });
      outstanding = trial;
    }
    relay(data, upstream, proxySide);
  });
  upstream.on('data', (data: Buffer) => {
    lastAnswerAt = now();
    if (outstanding !== undefined) {
      answered = outstanding;
      outstanding = undefined;
    }
    relay(data, proxySide, upstream);
  });
  // The answer's last bytes went out at lastAnswerAt: recorded once the next request (or the
  // close) shows the answer was complete, so the event carries the time the connection went idle.
  const settleAnswer = () => {
    if (answered !== null && lastAnswerAt !== null) emit({ t: lastAnswerAt, ev: 'response', conn, trial: answered });
    answered = null;
  };
  // The close is timed, and told, when the first side ends it: for the upstream, the instant of
  // its close. Told then, not once both sockets are closed: through a fault layer the other side
  // closes only after its own round (measured: often more than the 20 ms the gate waits before
  // judging a burst), and a 502 judged without its close was blamed on something else.
  const closing = (by: string) => {
    if (closedBy !== null) return;
    closedBy = by;
    closedAt = now();
    settleAnswer();
    emit({ t: closedAt, ev: 'close', conn, by, idleMs: lastAnswerAt === null ? null : Math.round((closedAt - lastAnswerAt) * 1000) / 1000 });
  };
  upstream.on('end', () => {
    closing(outstanding !== undefined ? 'server' : 'server-idle');
    proxySide.end();
  });
  proxySide.on('end', () => {
    closing('client');
    upstream.end();
  });
  upstream.on('error', (error: NodeJS.ErrnoException) => {
    closing(error.code === 'ECONNREFUSED' ? 'refused' : 'server-reset');
    if (!proxySide.destroyed) proxySide.resetAndDestroy();
  });
  proxySide.on('error', () => {
    closing('client-reset');
    if (!upstream.destroyed) upstream.resetAndDestroy();
  });
  let open = 2;
  const closed = () => {
    if (--open > 0) return;
    sockets.delete(proxySide);
    sockets.delete(upstream);
    // Both sides gone without an end or an error seen first (destroyed): told now.
    closing('server');
  };
  upstream.on('close', closed);
  proxySide.on('close', closed);
});

/**
 * The trial ids of the requests each chunk of a connection completes. Requests are read as the
 * proxy frames them (http-request.ts); bytes that stop being HTTP are relayed unread, and no
 * request on them is recorded.
 */
function trialReader(): (data: Buffer) => string[] {
  let requests: RequestStream | null = new RequestStream();
  return (data) => {
    if (!requests) return [];
    const read = requests.push(data);
    if (read.invalid !== undefined) requests = null;
    return read.requests.flatMap((request) => trialOfTarget(request.target) ?? []);
  };
}

/**
 * Writes on, with backpressure: while `to` holds more than its buffer, `from` is not read (a
 * peer that does not read once let the other side fill the relay's memory, 213 MB for 200 MB).
 */
function relay(data: Buffer, to: net.Socket, from: net.Socket): void {
  if (to.write(data) || from.isPaused()) return;
  from.pause();
  to.once('drain', () => from.resume());
}

server.on('error', (error) => port.postMessage({ kind: 'error', message: error.message } satisfies TapMessage));
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as net.AddressInfo;
  port.postMessage({ kind: 'listening', port: address.port } satisfies TapMessage);
});
port.on('message', (message: { kind: 'stop' }) => {
  if (message.kind !== 'stop') return;
  server.close();
  // Open relays end with the run (the proxy and the upstream stop around it); the events said
  // so far leave first, then the port closes and the thread ends with nothing left to do.
  for (const socket of sockets) socket.destroy();
  flush();
  port.close();
});
