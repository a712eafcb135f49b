import ipaddr from 'ipaddr.js';

/** Writes an IP as 4 int32 words of its IPv6 form (IPv4 as v4-mapped). Returns false if unparsable. */
export function ipToWords(ip: string, out: Int32Array, offset = 0): boolean {
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
