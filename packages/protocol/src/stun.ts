/**
 * STUN (RFC 5389) Binding, just enough to learn our public address: a Binding Request encoder
 * and a Binding Response decoder (XOR-MAPPED-ADDRESS, MAPPED-ADDRESS as the RFC 3489 fallback).
 * Every byte comes from whoever answers the UDP port, so every length is checked before use and
 * every failure is a StunError, never a RangeError.
 */
import { ProtocolError } from './errors.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './ip.js';

export const STUN_MAGIC_COOKIE = 0x2112a442;
export const STUN_HEADER_LEN = 20;
export const STUN_TXID_LEN = 12;
/** Larger answers are refused: a Binding Response with one address fits in well under 600 bytes. */
export const STUN_MAX_MESSAGE = 1280;
/** More attributes than this is not a Binding Response worth reading. */
const MAX_ATTRIBUTES = 64;

export const STUN_BINDING_REQUEST = 0x0001;
export const STUN_BINDING_SUCCESS = 0x0101;
export const STUN_BINDING_ERROR = 0x0111;

export const STUN_ATTR_MAPPED_ADDRESS = 0x0001;
export const STUN_ATTR_ERROR_CODE = 0x0009;
export const STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020;
/** Pre-RFC servers (draft numbering) sent XOR-MAPPED-ADDRESS under this comprehension-optional type. */
export const STUN_ATTR_XOR_MAPPED_ADDRESS_OLD = 0x8020;

export type StunErrorCode =
  | 'MTE_ERR_STUN_TRUNCATED'
  | 'MTE_ERR_STUN_TOO_LARGE'
  | 'MTE_ERR_STUN_NOT_STUN'
  | 'MTE_ERR_STUN_TXID'
  | 'MTE_ERR_STUN_ERROR_RESPONSE'
  | 'MTE_ERR_STUN_FORMAT'
  | 'MTE_ERR_STUN_NO_ADDRESS';

export const STUN_ERROR_CODES: readonly StunErrorCode[] = Object.freeze([
  'MTE_ERR_STUN_TRUNCATED',
  'MTE_ERR_STUN_TOO_LARGE',
  'MTE_ERR_STUN_NOT_STUN',
  'MTE_ERR_STUN_TXID',
  'MTE_ERR_STUN_ERROR_RESPONSE',
  'MTE_ERR_STUN_FORMAT',
  'MTE_ERR_STUN_NO_ADDRESS',
] as const);

/** A datagram or stream chunk that is not the Binding Response we are waiting for. */
export class StunError extends ProtocolError {
  declare readonly code: StunErrorCode;
  constructor(code: StunErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'StunError';
  }
}

export interface StunAddress {
  readonly family: 4 | 6;
  /** Dotted quad, or RFC 5952 text for IPv6. */
  readonly ip: string;
  readonly port: number;
}

export interface StunBindingResult {
  readonly address: StunAddress;
  /** Which attribute carried it: XOR-MAPPED-ADDRESS is preferred when both are present. */
  readonly source: 'xor-mapped' | 'mapped';
}

function newTxId(): Uint8Array {
  const t = new Uint8Array(STUN_TXID_LEN);
  globalThis.crypto.getRandomValues(t);
  return t;
}

function writeHeader(dv: DataView, out: Uint8Array, type: number, bodyLen: number, txId: Uint8Array): void {
  dv.setUint16(0, type);
  dv.setUint16(2, bodyLen);
  dv.setUint32(4, STUN_MAGIC_COOKIE);
  out.set(txId, 8);
}

function checkTxId(txId: Uint8Array): void {
  if (txId.length !== STUN_TXID_LEN) throw new StunError('MTE_ERR_STUN_FORMAT', `transaction id must be ${STUN_TXID_LEN} bytes, got ${txId.length}`);
}

/** A Binding Request with no attributes; `txId` is random (96 bits) unless given. */
export function encodeStunBindingRequest(txId: Uint8Array = newTxId()): { readonly bytes: Uint8Array; readonly txId: Uint8Array } {
  checkTxId(txId);
  const bytes = new Uint8Array(STUN_HEADER_LEN);
  writeHeader(new DataView(bytes.buffer), bytes, STUN_BINDING_REQUEST, 0, txId);
  return { bytes, txId: bytes.slice(8, 20) };
}

