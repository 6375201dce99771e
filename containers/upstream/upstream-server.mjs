#!/usr/bin/env node
// @ts-check
// The upstream under test: a plain Node HTTP/1.1 server whose idle keep-alive close is the
// thing being measured. It is plain JavaScript with no dependencies so that the same file runs
// under `node` locally, under any Node version, and inside a container image.
//
// Settings come from flags or environment variables (flags win):
//   --port / PORT                       port to listen on (0 = any free port)
//   --host / HOST                       address to bind (default 127.0.0.1)
//   --keep-alive-timeout / KEEP_ALIVE_TIMEOUT   idle keep-alive timeout K in ms (default 5000)
//   --headers-timeout / HEADERS_TIMEOUT         server.headersTimeout in ms (default Node's)
//   --close-mode / CLOSE_MODE          stock: Node's own keep-alive handling (whatever this Node
//                                      does, e.g. v20 closes at K + 1000 ms);
//                                      exact: close an idle connection K ms after its last response
//   --close-style / CLOSE_STYLE        fin (default) or rst, for the exact mode's idle close
//   --response-delay / RESPONSE_DELAY  ms to wait before answering (default 0)
//   --body-size / BODY_SIZE            response body bytes (default 3)
//   --events / EVENTS                  file for connection events as JSON lines, '-' for stdout
//   --exit-with-stdin                  exit when stdin closes (the harness died)
//
// Each response carries `x-keepalive-lab-sent-ns`: process.hrtime (CLOCK_MONOTONIC, shared by
// every process on the machine) in ns when it was written. Event times `t` are the same clock
// in ms. (performance.timeOrigin is not shared: two processes here disagreed by 1.2 ms.)
// Ready signal: one JSON line {"event":"listening","port":N,...} on stdout.
// Events: {"t":monotonicMs,"ev":"open"|"request"|"response"|"close","conn":N,...}; a request
// carries the trial id from the `t` query parameter, a close says who closed.
import http from 'node:http';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'keep-alive-timeout': { type: 'string' },
    'headers-timeout': { type: 'string' },
    'close-mode': { type: 'string' },
    'close-style': { type: 'string' },
    'response-delay': { type: 'string' },
    'body-size': { type: 'string' },
    events: { type: 'string' },
    'exit-with-stdin': { type: 'boolean' },
  },
  strict: true,
});

/** @param {string} flag @param {string} env */
function setting(flag, env) {
  const fromFlag = /** @type {Record<string, string | boolean | undefined>} */ (flags)[flag];
  return typeof fromFlag === 'string' ? fromFlag : process.env[env];
}

/** @param {string} flag @param {string} env @param {number | undefined} fallback */
function intSetting(flag, env, fallback) {
  const raw = setting(flag, env);
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) fail(`--${flag} must be a non-negative integer, got "${raw}"`);
  return value;
}

/** @param {string} message @returns {never} */
function fail(message) {
  process.stderr.write(`upstream-server: ${message}\n`);
  process.exit(2);
}

const port = intSetting('port', 'PORT', 0) ?? 0;
const host = setting('host', 'HOST') || '127.0.0.1';
const keepAliveTimeout = intSetting('keep-alive-timeout', 'KEEP_ALIVE_TIMEOUT', 5000) ?? 5000;
const headersTimeout = intSetting('headers-timeout', 'HEADERS_TIMEOUT', undefined);
const closeMode = setting('close-mode', 'CLOSE_MODE') || 'stock';
const closeStyle = setting('close-style', 'CLOSE_STYLE') || 'fin';
const responseDelay = intSetting('response-delay', 'RESPONSE_DELAY', 0) ?? 0;
const bodySize = intSetting('body-size', 'BODY_SIZE', 3) ?? 3;
const eventsTarget = setting('events', 'EVENTS');

if (closeMode !== 'stock' && closeMode !== 'exact') fail(`--close-mode must be stock or exact, got "${closeMode}"`);
if (closeStyle !== 'fin' && closeStyle !== 'rst') fail(`--close-style must be fin or rst, got "${closeStyle}"`);
if (closeMode === 'stock' && closeStyle === 'rst') fail('--close-style rst needs --close-mode exact (stock Node always closes with FIN)');

const SENT_AT_HEADER = 'x-keepalive-lab-sent-ns';
const monotonicMs = () => Math.round(Number(process.hrtime.bigint()) / 1000) / 1000;
const body = Buffer.alloc(bodySize, 'k');
if (bodySize >= 1) body[bodySize - 1] = 0x0a;

// Events are buffered by the stream: a write per event would cost a syscall on the hot path.
const eventSink = eventsTarget === '-' ? process.stdout
  : eventsTarget ? fs.createWriteStream(eventsTarget, { flags: 'a' }) : null;
/** @param {Record<string, unknown>} event */
function emit(event) {
  if (eventSink) eventSink.write(JSON.stringify({ t: monotonicMs(), ...event }) + '\n');
}

const server = http.createServer();
// exact mode owns the idle timer, so Node's own (keepAliveTimeout + its buffer) is switched off.
server.keepAliveTimeout = closeMode === 'exact' ? 0 : keepAliveTimeout;
if (headersTimeout !== undefined) {
  server.headersTimeout = headersTimeout;
  if (server.requestTimeout > 0 && server.requestTimeout < headersTimeout) server.requestTimeout = headersTimeout;
}

