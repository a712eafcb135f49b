import { Buffer } from 'node:buffer';
import { ProxyProtocolError } from './errors.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './ip.js';

// HAProxy PROXY protocol spec (proxy-protocol.txt): v1 §2.1, v2 §2.2.
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** v1 lines are at most 107 bytes including CRLF (spec §2.1). */
export const PROXY_V1_MAX_LEN = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_HEADER_LEN = 16;
/** Our cap on the v2 address+TLV block; addresses need <= 216, the rest is TLVs we skip. */
export const PROXY_V2_MAX_BODY = 4096;

export interface ProxyAddress {
  address: string;
  port: number;
}

export type ProxyHeaderResult =
  | { status: 'incomplete' }
  | { status: 'not_proxy' }
  | {
      status: 'ok';
      consumed: number;
      version: 1 | 2;
      source: ProxyAddress | undefined;
      destination: ProxyAddress | undefined;
    };

/** 'yes' = full signature present, 'maybe' = buffer is a proper prefix of it, 'no' = mismatch. */
function matchPrefix(buf: Uint8Array, sig: Uint8Array): 'yes' | 'maybe' | 'no' {
  const n = Math.min(buf.length, sig.length);
  for (let i = 0; i < n; i++) if (buf[i] !== sig[i]) return 'no';
  return buf.length >= sig.length ? 'yes' : 'maybe';
}

function parsePort(s: string): number {
  if (!/^(?:0|[1-9][0-9]{0,4})$/.test(s)) throw new ProxyProtocolError(`bad PROXY v1 port ${JSON.stringify(s)}`);
  const v = Number(s);
  if (v > 65535) throw new ProxyProtocolError(`PROXY v1 port ${v} out of range`);
  return v;
}