/**
 * A Binding Success Response carrying `address` (for test servers and round trips): as
 * XOR-MAPPED-ADDRESS, as MAPPED-ADDRESS, or both.
 */
export function encodeStunBindingResponse(txId: Uint8Array, address: StunAddress, attrs: 'xor-mapped' | 'mapped' | 'both' = 'xor-mapped'): Uint8Array {
  checkTxId(txId);
  const raw = address.family === 4 ? parseIpv4(address.ip) : parseIpv6(address.ip);
  if (raw === undefined) throw new StunError('MTE_ERR_STUN_FORMAT', `not an IPv${address.family} address: ${address.ip}`);
  if (!Number.isInteger(address.port) || address.port < 0 || address.port > 0xffff) throw new StunError('MTE_ERR_STUN_FORMAT', `bad port ${address.port}`);
  const valueLen = 4 + raw.length;
  const kinds = attrs === 'both' ? [STUN_ATTR_XOR_MAPPED_ADDRESS, STUN_ATTR_MAPPED_ADDRESS] : [attrs === 'xor-mapped' ? STUN_ATTR_XOR_MAPPED_ADDRESS : STUN_ATTR_MAPPED_ADDRESS];
  const bodyLen = kinds.length * (4 + valueLen);
  const out = new Uint8Array(STUN_HEADER_LEN + bodyLen);
  const dv = new DataView(out.buffer);
  writeHeader(dv, out, STUN_BINDING_SUCCESS, bodyLen, txId);
  let pos = STUN_HEADER_LEN;
  for (const kind of kinds) {
    const xor = kind === STUN_ATTR_XOR_MAPPED_ADDRESS;
    dv.setUint16(pos, kind);
    dv.setUint16(pos + 2, valueLen);
    out[pos + 4] = 0;
    out[pos + 5] = address.family === 4 ? 0x01 : 0x02;
    dv.setUint16(pos + 6, xor ? address.port ^ (STUN_MAGIC_COOKIE >>> 16) : address.port);
    for (let i = 0; i < raw.length; i++) out[pos + 8 + i] = xor ? raw[i]! ^ out[4 + i]! : raw[i]!;
    pos += 4 + valueLen;
  }
  return out;
}

/**
 * Bytes a STUN message starting at `buf[0]` occupies in total (header + attributes), or null
 * while fewer than 20 bytes are there: the framing for STUN over TCP.
 */
export function stunMessageLength(buf: Uint8Array): number | null {
  if (buf.length < STUN_HEADER_LEN) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  checkHeader(dv);
  return STUN_HEADER_LEN + dv.getUint16(2);
}

function checkHeader(dv: DataView): void {
  const type = dv.getUint16(0);
  // The two top bits of every STUN message are zero (RFC 5389 section 6): that and the cookie
  // tell STUN from whatever else answers on that port.
  if ((type & 0xc000) !== 0 || dv.getUint32(4) !== STUN_MAGIC_COOKIE) throw new StunError('MTE_ERR_STUN_NOT_STUN', 'not a STUN message (bad type bits or magic cookie)');
  const len = dv.getUint16(2);
  if (len % 4 !== 0) throw new StunError('MTE_ERR_STUN_FORMAT', `STUN length ${len} is not a multiple of 4`);
  if (STUN_HEADER_LEN + len > STUN_MAX_MESSAGE) throw new StunError('MTE_ERR_STUN_TOO_LARGE', `STUN message of ${STUN_HEADER_LEN + len} bytes exceeds ${STUN_MAX_MESSAGE}`);
}

function decodeAddress(buf: Uint8Array, dv: DataView, pos: number, len: number, xor: boolean): StunAddress {
  if (len < 4) throw new StunError('MTE_ERR_STUN_FORMAT', `address attribute of ${len} bytes`);
  const fam = buf[pos + 1];
  const addrLen = fam === 0x01 ? 4 : fam === 0x02 ? 16 : 0;
  if (addrLen === 0) throw new StunError('MTE_ERR_STUN_FORMAT', `address family ${fam ?? '?'}`);
  if (len !== 4 + addrLen) throw new StunError('MTE_ERR_STUN_FORMAT', `IPv${fam === 1 ? 4 : 6} address attribute of ${len} bytes`);
  const port = dv.getUint16(pos + 2) ^ (xor ? STUN_MAGIC_COOKIE >>> 16 : 0);
  const a = new Uint8Array(addrLen);
  // The XOR key is the cookie followed by the transaction id: exactly header bytes 4..19.
  for (let i = 0; i < addrLen; i++) a[i] = buf[pos + 4 + i]! ^ (xor ? buf[4 + i]! : 0);
  return addrLen === 4 ? { family: 4, ip: formatIpv4(a), port } : { family: 6, ip: formatIpv6(a), port };
}

