// The few fields of a captured packet the ladder needs: the addresses and ports, TCP's flags and
// sequence numbers, and the payload. Ethernet (Linux's loopback and bridges) and Linux cooked
// captures (`-i any`), IPv4 and IPv6; anything else decodes to null and is left out.

export interface TcpFlags {
  syn: boolean;
  ack: boolean;
  fin: boolean;
  rst: boolean;
  psh: boolean;
}

export interface DecodedSegment {
  protocol: 'tcp' | 'udp';
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  /** TCP only: the sequence and acknowledgement numbers and the flags (UDP: zeros and none set). */
  seq: number;
  ack: number;
  flags: TcpFlags;
  payload: Buffer;
}

const LINK_ETHERNET = 1;
const LINK_LINUX_SLL = 113;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const NO_FLAGS: TcpFlags = { syn: false, ack: false, fin: false, rst: false, psh: false };

export function decodePacket(linkType: number, data: Buffer): DecodedSegment | null {
  let etherType: number;
  let offset: number;
  if (linkType === LINK_ETHERNET) {
    if (data.length < 14) return null;
    etherType = data.readUInt16BE(12);
    offset = 14;
  } else if (linkType === LINK_LINUX_SLL) {
    if (data.length < 16) return null;
    etherType = data.readUInt16BE(14);
    offset = 16;
  } else {
    return null;
  }
  if (etherType === ETHERTYPE_IPV4) return decodeIpv4(data, offset);
  if (etherType === ETHERTYPE_IPV6) return decodeIpv6(data, offset);
  return null;
}

function decodeIpv4(data: Buffer, offset: number): DecodedSegment | null {
  if (data.length < offset + 20) return null;
  const headerBytes = (data[offset]! & 0x0f) * 4;
  const totalLength = data.readUInt16BE(offset + 2);
  const protocol = data[offset + 9]!;
  const src = [...data.subarray(offset + 12, offset + 16)].join('.');
  const dst = [...data.subarray(offset + 16, offset + 20)].join('.');
  // The payload ends where the IP packet says (Ethernet may pad short frames).
  const end = Math.min(data.length, offset + totalLength);
  return decodeTransport(protocol, data.subarray(offset + headerBytes, end), src, dst);
}

function decodeIpv6(data: Buffer, offset: number): DecodedSegment | null {
  if (data.length < offset + 40) return null;
  const payloadLength = data.readUInt16BE(offset + 4);
  const nextHeader = data[offset + 6]!;
  const address = (at: number) => Array.from({ length: 8 }, (_, i) => data.readUInt16BE(at + 2 * i).toString(16)).join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
  const end = Math.min(data.length, offset + 40 + payloadLength);
  return decodeTransport(nextHeader, data.subarray(offset + 40, end), address(offset + 8), address(offset + 24));
}

function decodeTransport(protocol: number, segment: Buffer, src: string, dst: string): DecodedSegment | null {
  if (protocol === 6 && segment.length >= 20) {
    const flags = segment[13]!;
    return {
      protocol: 'tcp', src, dst, srcPort: segment.readUInt16BE(0), dstPort: segment.readUInt16BE(2),
      seq: segment.readUInt32BE(4), ack: segment.readUInt32BE(8),
      flags: { fin: (flags & 0x01) !== 0, syn: (flags & 0x02) !== 0, rst: (flags & 0x04) !== 0, psh: (flags & 0x08) !== 0, ack: (flags & 0x10) !== 0 },
      payload: segment.subarray((segment[12]! >> 4) * 4),
    };
  }
  if (protocol === 17 && segment.length >= 8) {
    return { protocol: 'udp', src, dst, srcPort: segment.readUInt16BE(0), dstPort: segment.readUInt16BE(2), seq: 0, ack: 0, flags: NO_FLAGS, payload: segment.subarray(8) };
  }
  return null;
}
