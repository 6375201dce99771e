// One trial's packets, picked out of its topology's capture: the client's request to the proxy
// and the answer, and every connection the proxy (or the fault layer) carried the request on,
// with that connection's previous answer, the upstream's FIN and the RST. Pure over a capture
// and the history. A request is recognized by its trial id (the target's t=ID).
import type { HistoryRecord, TrialRecord, UpstreamEventRecord, WireRole } from '../history/records.js';
import type { CaptureReading, CapturedPacket } from './capture-reader.js';

export type Party = WireRole | 'client';

export interface WireConnection {
  /** Who opened it and who listens. */
  from: Party;
  to: WireRole;
  /** The opener's port and the listener's (both on the capture's hosts). */
  fromAddress: string;
  toAddress: string;
  /** The upstream's number for it (its `open` event names the proxy's port), where known. */
  upstreamConn?: number;
  /** The trial's request went out on it. */
  carriedRequest: boolean;
}

export interface LadderRow {
  atMs: number;
  sender: Party;
  receiver: Party;
  connection: number;
  what: string;
  packet: CapturedPacket;
}

export interface TrialPackets {
  group: string;
  connections: WireConnection[];
  rows: LadderRow[];
  /** The connections' whole lives and the client's packets of this trial: `--pcap`. */
  packets: CapturedPacket[];
  /** What the packets say happened, in a sentence per connection the request went out on. */
  findings: string[];
}

/** From this long before the gap started to this long after the answer: the ladder's span. */
const BEFORE_MS = 1;
const AFTER_MS = 5;

/** Does this payload start a request for `trialId`? (Its request line carries t=ID.) */
export function carriesTrial(payload: Buffer, trialId: string): boolean {
  if (payload.length === 0) return false;
  const lineEnd = payload.indexOf('\r\n');
  const line = payload.subarray(0, lineEnd < 0 ? Math.min(payload.length, 512) : lineEnd).toString('latin1');
  const match = /^[A-Z]+ (\S+) HTTP\/1\.[01]$/.exec(line);
  if (!match) return false;
  const query = match[1]!.indexOf('?');
  return query >= 0 && new URLSearchParams(match[1]!.slice(query + 1)).get('t') === trialId;
}

const key = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);
const address = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/** The trial's packets in `capture`, or null when the capture holds no request of it. */
export function trialPackets(capture: CaptureReading, history: readonly HistoryRecord[], trial: TrialRecord): TrialPackets | null {
  const roles = new Map(capture.record.listeners.map((listener) => [address(listener.host, listener.port), listener.role]));
  const present = new Set(roles.values());
  // Who connects to each listener: the one before it in the chain client -> proxy -> tap (the
  // gate's) -> fault layer -> upstream, of those the topology runs.
  const chain = (['client', 'proxy', 'tap', 'fault layer', 'upstream'] as const).filter((party) => party === 'client' || present.has(party));
  const openerOf = (role: WireRole): Party => chain[chain.indexOf(role) - 1]!;
  const ends = (packet: CapturedPacket) => ({ src: address(packet.src, packet.srcPort), dst: address(packet.dst, packet.dstPort) });
  const requests = capture.packets.filter((packet) => roles.has(ends(packet).dst) && carriesTrial(packet.payload, trial.id));
  if (requests.length === 0) return null;
  const connections = new Map<string, WireConnection>();
  for (const request of requests) {
    const { src, dst } = ends(request);
    const to = roles.get(dst)!;
    connections.set(key(src, dst), { from: openerOf(to), to, fromAddress: src, toAddress: dst, carriedRequest: true });
  }
  const from = trial.sentAt - trial.gapMs - BEFORE_MS;
  const until = trial.endedAt + AFTER_MS;
  const order = [...connections.keys()];
  const inConnection = (packet: CapturedPacket) => order.indexOf(key(ends(packet).src, ends(packet).dst));
  const lives = order.map((k) => lifeAround(capture.packets.filter((packet) => key(ends(packet).src, ends(packet).dst) === k),
    requests.find((request) => key(ends(request).src, ends(request).dst) === k)!.atMs));
  const packets = capture.packets.filter((packet) => {
    const index = inConnection(packet);
    if (index < 0) return false;
    // The client's connection carries a lane's every trial: only this one's span of it.
    if (connections.get(order[index]!)!.from === 'client') return packet.atMs >= from && packet.atMs <= until;
    return packet.atMs >= lives[index]![0] && packet.atMs < lives[index]![1];
  });
  const upstreamEvents = history.filter((r): r is UpstreamEventRecord => r.type === 'upstream');
  // The connection events are the upstream's own, or in the gate the tap's (of the proxy's connections to it).
  const recorder: WireRole = present.has('tap') ? 'tap' : 'upstream';
  for (const connection of connections.values()) if (connection.to === recorder) nameUpstreamConnection(connection, upstreamEvents, requests[0]!.atMs);
  const rows = packets.filter((packet) => packet.atMs >= from && packet.atMs <= until && !isBareAck(packet)).map((packet): LadderRow => {
    const index = inConnection(packet);
    const connection = connections.get(order[index]!)!;
    const outbound = ends(packet).dst === connection.toAddress;
    return { atMs: packet.atMs, sender: outbound ? connection.from : connection.to, receiver: outbound ? connection.to : connection.from, connection: index, what: describePacket(packet), packet };
  });
  return { group: capture.record.group, connections: order.map((k) => connections.get(k)!), rows, packets, findings: findings(order.map((k) => connections.get(k)!), packets, trial, ends) };
}

