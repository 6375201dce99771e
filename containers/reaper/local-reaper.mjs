#!/usr/bin/env node
// @ts-check
// The local runtime's reaper: a small process that outlives the harness by design. The harness
// tells it, on stdin, which processes and temp dirs it started ("+pid N", "-pid N", "+dir P",
// "-dir P"). When stdin closes (the harness exited, crashed or was killed with -9), it stops
// what is still registered and removes the dirs. nginx has no parent-death option, so without
// this a `kill -9` of the harness would leave nginx running. It runs in its own process group
// and ignores SIGINT/SIGTERM: a terminal's Ctrl-C reaches the harness, which cleans up itself;
// the reaper only finishes what is left.
import fs from 'node:fs';
import readline from 'node:readline';

/** @type {Set<number>} */
const pids = new Set();
/** @type {Set<string>} */
const dirs = new Set();

process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const match = /^([+-])(pid|dir) (.+)$/.exec(line);
  if (!match) return;
  const [, sign, kind, value = ''] = match;
  if (kind === 'pid') {
    const pid = Number(value);
    if (Number.isInteger(pid) && pid > 1) sign === '+' ? pids.add(pid) : pids.delete(pid);
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
  process.exit(0);
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
