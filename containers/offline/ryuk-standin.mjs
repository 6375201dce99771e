// A stand-in for Testcontainers' Ryuk reaper, for machines that cannot pull testcontainers/ryuk.
// The protocol is Ryuk's: a TCP server on 8080; each line a client sends is a filter
// ("label=key=value&label=key2=value2"), answered "ACK". Once the last client has been gone for
// RYUK_RECONNECTION_TIMEOUT (default 10s), every container, network and volume matching any
// filter is removed through the Docker socket, and the stand-in exits. Testcontainers starts it
// with the socket mounted at /var/run/docker.sock and removes its container when it exits.
// @ts-check
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { parseFilterLine } from './ryuk-filter.mjs';

// RYUK_PORT as in Ryuk; RYUK_DOCKER_SOCKET (the stand-in's own) lets a test give it a fake engine.
const SOCKET = process.env.RYUK_DOCKER_SOCKET ?? '/var/run/docker.sock';
const PORT = Number(process.env.RYUK_PORT ?? '8080');
const reconnectionMs = durationMs(process.env.RYUK_RECONNECTION_TIMEOUT ?? '10s');
const connectionMs = durationMs(process.env.RYUK_CONNECTION_TIMEOUT ?? '60s');
const verbose = process.env.RYUK_VERBOSE === 'true';

/** @type {Map<string, Record<string, string[]>>} filters by their line */
const filters = new Map();
let clients = 0;
let pruneTimer = setTimeout(pruneAndExit, connectionMs);

const server = net.createServer((socket) => {
  clients++;
  clearTimeout(pruneTimer);
  let pending = '';
  socket.on('data', (chunk) => {
    pending += chunk.toString('utf8');
    let newline;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line === '') continue;
      // A line that is not a label filter is refused: taken as a filter it would match everything.
      const parsed = parseFilterLine(line);
      if ('error' in parsed) {
        log(`refused filter ${JSON.stringify(line)}: ${parsed.error}`);
        socket.write(`ERROR ${parsed.error}\n`);
        continue;
      }
      filters.set(line, parsed.filter);
      if (verbose) log(`filter ${line}`);
      socket.write('ACK\n');
    }
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    clients--;
    if (clients === 0) pruneTimer = setTimeout(pruneAndExit, reconnectionMs);
  });
});
server.listen(PORT, () => log('Started'));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => { void pruneAndExit(); });

async function pruneAndExit() {
  server.close();
  // Its own container carries the session label too; it is removed by Docker when it exits.
  const self = os.hostname();
  let removed = 0;
  for (const filter of filters.values()) {
    const query = `filters=${encodeURIComponent(JSON.stringify(filter))}`;
    const containers = await docker('GET', `/containers/json?all=1&${query}`);
    for (const container of containers ?? []) {
      if (container.Id.startsWith(self)) continue;
      await docker('DELETE', `/containers/${container.Id}?force=1&v=1`);
      removed++;
    }
  }
  for (const filter of filters.values()) {
    const query = `filters=${encodeURIComponent(JSON.stringify(filter))}`;
    for (const network of (await docker('GET', `/networks?${query}`)) ?? []) {
      await docker('DELETE', `/networks/${network.Id}`);
      removed++;
    }
    const volumes = await docker('GET', `/volumes?${query}`);
    for (const volume of volumes?.Volumes ?? []) {
      await docker('DELETE', `/volumes/${encodeURIComponent(volume.Name)}`);
      removed++;
    }
  }
  log(`Removed ${removed} resources`);
  process.exit(0);
}

/**
 * One Docker Engine API call over the socket; JSON answer, or null on any error.
 * @param {string} method @param {string} path @returns {Promise<any>}
 */
function docker(method, path) {
  return new Promise((resolve) => {
    const request = http.request({ socketPath: SOCKET, method, path }, (response) => {
      let body = '';
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => {
        if ((response.statusCode ?? 500) >= 300) {
          log(`${method} ${path}: ${response.statusCode} ${body.trim()}`);
          resolve(null);
          return;
        }
        try { resolve(body ? JSON.parse(body) : {}); } catch { resolve({}); }
      });
    });
    request.on('error', (error) => { log(`${method} ${path}: ${error.message}`); resolve(null); });
    request.end();
  });
}

/** Ryuk's durations: "2s", "500ms", "1m". @param {string} text */
function durationMs(text) {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) return 10_000;
  const unit = match[2] === 'ms' ? 1 : match[2] === 'm' ? 60_000 : 1000;
  return Number(match[1]) * unit;
}

/** @param {string} message */
function log(message) {
  process.stdout.write(`${new Date().toISOString()} ${message}\n`);
}