function parseV1(buf: Uint8Array): ProxyHeaderResult {
  const limit = Math.min(buf.length, PROXY_V1_MAX_LEN);
  let end = -1;
  for (let i = V1_PREFIX.length; i + 1 < limit; i++) {
    if (buf[i] === 0x0d && buf[i + 1] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end === -1) {
    if (buf.length < PROXY_V1_MAX_LEN) {
      // Only printable ASCII can appear before CRLF; anything else is already broken.
      for (let i = 0; i < buf.length; i++) {
        const c = buf[i] as number;
        if ((c < 0x20 || c > 0x7e) && !(c === 0x0d && i === buf.length - 1)) {
          throw new ProxyProtocolError('PROXY v1 line contains a non-printable byte');
        }
      }
      return { status: 'incomplete' };
    }
    throw new ProxyProtocolError(`PROXY v1 line longer than ${PROXY_V1_MAX_LEN} bytes`);
  }
  const line = Buffer.from(buf.buffer, buf.byteOffset, end).toString('latin1');
  if (!/^[\x20-\x7e]*$/.test(line)) throw new ProxyProtocolError('PROXY v1 line contains a non-printable byte');
  const fields = line.split(' ');
  const consumed = end + 2;
  const proto = fields[1];
  if (proto === 'UNKNOWN') {
    // Spec: the receiver must ignore everything after UNKNOWN.
    return { status: 'ok', consumed, version: 1, source: undefined, destination: undefined };
  }
  if (fields.length !== 6 || (proto !== 'TCP4' && proto !== 'TCP6')) {
    throw new ProxyProtocolError('PROXY v1 line is not "PROXY TCP4|TCP6 src dst sport dport"');
  }
  const [, , srcS, dstS, sportS, dportS] = fields as [string, string, string, string, string, string];
  let src: string;
  let dst: string;
  if (proto === 'TCP4') {
    const a = parseIpv4(srcS);
    const b = parseIpv4(dstS);
    if (a === undefined || b === undefined) throw new ProxyProtocolError('bad PROXY v1 IPv4 address');
    src = formatIpv4(a);
    dst = formatIpv4(b);
  } else {
    const a = parseIpv6(srcS);
    const b = parseIpv6(dstS);
    if (a === undefined || b === undefined) throw new ProxyProtocolError('bad PROXY v1 IPv6 address');
    src = formatIpv6(a);
    dst = formatIpv6(b);
  }
  return {
    status: 'ok',
    consumed,
    version: 1,
    source: { address: src, port: parsePort(sportS) },
    destination: { address: dst, port: parsePort(dportS) },
  };
}

function parseV2(buf: Uint8Array): ProxyHeaderResult {
  if (buf.length < V2_HEADER_LEN) return { status: 'incomplete' };
  const verCmd = buf[12] as number;
  if (verCmd >> 4 !== 2) throw new ProxyProtocolError(`PROXY v2 version nibble ${verCmd >> 4} is not 2`);
  const cmd = verCmd & 0x0f;
  if (cmd > 1) throw new ProxyProtocolError(`PROXY v2 command ${cmd} unknown`);
  const famProto = buf[13] as number;
  const bodyLen = ((buf[14] as number) << 8) | (buf[15] as number);
  if (bodyLen > PROXY_V2_MAX_BODY) throw new ProxyProtocolError(`PROXY v2 body ${bodyLen} exceeds cap ${PROXY_V2_MAX_BODY}`);
  const consumed = V2_HEADER_LEN + bodyLen;
  if (buf.length < consumed) return { status: 'incomplete' };
  const none = { status: 'ok', consumed, version: 2, source: undefined, destination: undefined } as const;
  if (cmd === 0) return none; // LOCAL: health checks from the balancer itself
  const body = Buffer.from(buf.buffer, buf.byteOffset + V2_HEADER_LEN, bodyLen);
  const family = famProto >> 4;
  switch (family) {
    case 0x1: {
      if (bodyLen < 12) throw new ProxyProtocolError('PROXY v2 INET body shorter than 12');
      return {
        status: 'ok',
        consumed,
        version: 2,
        source: { address: formatIpv4(body.subarray(0, 4)), port: body.readUInt16BE(8) },
        destination: { address: formatIpv4(body.subarray(4, 8)), port: body.readUInt16BE(10) },
      };
    }
    case 0x2: {
      if (bodyLen < 36) throw new ProxyProtocolError('PROXY v2 INET6 body shorter than 36');
      return {
        status: 'ok',
        consumed,
        version: 2,
        source: { address: formatIpv6(body.subarray(0, 16)), port: body.readUInt16BE(32) },
        destination: { address: formatIpv6(body.subarray(16, 32)), port: body.readUInt16BE(34) },
      };
    }
    case 0x0: // UNSPEC
    case 0x3: // UNIX: no IP to report
      return none;
    default:
      throw new ProxyProtocolError(`PROXY v2 address family ${family} unknown`);
  }
}

/**
 * Detects and parses a PROXY v1 or v2 header at the start of `buf`. `incomplete` while the bytes
 * seen so far could still be one; `not_proxy` as soon as they cannot. Throws ProxyProtocolError
 * when the signature matched but the rest is malformed.
 */
export function parseProxyHeader(buf: Uint8Array): ProxyHeaderResult {
  if (buf.length === 0) return { status: 'incomplete' };
  const v2 = matchPrefix(buf, V2_SIGNATURE);
  if (v2 === 'yes') return parseV2(buf);
  const v1 = matchPrefix(buf, V1_PREFIX);
  if (v1 === 'yes') return parseV1(buf);
  if (v1 === 'maybe' || v2 === 'maybe') return { status: 'incomplete' };
  return { status: 'not_proxy' };
}

function familyOf(a: ProxyAddress): 4 | 6 {
  if (parseIpv4(a.address) !== undefined) return 4;
  if (parseIpv6(a.address) !== undefined) return 6;
  throw new ProxyProtocolError(`not an IP address: ${a.address}`);
}

function checkPort(p: number): void {
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw new ProxyProtocolError(`port ${p} out of range`);
}

function pairFamily(src: ProxyAddress, dst: ProxyAddress): 4 | 6 {
  checkPort(src.port);
  checkPort(dst.port);
  const f = familyOf(src);
  if (familyOf(dst) !== f) throw new ProxyProtocolError('source and destination families differ');
  return f;
}

/** `PROXY TCP4|TCP6 src dst sport dport\r\n`, or `PROXY UNKNOWN\r\n` when either side is undefined. */
export function encodeProxyV1(src: ProxyAddress | undefined, dst: ProxyAddress | undefined): Buffer {
  if (src === undefined || dst === undefined) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const fam = pairFamily(src, dst);
  const fmt = (a: ProxyAddress): string =>
    fam === 4 ? formatIpv4(parseIpv4(a.address) as Buffer) : formatIpv6(parseIpv6(a.address) as Buffer);
  return Buffer.from(`PROXY TCP${fam} ${fmt(src)} ${fmt(dst)} ${src.port} ${dst.port}\r\n`, 'latin1');
}

/** Binary v2 header: PROXY/STREAM with addresses, or LOCAL when either side is undefined. */
export function encodeProxyV2(src: ProxyAddress | undefined, dst: ProxyAddress | undefined): Buffer {
  if (src === undefined || dst === undefined) {
    const out = Buffer.alloc(V2_HEADER_LEN);
    V2_SIGNATURE.copy(out, 0);
    out[12] = 0x20;
    out[13] = 0x00;
    return out;
  }
  const fam = pairFamily(src, dst);
  const alen = fam === 4 ? 4 : 16;
  const parse = fam === 4 ? parseIpv4 : parseIpv6;
  const bodyLen = alen * 2 + 4;
  const out = Buffer.alloc(V2_HEADER_LEN + bodyLen);
  V2_SIGNATURE.copy(out, 0);
  out[12] = 0x21;
  out[13] = fam === 4 ? 0x11 : 0x21;
  out.writeUInt16BE(bodyLen, 14);
  (parse(src.address) as Buffer).copy(out, V2_HEADER_LEN);
  (parse(dst.address) as Buffer).copy(out, V2_HEADER_LEN + alen);
  out.writeUInt16BE(src.port, V2_HEADER_LEN + alen * 2);
  out.writeUInt16BE(dst.port, V2_HEADER_LEN + alen * 2 + 2);
  return out;
}