/** The upstream (the gate's tap) numbers its connections and names the opener's port in their `open` event. */
function nameUpstreamConnection(connection: WireConnection, events: readonly UpstreamEventRecord[], requestAt: number): void {
  const port = Number(connection.fromAddress.slice(connection.fromAddress.lastIndexOf(':') + 1));
  // Ports are reused over a run: the last open from this port before the request.
  const open = events.filter((event) => event.ev === 'open' && event.peer === port && event.t <= requestAt + 1).at(-1);
  if (open) connection.upstreamConn = open.conn;
}

/**
 * The life of the connection that carried the request: from its SYN to the next connection's
 * on the same ports (a port is used again over a long run), as [from, until) ms.
 */
function lifeAround(packets: readonly CapturedPacket[], requestAt: number): [number, number] {
  const opens = packets.filter((packet) => packet.flags.syn && !packet.flags.ack).map((packet) => packet.atMs);
  return [opens.filter((at) => at <= requestAt).at(-1) ?? -Infinity, opens.find((at) => at > requestAt) ?? Infinity];
}

/** An ACK that carries nothing: left out of the ladder (kept in --pcap). */
function isBareAck(packet: CapturedPacket): boolean {
  const { syn, fin, rst } = packet.flags;
  return packet.payload.length === 0 && !syn && !fin && !rst;
}

function describePacket(packet: CapturedPacket): string {
  const { syn, ack, fin, rst } = packet.flags;
  const parts: string[] = [];
  if (syn) parts.push(ack ? 'SYN-ACK' : 'SYN');
  if (rst) parts.push('RST');
  if (packet.payload.length > 0) {
    const lineEnd = packet.payload.indexOf('\r\n');
    const first = packet.payload.subarray(0, lineEnd < 0 ? Math.min(80, packet.payload.length) : Math.min(lineEnd, 120)).toString('latin1');
    parts.push(/^(HTTP\/1\.[01] \d{3}|[A-Z]+ \S+ HTTP\/1\.[01])/.test(first) ? `${first} (${packet.payload.length} bytes)` : `${packet.payload.length} bytes of data`);
  }
  if (fin) parts.push('FIN');
  return parts.join(' + ');
}

function findings(connections: readonly WireConnection[], packets: readonly CapturedPacket[], trial: TrialRecord,
  ends: (packet: CapturedPacket) => { src: string; dst: string }): string[] {
  const sentences: string[] = [];
  for (const connection of connections) {
    if (connection.from === 'client' || !connection.carriedRequest) continue;
    const own = packets.filter((packet) => key(ends(packet).src, ends(packet).dst) === key(connection.fromAddress, connection.toAddress));
    const request = own.find((packet) => ends(packet).dst === connection.toAddress && carriesTrial(packet.payload, trial.id))!;
    const fin = own.find((packet) => packet.flags.fin && ends(packet).src === connection.toAddress);
    const reset = own.find((packet) => packet.flags.rst && ends(packet).src === connection.toAddress && packet.atMs >= request.atMs);
    const answered = own.some((packet) => ends(packet).src === connection.toAddress && packet.payload.length > 0 && packet.atMs >= request.atMs);
    // The tap relays the upstream's FIN and RST to the proxy: they are the upstream's.
    const closer = connection.to === 'tap' ? 'upstream' : connection.to;
    const relayed = connection.to === 'tap' ? ' (relayed by the tap)' : '';
    const name = connection.upstreamConn !== undefined ? `connection ${connection.upstreamConn} (${connection.fromAddress} -> ${connection.toAddress})` : `the connection ${connection.fromAddress} -> ${connection.toAddress}`;
    const finText = fin ? (fin.atMs <= request.atMs ? `the ${closer}'s FIN${relayed} went out ${(request.atMs - fin.atMs).toFixed(3)} ms before the ${connection.from} wrote the request: they crossed`
      : `the ${closer}'s FIN${relayed} came ${(fin.atMs - request.atMs).toFixed(3)} ms after the request`) : `no FIN from the ${closer}${relayed}`;
    const resetText = reset ? `the ${closer} answered the request with an RST${relayed} ${(reset.atMs - request.atMs).toFixed(3)} ms later` : '';
    const outcome = answered ? 'the request was answered' : reset && !fin && !relayed
      // A socket closed with data unread resets the connection: the request arrived as the idle close ran.
      ? `${resetText} (the request reached the ${closer}'s socket as it closed the idle connection, and a socket closed with unread data sends an RST, not a FIN)`
      : reset ? resetText : 'the request got no answer on it';
    sentences.push(`on ${name}: ${finText}; ${outcome}.`);
  }
  return sentences;
}
