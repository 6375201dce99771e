// The TCP sockets a process tree listens on, read from /proc: for each process under the root,
// its socket inodes (/proc/PID/fd), matched against the LISTEN rows of /proc/net/tcp and tcp6.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export interface Listener {
  pid: number;
  address: string;
  port: number;
  loopback: boolean;
}

export function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "PID (comm) STATE PPID ...": comm may hold spaces and parentheses, so read after the last ')'.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, parent] of parents) if (parent === tree[i]) tree.push(pid);
  return tree;
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        const match = /^socket:\[(\d+)\]$/.exec(target);
        if (match) inodes.add(match[1]!);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // gone meanwhile
  }
  return inodes;
}

const LISTEN = '0A';

function listenRows(): { address: string; port: number; inode: string; loopback: boolean }[] {
  const rows: { address: string; port: number; inode: string; loopback: boolean }[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== LISTEN) continue;
      const [hexAddress = '', hexPort = ''] = fields[1]!.split(':');
      // IPv4 is one little-endian word ("0100007F" is 127.0.0.1, any 127/8 ends in 7F); in
      // tcp6, ::1 is "0...01000000" and ::ffff:127.x.y.z is "0000000000000000FFFF0000" + the word.
      const v4 = hexAddress.length === 8 ? hexAddress : hexAddress.startsWith('0000000000000000FFFF0000') ? hexAddress.slice(24) : null;
      const loopback = v4 !== null ? v4.endsWith('7F') : hexAddress === '00000000000000000000000001000000';
      rows.push({ address: hexAddress, port: parseInt(hexPort, 16), inode: fields[9]!, loopback });
    }
  }
  return rows;
}

/** Every socket the process tree under `root` listens on, now. */
export function listenersOf(root: number): Listener[] {
  const rows = listenRows();
  const found: Listener[] = [];
  for (const pid of processTree(root)) {
    const inodes = socketInodes(pid);
    for (const row of rows) if (inodes.has(row.inode)) found.push({ pid, address: row.address, port: row.port, loopback: row.loopback });
  }
  return found;
}

/**
 * Every listening socket of a child's process tree, sampled every 20 ms until it exits, with
 * its exit code and what it wrote on stderr.
 */
export async function listenersWhileRunning(child: ChildProcess): Promise<{ code: number | null; stderr: string; listeners: Listener[] }> {
  let stderr = '';
  child.stderr?.on('data', (part: Buffer) => { stderr += part.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const seen = new Map<string, Listener>();
  let running = true;
  void exited.then(() => { running = false; });
  while (running) {
    for (const listener of listenersOf(child.pid!)) seen.set(`${listener.pid}:${listener.address}:${listener.port}`, listener);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { code: await exited, stderr, listeners: [...seen.values()] };
}
