// The capture's pure parts: the pcap format both ways, the decoding of a packet, the clock
// anchors' pairing, and which request is a trial's.
import { describe, expect, it } from 'vitest';
import { readPcap, writePcap } from '../../src/capture/pcap-format.js';
import { decodePacket } from '../../src/capture/packet-decode.js';
import { ANCHOR_TAG, anchorPairs, MAX_BRACKET_MS, wallToMonotonic } from '../../src/capture/clock-anchors.js';
import { carriesTrial, trialPackets } from '../../src/capture/trial-packets.js';
import type { CaptureReading, CapturedPacket } from '../../src/capture/capture-reader.js';
import type { HistoryRecord, TrialRecord } from '../../src/history/records.js';

/** An Ethernet frame with an IPv4 TCP segment from 127.0.0.1:src to 127.0.0.1:dst. */
function tcpFrame(src: number, dst: number, flags: number, payload = ''): Buffer {
  const body = Buffer.from(payload, 'latin1');
  const ethernet = Buffer.alloc(14);
  ethernet.writeUInt16BE(0x0800, 12);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 20 + body.length, 2);
  ip[9] = 6;
  Buffer.from([127, 0, 0, 1]).copy(ip, 12);
  Buffer.from([127, 0, 0, 1]).copy(ip, 16);
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(src, 0);
  tcp.writeUInt16BE(dst, 2);
  tcp.writeUInt32BE(1000, 4);
  tcp.writeUInt32BE(2000, 8);
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  // Ethernet pads a short frame: the IP length, not the frame's, ends the payload.
  return Buffer.concat([ethernet, ip, tcp, body, Buffer.alloc(payload === '' ? 6 : 0)]);
}

describe('pcap files', () => {
  it('reads back what it writes, to the microsecond', () => {
    const packets = [{ wallMs: 1_764_960_000_123.456, length: 60, data: tcpFrame(40000, 8080, 0x02) }, { wallMs: 1_764_960_000_124.001, length: 60, data: tcpFrame(8080, 40000, 0x12) }];
    const read = readPcap(writePcap({ linkType: 1, snaplen: 512 }, packets));
    expect(read.linkType).toBe(1);
    expect(read.snaplen).toBe(512);
    expect(read.packets.map((p) => p.wallMs)).toEqual(packets.map((p) => p.wallMs));
    expect(read.packets[1]!.data.equals(packets[1]!.data)).toBe(true);
  });

  it('keeps the whole packets of a file cut short, and refuses what is no pcap file', () => {
    const bytes = writePcap({ linkType: 1, snaplen: 512 }, [{ wallMs: 1000, length: 60, data: tcpFrame(1, 2, 0x10) }, { wallMs: 2000, length: 60, data: tcpFrame(1, 2, 0x10) }]);
    expect(readPcap(bytes.subarray(0, bytes.length - 3)).packets).toHaveLength(1);
    expect(() => readPcap(Buffer.from('0a0d0d0a000000000000000000000000000000000000000000', 'hex'))).toThrow(/not a pcap file .*pcapng/);
  });
});

describe('decoding a packet', () => {
  it('gives the ports, the flags and the payload (without Ethernet padding)', () => {
    const fin = decodePacket(1, tcpFrame(35000, 3000, 0x11))!;
    expect(fin).toMatchObject({ protocol: 'tcp', src: '127.0.0.1', srcPort: 35000, dstPort: 3000, seq: 1000, ack: 2000, flags: { fin: true, ack: true, syn: false, rst: false } });
    expect(fin.payload.length).toBe(0);
    const request = decodePacket(1, tcpFrame(35000, 3000, 0x18, 'GET /?t=c0.5 HTTP/1.1\r\n\r\n'))!;
    expect(request.payload.toString()).toBe('GET /?t=c0.5 HTTP/1.1\r\n\r\n');
    expect(decodePacket(228, tcpFrame(1, 2, 0x10))).toBeNull();
  });
});

describe('the clock anchors', () => {
  const anchor = (wallMs: number, text: string) => ({ wallMs, payload: Buffer.from(`${ANCHOR_TAG}${text}`) });

  it('pair each anchor\'s wall stamp with the middle of the monotonic bracket the next one carries', () => {
    const pairs = anchorPairs([anchor(1_000_000, '0 -'), anchor(1_000_100, '1 0 500.00 500.04'), anchor(1_000_200, '2 1 600.1 600.12')]);
    expect(pairs).toEqual([{ wallMs: 1_000_000, monotonicMs: 500.02, errorMs: expect.closeTo(0.02, 6) }, { wallMs: 1_000_100, monotonicMs: 600.11, errorMs: expect.closeTo(0.01, 6) }]);
  });

  it('leave out a bracket the process was descheduled in, unless none is narrower', () => {
    const wide = `${MAX_BRACKET_MS * 3}`;
    expect(anchorPairs([anchor(10, '0 -'), anchor(20, `1 0 5 ${5 + Number(wide)}`), anchor(30, '2 1 15 15.01')])).toHaveLength(1);
    expect(anchorPairs([anchor(10, '0 -'), anchor(20, `1 0 5 ${5 + Number(wide)}`)])).toHaveLength(1);
  });

  it('interpolate the offset between anchors (a slewed wall clock) and hold it beyond them', () => {
    const toMonotonic = wallToMonotonic([{ wallMs: 1000, monotonicMs: 10 }, { wallMs: 2000, monotonicMs: 1010.2 }])!;
    expect(toMonotonic(1500)).toBeCloseTo(510.1, 6);
    expect(toMonotonic(500)).toBeCloseTo(-490, 6);
    expect(toMonotonic(3000)).toBeCloseTo(2010.2, 6);
    expect(wallToMonotonic([])).toBeNull();
  });
});

