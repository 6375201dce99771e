// The sockets a process tree listens on, read from /proc: for each process under the root, its
// socket inodes (/proc/PID/fd), matched against the LISTEN rows of /proc/net/tcp and tcp6 and
// the unconnected bound rows of /proc/net/udp and udp6 (a QUIC listener is one). Linux only:
// elsewhere there is no /proc and nothing is found.
import fs from 'node:fs';

export interface Listener {
  pid: number;
  protocol: 'tcp' | 'udp';
  /** The local address as /proc writes it (hex); `shown` is the readable form. */
  address: string;
  shown: string;
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

/** TCP_LISTEN; an unconnected UDP socket is in TCP_CLOSE (07) with a zero remote address. */
const LISTEN = '0A';
const UDP_UNCONNECTED = '07';
const V4_MAPPED = '0000000000000000FFFF0000';

interface ListenRow { protocol: 'tcp' | 'udp'; address: string; shown: string; port: number; inode: string; loopback: boolean }

function listenRows(): ListenRow[] {
  const rows: ListenRow[] = [];
  for (const [file, protocol] of [['/proc/net/tcp', 'tcp'], ['/proc/net/tcp6', 'tcp'], ['/proc/net/udp', 'udp'], ['/proc/net/udp6', 'udp']] as const) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6, or no /proc
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      if (protocol === 'tcp' ? fields[3] !== LISTEN : fields[3] !== UDP_UNCONNECTED || !/^0+:0+$/.test(fields[2]!)) continue;
      const [hexAddress = '', hexPort = ''] = fields[1]!.split(':');
      // IPv4 is one little-endian word ("0100007F" is 127.0.0.1, any 127/8 ends in 7F); in
      // tcp6, ::1 is "0...01000000" and ::ffff:127.x.y.z is "0000000000000000FFFF0000" + the word.
      const v4 = hexAddress.length === 8 ? hexAddress : hexAddress.startsWith(V4_MAPPED) ? hexAddress.slice(24) : null;
      const loopback = v4 !== null ? v4.endsWith('7F') : hexAddress === '00000000000000000000000001000000';
      rows.push({ protocol, address: hexAddress, shown: readable(hexAddress, v4), port: parseInt(hexPort, 16), inode: fields[9]!, loopback });
    }
  }
  return rows;
}

/** 0100007F -> 127.0.0.1; an IPv6 address as its eight groups (each 32-bit word is little-endian). */
function readable(hex: string, v4: string | null): string {
  if (v4 !== null) return [6, 4, 2, 0].map((at) => parseInt(v4.slice(at, at + 2), 16)).join('.');
  const groups: string[] = [];
  for (let word = 0; word < 4; word++) {
    const bytes = hex.slice(word * 8, word * 8 + 8).match(/../g)!.reverse().join('');
    groups.push(bytes.slice(0, 4), bytes.slice(4, 8));
  }
  // The URL parser writes an IPv6 address in its short form ([::], [::1]).
  return new URL(`http://[${groups.join(':')}]/`).hostname;
}

/** Every socket the process tree under `root` listens on, now. */
export function listenersOf(root: number): Listener[] {
  const rows = listenRows();
  const found: Listener[] = [];
  for (const pid of processTree(root)) {
    const inodes = socketInodes(pid);
    for (const row of rows) if (inodes.has(row.inode)) found.push({ pid, protocol: row.protocol, address: row.address, shown: row.shown, port: row.port, loopback: row.loopback });
  }
  return found;
}
