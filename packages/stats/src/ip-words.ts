import ipaddr from 'ipaddr.js';

/** Writes an IP as 4 int32 words of its IPv6 form (IPv4 as v4-mapped). Returns false if unparsable. */
export function ipToWords(ip: string, out: Int32Array, offset = 0): boolean {
  // Every handshake lands here: dotted IPv4 (most clients) skips the general parser.
  const v4 = parseDottedQuad(ip);
  if (v4 >= 0) {
    out[offset] = 0;
    out[offset + 1] = 0;
    out[offset + 2] = 0xffff;
    out[offset + 3] = v4 | 0;
    return true;
  }
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.parse(ip);
  } catch {
    return false;
  }
  const v6 = addr.kind() === 'ipv4' ? (addr as ipaddr.IPv4).toIPv4MappedAddress() : (addr as ipaddr.IPv6);
  const b = v6.toByteArray();
  for (let i = 0; i < 4; i++) {
    out[offset + i] = ((b[i * 4]! << 24) | (b[i * 4 + 1]! << 16) | (b[i * 4 + 2]! << 8) | b[i * 4 + 3]!) | 0;
  }
  return true;
}

/** The reverse of ipToWords; v4-mapped addresses come back as dotted IPv4. */
export function wordsToIp(words: Int32Array, offset = 0): string {
  const bytes: number[] = [];
  for (let i = 0; i < 4; i++) {
    const w = words[offset + i]! >>> 0;
    bytes.push((w >>> 24) & 0xff, (w >>> 16) & 0xff, (w >>> 8) & 0xff, w & 0xff);
  }
  const v6 = ipaddr.fromByteArray(bytes) as ipaddr.IPv6;
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address().toString() : v6.toString();
}

/** "a.b.c.d" with each part 0..255 and no leading zeros → the address as uint32, else -1. */
function parseDottedQuad(s: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46; // a virtual final '.'
    if (c === 46) {
      if (digits === 0 || parts === 4) return -1;
      value = value * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // leading zero: leave it to ipaddr.js
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else return -1;
  }
  return parts === 4 ? value : -1;
}
