// The classic pcap file format (what tcpdump -w writes and Wireshark opens): a 24-byte header,
// then per packet a 16-byte record header and the captured bytes. Read and written here in a
// few lines rather than with an npm package: the ones there are bind libpcap natively or have
// not been maintained for years, and this format has not changed since 1998.

export interface PcapFile {
  /** The link layer (1: Ethernet, which Linux gives its loopback and bridges). */
  linkType: number;
  snaplen: number;
  packets: PcapPacket[];
}

export interface PcapPacket {
  /** When the kernel saw it: ms since the Unix epoch (the wall clock), to the microsecond. */
  wallMs: number;
  /** The packet's length on the wire (the capture may hold less: the snap length). */
  length: number;
  data: Buffer;
}

const MAGIC_MICROS = 0xa1b2c3d4;
const MAGIC_NANOS = 0xa1b23c4d;
const FILE_HEADER_BYTES = 24;
const RECORD_HEADER_BYTES = 16;

/** Parses a pcap file; a file cut short (a capture still being written) yields the whole packets. */
export function readPcap(bytes: Buffer): PcapFile {
  if (bytes.length < FILE_HEADER_BYTES) throw new Error(`not a pcap file: ${bytes.length} bytes, shorter than its header`);
  const magicLe = bytes.readUInt32LE(0);
  const littleEndian = magicLe === MAGIC_MICROS || magicLe === MAGIC_NANOS;
  const magic = littleEndian ? magicLe : bytes.readUInt32BE(0);
  if (magic !== MAGIC_MICROS && magic !== MAGIC_NANOS) throw new Error(`not a pcap file (magic 0x${magicLe.toString(16)}); pcapng is not read here: write with tcpdump -w`);
  const u32 = (offset: number) => (littleEndian ? bytes.readUInt32LE(offset) : bytes.readUInt32BE(offset));
  const fractionMs = magic === MAGIC_NANOS ? 1e-6 : 1e-3;
  const packets: PcapPacket[] = [];
  let offset = FILE_HEADER_BYTES;
  while (offset + RECORD_HEADER_BYTES <= bytes.length) {
    const captured = u32(offset + 8);
    const end = offset + RECORD_HEADER_BYTES + captured;
    if (end > bytes.length) break;
    packets.push({ wallMs: u32(offset) * 1000 + u32(offset + 4) * fractionMs, length: u32(offset + 12), data: bytes.subarray(offset + RECORD_HEADER_BYTES, end) });
    offset = end;
  }
  return { linkType: u32(20), snaplen: u32(16), packets };
}

/** Writes packets as a microsecond pcap file (little-endian, version 2.4). */
export function writePcap(file: Omit<PcapFile, 'packets'>, packets: readonly PcapPacket[]): Buffer {
  const header = Buffer.alloc(FILE_HEADER_BYTES);
  header.writeUInt32LE(MAGIC_MICROS, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(file.snaplen, 16);
  header.writeUInt32LE(file.linkType, 20);
  const records = packets.map((packet) => {
    const record = Buffer.alloc(RECORD_HEADER_BYTES);
    const seconds = Math.floor(packet.wallMs / 1000);
    const micros = Math.min(999_999, Math.round((packet.wallMs - seconds * 1000) * 1000));
    record.writeUInt32LE(seconds, 0);
    record.writeUInt32LE(micros, 4);
    record.writeUInt32LE(packet.data.length, 8);
    record.writeUInt32LE(packet.length, 12);
    return Buffer.concat([record, packet.data]);
  });
  return Buffer.concat([header, ...records]);
}