describe('a trial\'s request', () => {
  it('is the one whose request line carries t=ID, exactly', () => {
    expect(carriesTrial(Buffer.from('POST /lane/3/?t=c0.57 HTTP/1.1\r\nhost: x\r\n\r\n'), 'c0.57')).toBe(true);
    expect(carriesTrial(Buffer.from('POST /lane/3/?t=c0.571 HTTP/1.1\r\n'), 'c0.57')).toBe(false);
    expect(carriesTrial(Buffer.from('HTTP/1.1 200 OK\r\nx: t=c0.57\r\n'), 'c0.57')).toBe(false);
    expect(carriesTrial(Buffer.from('{"body":"GET /?t=c0.57 HTTP/1.1"}'), 'c0.57')).toBe(false);
  });
});

describe('a trial\'s packets, from a capture', () => {
  const PROXY = 8080;
  const UPSTREAM = 3000;
  let at = 0;
  /** A packet between 127.0.0.1 ports at `ms`, with TCP flags by name and a payload. */
  const packet = (ms: number, src: number, dst: number, flags: string, payload = ''): CapturedPacket => ({
    protocol: 'tcp', src: '127.0.0.1', dst: '127.0.0.1', srcPort: src, dstPort: dst, seq: at++, ack: 0,
    flags: { syn: flags.includes('S'), ack: flags.includes('A'), fin: flags.includes('F'), rst: flags.includes('R'), psh: payload !== '' },
    payload: Buffer.from(payload), atMs: ms, raw: { wallMs: ms, length: 60, data: Buffer.alloc(0) },
  });
  const capture = (packets: CapturedPacket[]): CaptureReading => ({
    record: { type: 'capture', group: 'g', file: 'capture/g.pcap', iface: 'lo', anchorPort: 9, ring: { files: 10, fileBytes: 1e6 }, snaplen: 512,
      listeners: [{ role: 'proxy', host: '127.0.0.1', port: PROXY }, { role: 'upstream', host: '127.0.0.1', port: UPSTREAM }] },
    linkType: 1, snaplen: 512, packets, files: [], anchors: 2, clockErrorMs: 0.01,
  });
  const trial = { type: 'trial', cell: 'c', id: 'c0.7', lane: 0, method: 'POST', boundary: 'upstream', intendedOffsetMs: 0, gapMs: 100, gapOffsetMs: 0, gapClock: 'upstream',
    receiptGapMs: 100, status: 502, errorClass: '502', latencyMs: 1, sentAt: 1100, endedAt: 1101 } satisfies TrialRecord;
  const history: HistoryRecord[] = [
    { type: 'upstream', t: 500, ev: 'open', conn: 3, peer: 40001 },
    { type: 'upstream', t: 990, ev: 'open', conn: 9, peer: 40002 },
  ];

  it('names the upstream\'s connection by its open event, keeps that connection\'s life only, and says the FIN crossed the request', () => {
    const found = trialPackets(capture([
      // An earlier connection on the same ports, closed long before: not this trial's.
      packet(100, 40002, UPSTREAM, 'S'), packet(101, 40002, UPSTREAM, 'FA'),
      packet(990, 40002, UPSTREAM, 'S'), packet(990.1, UPSTREAM, 40002, 'SA'),
      packet(999.9, UPSTREAM, 40002, 'A', 'HTTP/1.1 200 OK\r\n'),
      packet(1100.01, 50000, PROXY, 'A', 'POST /lane/0/?t=c0.7 HTTP/1.1\r\n'),
      packet(1100.03, UPSTREAM, 40002, 'FA'),
      packet(1100.04, 40002, UPSTREAM, 'A', 'POST /lane/0/?t=c0.7 HTTP/1.1\r\n'),
      packet(1100.05, UPSTREAM, 40002, 'R'),
      packet(1100.2, PROXY, 50000, 'A', 'HTTP/1.1 502 Bad Gateway\r\n'),
    ]), history, trial)!;
    expect(found.connections.map((c) => [c.from, c.to, c.upstreamConn])).toEqual([['client', 'proxy', undefined], ['proxy', 'upstream', 9]]);
    expect(found.packets.some((p) => p.atMs < 990)).toBe(false);
    expect(found.rows.map((row) => `${row.sender}>${row.receiver} ${row.what}`)).toEqual([
      'upstream>proxy HTTP/1.1 200 OK (17 bytes)',
      'client>proxy POST /lane/0/?t=c0.7 HTTP/1.1 (31 bytes)',
      'upstream>proxy FIN',
      'proxy>upstream POST /lane/0/?t=c0.7 HTTP/1.1 (31 bytes)',
      'upstream>proxy RST',
      'proxy>client HTTP/1.1 502 Bad Gateway (26 bytes)',
    ]);
    expect(found.findings).toEqual(['on connection 9 (127.0.0.1:40002 -> 127.0.0.1:3000): the upstream\'s FIN went out 0.010 ms before the proxy wrote the request: they crossed; the upstream answered the request with an RST 0.010 ms later.']);
  });

  it('finds nothing for a trial whose request the capture does not hold', () => {
    expect(trialPackets(capture([packet(1100, 50000, PROXY, 'A', 'POST /?t=c0.70 HTTP/1.1\r\n')]), history, trial)).toBeNull();
  });
});
