#!/usr/bin/env node
// @ts-check
// The harness's reaper: a small process that outlives the harness by design. The harness
// tells it, on stdin, which processes, temp dirs and Docker containers and networks it started
// ("+pid N", "-pid N", "+dir P", "-dir P", "+container SOCKET ID", "+network SOCKET ID", and
// "-" for each). When stdin closes (the harness exited, crashed or was killed with -9), it
// stops what is still registered, removes the dirs, and removes the containers and networks
// through the engine's socket (Testcontainers' Ryuk does the same, but one Ryuk serves every
// process on the machine and waits until all of them are gone). nginx has no parent-death option, so without
// this a `kill -9` of the harness would leave nginx running. It runs in its own process group
// and ignores SIGINT/SIGTERM: a terminal's Ctrl-C reaches the harness, which cleans up itself;
// the reaper only finishes what is left.
import fs from 'node:fs';
import http from 'node:http';
import readline from 'node:readline';

/** @type {Set<number>} */
const pids = new Set();
/** @type {Set<string>} */
const dirs = new Set();
/** Docker objects as "socket id" keys. @type {Set<string>} */
const containers = new Set();
/** @type {Set<string>} */
const networks = new Set();

process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const docker = /^([+-])(container|network) (\S+ [0-9a-f]+)$/.exec(line);
  if (docker) {
    const [, sign, kind, key = ''] = docker;
    const set = kind === 'container' ? containers : networks;
    sign === '+' ? set.add(key) : set.delete(key);
    return;
  }
  const match = /^([+-])(pid|dir) (.+)$/.exec(line);
  if (!match) return;
  const [, sign, kind, value = ''] = match;
  if (kind === 'pid') {
    const pid = Number(value);
    // A negative pid is a process group (a user's command run through a shell).
    if (Number.isInteger(pid) && (pid > 1 || pid < -1)) sign === '+' ? pids.add(pid) : pids.delete(pid);
  } else if (value.includes('keepalive-lab-')) {
    // Only the harness's own temp dirs, whatever a line says.
    sign === '+' ? dirs.add(value) : dirs.delete(value);
  }
});

process.stdin.on('close', reap);
process.stdin.on('end', reap);

let reaping = false;
async function reap() {
  if (reaping) return;
  reaping = true;
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + 2000;
  while ([...pids].some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  for (const pid of pids) if (alive(pid)) signal(pid, 'SIGKILL');
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  // Containers first: a network with containers attached cannot be removed.
  for (const key of containers) await dockerDelete(key, (id) => `/containers/${id}?force=1&v=1`);
  for (const key of networks) await dockerDelete(key, (id) => `/networks/${id}`);
  process.exit(0);
}

/** @param {string} key "socket id" @param {(id: string) => string} pathFor */
function dockerDelete(key, pathFor) {
  const [socketPath, id = ''] = key.split(' ');
  return new Promise((resolve) => {
    const request = http.request({ socketPath, method: 'DELETE', path: pathFor(id), timeout: 10_000 }, (response) => {
      response.resume();
      response.on('end', resolve);
    });
    request.on('error', resolve);
    request.on('timeout', () => request.destroy());
    request.end();
  });
}

/** @param {number} pid @param {NodeJS.Signals} name */
function signal(pid, name) {
  try {
    process.kill(pid, name);
  } catch { /* already gone */ }
}

/** @param {number} pid */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