let nextConnId = 0;
/** @type {WeakMap<import('node:net').Socket, {id: number, idleTimer: NodeJS.Timeout | NodeJS.Immediate | null, closedBy: string | null, lastResponseEnd: number}>} */
const connections = new WeakMap();

/** Open sockets: shutdown waits for their close events before it ends the event file. */
const openSockets = new Set();

server.on('connection', (socket) => {
  openSockets.add(socket);
  socket.on('close', () => openSockets.delete(socket));
  const conn = { id: ++nextConnId, idleTimer: /** @type {NodeJS.Timeout | NodeJS.Immediate | null} */ (null), closedBy: /** @type {string | null} */ (null), lastResponseEnd: 0 };
  connections.set(socket, conn);
  emit({ ev: 'open', conn: conn.id, peer: socket.remotePort });
  // Who closed: a FIN from the peer first means the client closed; Node's keep-alive timeout
  // fires the socket's 'timeout' event before the server destroys it.
  socket.on('end', () => { conn.closedBy ??= 'client'; });
  socket.on('timeout', () => { conn.closedBy ??= 'server-idle'; });
  socket.on('error', (err) => { conn.closedBy ??= /** @type {NodeJS.ErrnoException} */ (err).code === 'ECONNRESET' ? 'client-reset' : 'error'; });
  socket.on('close', () => {
    cancelIdleClose(conn);
    const idleMs = conn.lastResponseEnd ? Math.round((performance.now() - conn.lastResponseEnd) * 1000) / 1000 : null;
    emit({ ev: 'close', conn: conn.id, by: conn.closedBy ?? 'server', idleMs });
  });
});

server.on('request', (req, res) => {
  const socket = req.socket;
  const conn = connections.get(socket);
  if (!conn) return;
  cancelIdleClose(conn);
  const url = req.url ?? '/';
  const q = url.indexOf('t=');
  const trial = q >= 0 ? url.slice(q + 2).split('&')[0] : undefined;
  emit({ ev: 'request', conn: conn.id, method: req.method, trial });
  req.resume();
  req.on('end', () => {
    const answer = () => {
      // When this response left, on the shared monotonic clock: the harness measures a
      // connection's idle age from here, free of the proxy's and its own delay in passing it on.
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, [SENT_AT_HEADER]: String(process.hrtime.bigint()) });
      res.end(body);
    };
    if (responseDelay > 0) setTimeout(answer, responseDelay); else answer();
  });
  res.on('finish', () => {
    conn.lastResponseEnd = performance.now();
    emit({ ev: 'response', conn: conn.id, trial });
    if (closeMode === 'exact' && !socket.destroyed) armIdleClose(socket, conn, performance.now() + keepAliveTimeout);
  });
});

/**
 * Closes the idle connection at `deadline` (performance.now() ms): never before it, and late
 * by a fraction of a millisecond rather than a timer tick. A setTimeout fires up to a tick
 * early or late (libuv counts whole milliseconds from a cached loop time), so the timer aims
 * at the last whole millisecond and the remainder, if any, is waited out with setImmediate
 * (I/O still runs in between). Measured here: a plain setTimeout(K) closed at K + 2.2 ms.
 * @param {import('node:net').Socket} socket
 * @param {{idleTimer: NodeJS.Timeout | NodeJS.Immediate | null, closedBy: string | null}} conn
 * @param {number} deadline
 */
function armIdleClose(socket, conn, deadline) {
  const remaining = deadline - performance.now();
  const check = () => {
    conn.idleTimer = null;
    if (performance.now() < deadline) return armIdleClose(socket, conn, deadline);
    conn.closedBy ??= 'server-idle';
    if (closeStyle === 'rst') socket.resetAndDestroy(); else socket.destroy();
  };
  conn.idleTimer = remaining >= 1 ? setTimeout(check, Math.floor(remaining)) : setImmediate(check);
}

/** @param {{idleTimer: NodeJS.Timeout | NodeJS.Immediate | null}} conn */
function cancelIdleClose(conn) {
  if (!conn.idleTimer) return;
  if ('hasRef' in conn.idleTimer && 'refresh' in conn.idleTimer) clearTimeout(/** @type {NodeJS.Timeout} */ (conn.idleTimer));
  else clearImmediate(/** @type {NodeJS.Immediate} */ (conn.idleTimer));
  conn.idleTimer = null;
}

server.listen(port, host, () => {
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  process.stdout.write(JSON.stringify({
    event: 'listening', port: actualPort, host, node: process.version, closeMode, closeStyle,
    keepAliveTimeout, headersTimeout: server.headersTimeout,
  }) + '\n');
});
server.on('error', (err) => fail(`cannot listen on ${host}:${port}: ${err.message}`));

let shuttingDown = false;
function shutdown() {
  if (shuttingDown) return;
  shuttingDown = true;
  server.close();
  server.closeAllConnections();
  const finish = () => process.exit(0);
  // The sockets just destroyed tell their close on a later turn of the loop: wait for those
  // events (at most a second) before ending the file, or the last closes of a run are lost.
  const deadline = Date.now() + 1000;
  const endEvents = () => {
    if (openSockets.size > 0 && Date.now() < deadline) {
      setTimeout(endEvents, 5);
      return;
    }
    if (eventSink && eventSink !== process.stdout) /** @type {fs.WriteStream} */ (eventSink).end(finish);
    else finish();
  };
  endEvents();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (flags['exit-with-stdin']) {
  process.stdin.on('end', shutdown);
  process.stdin.on('close', shutdown);
  process.stdin.resume();
}
