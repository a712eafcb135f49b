/**
 * CRC32 (IEEE, reflected 0xEDB88320) and CRC32-C (Castagnoli, reflected 0x82F63B78), the two
 * checksums of the Middle-End RPC packet trailer. Node has no CRC32-C, so both are table-driven
 * (slicing-by-8: eight bytes per step keeps the per-packet cost low on the ME hot path).
 */

export type CrcKind = 'crc32' | 'crc32c';

function buildTables(poly: number): Uint32Array {
  const t = new Uint32Array(256 * 8);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    let c = t[i]!;
    for (let s = 1; s < 8; s++) {
      c = (c >>> 8) ^ t[c & 0xff]!;
      t[s * 256 + i] = c >>> 0;
    }
  }
  return t;
}

const T32 = buildTables(0xedb88320);
const T32C = buildTables(0x82f63b78);

/** `prev` is a finished CRC of the preceding bytes (0 to start), so calls can be chained. */
function crcUpdate(t: Uint32Array, prev: number, buf: Uint8Array, start: number, end: number): number {
  let crc = ~prev >>> 0;
  let i = start;
  while (end - i >= 8) {
    crc ^= buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    crc =
      t[7 * 256 + (crc & 0xff)]! ^
      t[6 * 256 + ((crc >>> 8) & 0xff)]! ^
      t[5 * 256 + ((crc >>> 16) & 0xff)]! ^
      t[4 * 256 + (crc >>> 24)]! ^
      t[3 * 256 + buf[i + 4]!]! ^
      t[2 * 256 + buf[i + 5]!]! ^
      t[256 + buf[i + 6]!]! ^
      t[buf[i + 7]!]!;
    i += 8;
  }
  while (i < end) crc = t[(crc ^ buf[i++]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

export type CrcFunction = (buf: Uint8Array, start: number, end: number, prev: number) => number;

const jsCrc32: CrcFunction = (buf, start, end, prev) => crcUpdate(T32, prev, buf, start, end);
const jsCrc32c: CrcFunction = (buf, start, end, prev) => crcUpdate(T32C, prev, buf, start, end);
let fast32 = jsCrc32;
let fast32c = jsCrc32c;

/**
 * Swaps in faster implementations (the edge installs zlib's CRC32 and a hardware CRC32-C from its
 * native addon); this package stays free of native code. Pass {} to go back to the tables.
 */
export function useCrcAccelerator(acc: { readonly crc32?: CrcFunction; readonly crc32c?: CrcFunction }): void {
  fast32 = acc.crc32 ?? jsCrc32;
  fast32c = acc.crc32c ?? jsCrc32c;
}

export function crc32(buf: Uint8Array, start = 0, end: number = buf.length, prev = 0): number {
  return fast32(buf, start, end, prev);
}

export function crc32c(buf: Uint8Array, start = 0, end: number = buf.length, prev = 0): number {
  return fast32c(buf, start, end, prev);
}

export function rpcCrc(kind: CrcKind, buf: Uint8Array, start = 0, end: number = buf.length): number {
  return kind === 'crc32c' ? fast32c(buf, start, end, 0) : fast32(buf, start, end, 0);
}