/**
 * Decodes a Binding Response to the request with `txId`. Throws StunError for anything else:
 * a non-STUN datagram, a wrong or late transaction, an error response, a malformed attribute,
 * or a success without an address.
 */
export function decodeStunBindingResponse(buf: Uint8Array, txId: Uint8Array): StunBindingResult {
  checkTxId(txId);
  if (buf.length < STUN_HEADER_LEN) throw new StunError('MTE_ERR_STUN_TRUNCATED', `STUN message of ${buf.length} bytes`);
  if (buf.length > STUN_MAX_MESSAGE) throw new StunError('MTE_ERR_STUN_TOO_LARGE', `STUN message of ${buf.length} bytes exceeds ${STUN_MAX_MESSAGE}`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  checkHeader(dv);
  const len = dv.getUint16(2);
  if (STUN_HEADER_LEN + len > buf.length) throw new StunError('MTE_ERR_STUN_TRUNCATED', `STUN length ${len} exceeds the ${buf.length - STUN_HEADER_LEN} bytes received`);
  for (let i = 0; i < STUN_TXID_LEN; i++) {
    if (buf[8 + i] !== txId[i]) throw new StunError('MTE_ERR_STUN_TXID', 'transaction id does not match the request');
  }
  const type = dv.getUint16(0);
  if (type !== STUN_BINDING_SUCCESS && type !== STUN_BINDING_ERROR) throw new StunError('MTE_ERR_STUN_FORMAT', `STUN message type 0x${type.toString(16)} is not a Binding Response`);
  const end = STUN_HEADER_LEN + len;
  let pos = STUN_HEADER_LEN;
  let xorAddr: StunAddress | undefined;
  let mapped: StunAddress | undefined;
  let errorText: string | undefined;
  for (let n = 0; pos < end; n++) {
    if (n >= MAX_ATTRIBUTES) throw new StunError('MTE_ERR_STUN_FORMAT', `more than ${MAX_ATTRIBUTES} attributes`);
    if (end - pos < 4) throw new StunError('MTE_ERR_STUN_TRUNCATED', 'attribute header cut short');
    const at = dv.getUint16(pos);
    const alen = dv.getUint16(pos + 2);
    const vpos = pos + 4;
    if (vpos + alen > end) throw new StunError('MTE_ERR_STUN_TRUNCATED', `attribute 0x${at.toString(16)} of ${alen} bytes runs past the message`);
    if (at === STUN_ATTR_XOR_MAPPED_ADDRESS || at === STUN_ATTR_XOR_MAPPED_ADDRESS_OLD) xorAddr ??= decodeAddress(buf, dv, vpos, alen, true);
    else if (at === STUN_ATTR_MAPPED_ADDRESS) mapped ??= decodeAddress(buf, dv, vpos, alen, false);
    else if (at === STUN_ATTR_ERROR_CODE && alen >= 4) {
      const code = (buf[vpos + 2]! & 0x07) * 100 + buf[vpos + 3]!;
      let reason = '';
      // The reason phrase is informational; keep only printable ASCII and a bounded slice of it.
      for (let i = vpos + 4; i < vpos + Math.min(alen, 4 + 128); i++) {
        const c = buf[i]!;
        reason += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
      }
      errorText = `${code}${reason ? ` ${reason}` : ''}`;
    }
    pos = vpos + ((alen + 3) & ~3);
  }
  if (type === STUN_BINDING_ERROR) throw new StunError('MTE_ERR_STUN_ERROR_RESPONSE', `STUN error response${errorText !== undefined ? `: ${errorText}` : ''}`);
  if (xorAddr) return { address: xorAddr, source: 'xor-mapped' };
  if (mapped) return { address: mapped, source: 'mapped' };
  throw new StunError('MTE_ERR_STUN_NO_ADDRESS', 'Binding Response without a mapped address');
}
