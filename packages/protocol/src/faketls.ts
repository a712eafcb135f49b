import { Buffer } from 'node:buffer';
import { createHmac, randomBytes as cryptoRandomBytes, timingSafeEqual } from 'node:crypto';
import { TlsParseError } from './errors.js';

/** Record header: type(1) version(2) length(2), RFC 8446 §5.1. */
export const TLS_HEADER_LEN = 5;
/** Max TLSCiphertext fragment (2^14 + 256, RFC 8446 §5.2): the cap for every record we read. */
export const MAX_TLS_RECORD_PAYLOAD = 16384 + 256;
/** Max plaintext per record (2^14): what we write by default. */
export const MAX_TLS_PLAINTEXT = 16384;

export const TLS_TYPE_CHANGE_CIPHER_SPEC = 0x14;
export const TLS_TYPE_ALERT = 0x15;
export const TLS_TYPE_HANDSHAKE = 0x16;
export const TLS_TYPE_APPLICATION_DATA = 0x17;

/** The client digest sits in the ClientHello random, record offset 11..43; same spot in ServerHello. */
export const TLS_DIGEST_POS = 11;
export const TLS_DIGEST_LEN = 32;
const TS_POS_IN_DIGEST = 28;
const MAX_SESSION_ID_LEN = 32;

const CHANGE_CIPHER_SPEC_RECORD = Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);

type RandomFn = (n: number) => Uint8Array;

function rnd(fn: RandomFn | undefined, n: number): Buffer {
  const b = (fn ?? cryptoRandomBytes)(n);
  if (b.length !== n) throw new RangeError(`randomBytes returned ${b.length} bytes, expected ${n}`);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

// ---------------------------------------------------------------------------------------------
// ClientHello parsing

export interface ParsedClientHello {
  sessionId: Buffer;
  random: Buffer;
  sni: string | undefined;
  alpn: string[];
  cipherSuites: number[];
  extensions: number[];
}

/** Bounds-checked cursor; every read throws TlsParseError past `end`. */
class Cursor {
  pos: number;
  constructor(
    readonly buf: Buffer,
    pos: number,
    readonly end: number,
  ) {
    this.pos = pos;
  }
  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) throw new TlsParseError(`truncated ClientHello: ${what}`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++] as number;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u24(what: string): number {
    this.need(3, what);
    const v = this.buf.readUIntBE(this.pos, 3);
    this.pos += 3;
    return v;
  }
  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** A sub-cursor over the next `n` bytes; this cursor skips past them. */
  sub(n: number, what: string): Cursor {
    this.need(n, what);
    const c = new Cursor(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return c;
  }
  get left(): number {
    return this.end - this.pos;
  }
}

/** Checks the record header and returns the record length (header + payload). */
function handshakeRecordLength(record: Uint8Array): number {
  if (record.length < TLS_HEADER_LEN) throw new TlsParseError('record shorter than its header');
  if (record[0] !== TLS_TYPE_HANDSHAKE) throw new TlsParseError('not a TLS handshake record');
  if (record[1] !== 0x03 || (record[2] as number) > 0x04) throw new TlsParseError('unsupported record version');
  const len = ((record[3] as number) << 8) | (record[4] as number);
  if (len > MAX_TLS_RECORD_PAYLOAD) throw new TlsParseError(`record payload ${len} exceeds cap`);
  if (record.length < TLS_HEADER_LEN + len) throw new TlsParseError('record truncated');
  return TLS_HEADER_LEN + len;
}

function parseSni(c: Cursor): string | undefined {
  const list = c.sub(c.u16('sni list length'), 'sni list');
  let name: string | undefined;
  while (list.left > 0) {
    const type = list.u8('sni name type');
    const value = list.bytes(list.u16('sni name length'), 'sni name');
    if (type === 0 && name === undefined) {
      if (value.length === 0) throw new TlsParseError('empty SNI host_name');
      name = value.toString('latin1');
    }
  }
  return name;
}

function parseAlpn(c: Cursor): string[] {
  const list = c.sub(c.u16('alpn list length'), 'alpn list');
  const out: string[] = [];
  while (list.left > 0) {
    const n = list.u8('alpn proto length');
    if (n === 0) throw new TlsParseError('empty ALPN protocol name');
    out.push(list.bytes(n, 'alpn proto').toString('latin1'));
  }
  return out;
}

/**
 * Parses a whole ClientHello record (`16 03 0x LL LL ...`, RFC 8446 §4.1.2). Bytes past the
 * record are ignored. Every length is checked against its enclosing structure.
 */
export function parseClientHello(record: Uint8Array): ParsedClientHello {
  const buf = asBuffer(record);
  const recEnd = handshakeRecordLength(buf);
  const rec = new Cursor(buf, TLS_HEADER_LEN, recEnd);
  if (rec.u8('handshake type') !== 0x01) throw new TlsParseError('handshake is not a ClientHello');
  const hs = rec.sub(rec.u24('handshake length'), 'handshake body');
  const legacyVersion = hs.u16('legacy version');
  if (legacyVersion >> 8 !== 0x03) throw new TlsParseError('bad ClientHello legacy version');
  const random = Buffer.from(hs.bytes(32, 'random'));
  const sidLen = hs.u8('session id length');
  if (sidLen > MAX_SESSION_ID_LEN) throw new TlsParseError('session id longer than 32');
  const sessionId = Buffer.from(hs.bytes(sidLen, 'session id'));
  const csLen = hs.u16('cipher suites length');
  if (csLen === 0 || csLen % 2 !== 0) throw new TlsParseError('bad cipher suites length');
  const cs = hs.sub(csLen, 'cipher suites');
  const cipherSuites: number[] = [];
  while (cs.left > 0) cipherSuites.push(cs.u16('cipher suite'));
  const compLen = hs.u8('compression methods length');
  if (compLen === 0) throw new TlsParseError('no compression methods');
  hs.bytes(compLen, 'compression methods');

  const extensions: number[] = [];
  let sni: string | undefined;
  let alpn: string[] = [];
  if (hs.left > 0) {
    const exts = hs.sub(hs.u16('extensions length'), 'extensions');
    const seen = new Set<number>();
    while (exts.left > 0) {
      const type = exts.u16('extension type');
      const body = exts.sub(exts.u16('extension length'), 'extension body');
      if (seen.has(type)) throw new TlsParseError(`duplicate extension ${type}`);
      seen.add(type);
      extensions.push(type);
      if (type === 0x0000) sni = parseSni(body);
      else if (type === 0x0010) alpn = parseAlpn(body);
    }
  }
  if (hs.left !== 0) throw new TlsParseError('trailing bytes after ClientHello extensions');
  return { sessionId, random, sni, alpn, cipherSuites, extensions };
}

// ---------------------------------------------------------------------------------------------
// Server side: validate the digest, build the reply

export interface FakeTlsHelloMatch {
  /** Index into `secrets` of the first secret whose HMAC matched. */
  index: number;
  /** The random field exactly as received (digest with the XORed timestamp); the replay key. */
  digest: Buffer;
  timestamp: number;
  sessionId: Buffer;
  sni: string | undefined;
}

function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * Checks a ClientHello against each user secret: HMAC-SHA256(secret, record with the random
 * zeroed) must equal the random in its first 28 bytes; the last 4 XORed give the client's Unix
 * time (LE). `maxSkewSec` undefined disables the clock check. Returns null for no match or
 * malformed input; never throws.
 */
export function validateFakeTlsHello(
  record: Uint8Array,
  secrets: readonly Uint8Array[],
  nowSec: number,
  maxSkewSec: number | undefined,
): FakeTlsHelloMatch | null {
  let recLen: number;
  try {
    recLen = handshakeRecordLength(record);
  } catch {
    return null;
  }
  const sidLenPos = TLS_DIGEST_POS + TLS_DIGEST_LEN;
  if (recLen < sidLenPos + 1 || record[5] !== 0x01) return null;
  const sidLen = record[sidLenPos] as number;
  if (sidLen > MAX_SESSION_ID_LEN || recLen < sidLenPos + 1 + sidLen) return null;

  const zeroed = Buffer.from(record.subarray(0, recLen));
  const digest = Buffer.from(zeroed.subarray(TLS_DIGEST_POS, TLS_DIGEST_POS + TLS_DIGEST_LEN));
  zeroed.fill(0, TLS_DIGEST_POS, TLS_DIGEST_POS + TLS_DIGEST_LEN);
  const head = digest.subarray(0, TS_POS_IN_DIGEST);

  for (let index = 0; index < secrets.length; index++) {
    const secret = secrets[index];
    if (secret === undefined) continue;
    const computed = hmacSha256(secret, zeroed);
    if (!timingSafeEqual(head, computed.subarray(0, TS_POS_IN_DIGEST))) continue;
    const timestamp =
      ((digest[28]! ^ computed[28]!) |
        ((digest[29]! ^ computed[29]!) << 8) |
        ((digest[30]! ^ computed[30]!) << 16) |
        ((digest[31]! ^ computed[31]!) << 24)) >>>
      0;
    if (maxSkewSec !== undefined && Math.abs(nowSec - timestamp) > maxSkewSec) continue;
    let sni: string | undefined;
    try {
      sni = parseClientHello(zeroed).sni;
    } catch {
      // A hello whose HMAC matches came from a holder of the secret; a quirky extension block
      // must not lock that client out, we only lose the SNI.
      sni = undefined;
    }
    return {
      index,
      digest,
      timestamp,
      sessionId: Buffer.from(zeroed.subarray(sidLenPos + 1, sidLenPos + 1 + sidLen)),
      sni,
    };
  }
  return null;
}

// Field prime of Curve25519; a square mod P looks like a plausible x25519 public key.
const P25519 = (1n << 255n) - 19n;

/** 32 bytes shaped like an x25519 public key (a quadratic residue mod 2^255-19, LE). */
export function fakeX25519PublicKey(randomBytes?: RandomFn): Buffer {
  const r = rnd(randomBytes, 32);
  let n = 0n;
  for (let i = 31; i >= 0; i--) n = (n << 8n) | BigInt(r[i] as number);
  n %= P25519;
  let v = (n * n) % P25519;
  const out = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export interface BuildServerHelloOptions {
  secret: Uint8Array;
  /** The client's random field as received (`FakeTlsHelloMatch.digest`). */
  clientDigest: Uint8Array;
  sessionId: Uint8Array;
  /** Size of the fake encrypted-certificate record; clamped to 1..MAX_TLS_RECORD_PAYLOAD. */
  appDataLen: number;
  randomBytes?: RandomFn;
}

/**
 * The reply a fake-TLS client verifies: ServerHello record (TLS 1.3 shape: cipher 13 01, key_share
 * x25519, supported_versions 03 04, echoed session id), `14 03 03 00 01 01`, then one `17 03 03`
 * record of random bytes. The server random is HMAC-SHA256(secret, clientDigest ‖ reply with the
 * random zeroed), as TDLib's TlsInit checks and mtprotoproxy/telemt produce.
 */
export function buildFakeTlsServerHello(o: BuildServerHelloOptions): Buffer {
  if (o.sessionId.length > MAX_SESSION_ID_LEN) throw new TlsParseError('session id longer than 32');
  if (o.clientDigest.length !== TLS_DIGEST_LEN) throw new TlsParseError('client digest must be 32 bytes');
  const appLen = Math.min(MAX_TLS_RECORD_PAYLOAD, Math.max(1, Math.floor(Number.isFinite(o.appDataLen) ? o.appDataLen : 1)));
  const sidLen = o.sessionId.length;
  // extensions: key_share(0x0033) {group 0x001d, 32-byte key} + supported_versions(0x002b) {0x0304}
  const extLen = 4 + 2 + 2 + 32 + (4 + 2);
  const bodyLen = 2 + 32 + 1 + sidLen + 2 + 1 + 2 + extLen;
  const helloRecLen = TLS_HEADER_LEN + 4 + bodyLen;
  const total = helloRecLen + CHANGE_CIPHER_SPEC_RECORD.length + TLS_HEADER_LEN + appLen;
  const out = Buffer.alloc(total);
  let p = 0;
  writeTlsRecordHeader(out, 0, TLS_TYPE_HANDSHAKE, 4 + bodyLen);
  p = TLS_HEADER_LEN;
  out[p++] = 0x02; // ServerHello
  out.writeUIntBE(bodyLen, p, 3);
  p += 3;
  out[p++] = 0x03;
  out[p++] = 0x03;
  p += TLS_DIGEST_LEN; // random: zero for now, HMAC goes here last
  out[p++] = sidLen;
  out.set(o.sessionId, p);
  p += sidLen;
  out[p++] = 0x13; // TLS_AES_128_GCM_SHA256
  out[p++] = 0x01;
  out[p++] = 0x00; // compression null
  out.writeUInt16BE(extLen, p);
  p += 2;
  out.writeUInt16BE(0x0033, p);
  out.writeUInt16BE(2 + 2 + 32, p + 2);
  out.writeUInt16BE(0x001d, p + 4);
  out.writeUInt16BE(32, p + 6);
  p += 8;
  fakeX25519PublicKey(o.randomBytes).copy(out, p);
  p += 32;
  out.writeUInt16BE(0x002b, p);
  out.writeUInt16BE(2, p + 2);
  out.writeUInt16BE(0x0304, p + 4);
  p += 6;
  CHANGE_CIPHER_SPEC_RECORD.copy(out, p);
  p += CHANGE_CIPHER_SPEC_RECORD.length;
  writeTlsRecordHeader(out, p, TLS_TYPE_APPLICATION_DATA, appLen);
  p += TLS_HEADER_LEN;
  rnd(o.randomBytes, appLen).copy(out, p);
  hmacSha256(o.secret, o.clientDigest, out).copy(out, TLS_DIGEST_POS);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Client side (simulator)

export interface BuildClientHelloOptions {
  secret: Uint8Array;
  domain: string;
  nowSec: number;
  randomBytes?: RandomFn;
}

/** RFC 8701 GREASE values are 0x?a?a with both bytes equal. */
function greaseValue(seed: number): number {
  const b = ((seed & 0x0f) << 4) | 0x0a;
  return (b << 8) | b;
}

function ext(type: number, body: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + body.length);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(body.length, 2);
  b.set(body, 4);
  return b;
}

function u16list(values: readonly number[], lenBytes: 1 | 2): Buffer {
  const b = Buffer.alloc(lenBytes + values.length * 2);
  if (lenBytes === 1) b[0] = values.length * 2;
  else b.writeUInt16BE(values.length * 2, 0);
  values.forEach((v, i) => b.writeUInt16BE(v, lenBytes + i * 2));
  return b;
}

const CLIENT_HELLO_MIN_LEN = 517;

/**
 * A Chrome-shaped ClientHello (GREASE, SNI, ALPN h2/http1.1, supported_versions, x25519 key
 * share, padding to 517 bytes) whose random carries the fake-TLS digest.
 * `digest` is the random field as sent: pass it to verifyFakeTlsServerHello.
 */
export function buildFakeTlsClientHello(o: BuildClientHelloOptions): { record: Buffer; digest: Buffer } {
  const host = Buffer.from(o.domain, 'latin1');
  if (host.length === 0 || host.length > 253) throw new TlsParseError('SNI domain must be 1..253 bytes');
  const seeds = rnd(o.randomBytes, 4);
  const g1 = greaseValue(seeds[0] as number);
  const g2 = greaseValue(seeds[1] as number);
  const g3 = greaseValue(seeds[2] as number);
  const g4 = greaseValue(seeds[3] as number);

  const sniBody = Buffer.alloc(5 + host.length);
  sniBody.writeUInt16BE(3 + host.length, 0);
  sniBody[2] = 0;
  sniBody.writeUInt16BE(host.length, 3);
  host.copy(sniBody, 5);
  const alpnProtos = ['h2', 'http/1.1'].map((s) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]));
  const alpnList = Buffer.concat(alpnProtos);
  const alpnBody = Buffer.concat([Buffer.from([alpnList.length >> 8, alpnList.length & 0xff]), alpnList]);
  const keyShareEntry = Buffer.concat([Buffer.from([g3 >> 8, g3 & 0xff, 0x00, 0x01, 0x00, 0x00, 0x1d, 0x00, 0x20]), fakeX25519PublicKey(o.randomBytes)]);
  const keyShareBody = Buffer.concat([Buffer.from([keyShareEntry.length >> 8, keyShareEntry.length & 0xff]), keyShareEntry]);

  const extensions: Buffer[] = [
    ext(g1, Buffer.alloc(0)),
    ext(0x0000, sniBody),
    ext(0x0017, Buffer.alloc(0)), // extended_master_secret
    ext(0xff01, Buffer.from([0x00])), // renegotiation_info
    ext(0x000a, u16list([g3, 0x001d, 0x0017, 0x0018], 2)), // supported_groups
    ext(0x000b, Buffer.from([0x01, 0x00])), // ec_point_formats
    ext(0x0023, Buffer.alloc(0)), // session_ticket
    ext(0x0010, alpnBody),
    ext(0x0005, Buffer.from([0x01, 0x00, 0x00, 0x00, 0x00])), // status_request
    ext(0x000d, u16list([0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601], 2)),
    ext(0x0012, Buffer.alloc(0)), // signed_certificate_timestamp
    ext(0x0033, keyShareBody),
    ext(0x002d, Buffer.from([0x01, 0x01])), // psk_key_exchange_modes
    ext(0x002b, u16list([g4, 0x0304, 0x0303], 1)), // supported_versions
    ext(0x001b, Buffer.from([0x02, 0x00, 0x02])), // compress_certificate brotli
    // A second GREASE extension; its type must differ from the first (no duplicate extensions).
    ext(g2 === g1 ? g2 ^ 0x1010 : g2, Buffer.from([0x00])),
  ];
  const cipherSuites = u16list(
    [g1, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035],
    2,
  );
  const sessionId = rnd(o.randomBytes, 32);
  const fixedHead = 2 + 32 + 1 + 32 + cipherSuites.length + 2; // version, random, sid, suites, compression
  let extBytes = extensions.reduce((n, e) => n + e.length, 0);
  // Pad the record to Chrome's classic 517 bytes with the padding extension (RFC 7685).
  const unpadded = TLS_HEADER_LEN + 4 + fixedHead + 2 + extBytes;
  if (unpadded + 4 <= CLIENT_HELLO_MIN_LEN) {
    extensions.push(ext(0x0015, Buffer.alloc(CLIENT_HELLO_MIN_LEN - unpadded - 4)));
    extBytes = extensions.reduce((n, e) => n + e.length, 0);
  }
  const bodyLen = fixedHead + 2 + extBytes;
  const record = Buffer.alloc(TLS_HEADER_LEN + 4 + bodyLen);
  writeTlsRecordHeader(record, 0, TLS_TYPE_HANDSHAKE, 4 + bodyLen);
  record[2] = 0x01; // ClientHello records say 03 01 for middlebox compatibility
  let p = TLS_HEADER_LEN;
  record[p++] = 0x01;
  record.writeUIntBE(bodyLen, p, 3);
  p += 3;
  record[p++] = 0x03;
  record[p++] = 0x03;
  p += 32; // random, filled with the digest below
  record[p++] = 32;
  sessionId.copy(record, p);
  p += 32;
  cipherSuites.copy(record, p);
  p += cipherSuites.length;
  record[p++] = 0x01;
  record[p++] = 0x00;
  record.writeUInt16BE(extBytes, p);
  p += 2;
  for (const e of extensions) {
    e.copy(record, p);
    p += e.length;
  }
  const digest = hmacSha256(o.secret, record);
  const ts = digest.readUInt32LE(TS_POS_IN_DIGEST) ^ (o.nowSec >>> 0);
  digest.writeUInt32LE(ts >>> 0, TS_POS_IN_DIGEST);
  digest.copy(record, TLS_DIGEST_POS);
  return { record, digest };
}

/**
 * Total bytes of the server's 3-record reply (ServerHello, change-cipher-spec, app data) once all
 * three headers are in; null while more bytes are needed. Throws TlsParseError on a reply shape
 * we would never accept, so a caller does not wait forever.
 */
export function fakeTlsServerReplyLength(buf: Uint8Array): number | null {
  if (buf.length < TLS_HEADER_LEN) return null;
  if (buf[0] !== TLS_TYPE_HANDSHAKE || buf[1] !== 0x03 || buf[2] !== 0x03) {
    throw new TlsParseError('server reply does not start with a 16 03 03 record');
  }
  const helloLen = ((buf[3] as number) << 8) | (buf[4] as number);
  if (helloLen > MAX_TLS_RECORD_PAYLOAD) throw new TlsParseError('ServerHello record too long');
  const ccsPos = TLS_HEADER_LEN + helloLen;
  if (buf.length < ccsPos + CHANGE_CIPHER_SPEC_RECORD.length) return null;
  for (let i = 0; i < CHANGE_CIPHER_SPEC_RECORD.length; i++) {
    if (buf[ccsPos + i] !== CHANGE_CIPHER_SPEC_RECORD[i]) {
      throw new TlsParseError('server reply lacks the change-cipher-spec record');
    }
  }
  const appPos = ccsPos + CHANGE_CIPHER_SPEC_RECORD.length;
  if (buf.length < appPos + TLS_HEADER_LEN) return null;
  if (buf[appPos] !== TLS_TYPE_APPLICATION_DATA || buf[appPos + 1] !== 0x03 || buf[appPos + 2] !== 0x03) {
    throw new TlsParseError('server reply lacks the application-data record');
  }
  const appLen = ((buf[appPos + 3] as number) << 8) | (buf[appPos + 4] as number);
  if (appLen > MAX_TLS_RECORD_PAYLOAD) throw new TlsParseError('application-data record too long');
  return appPos + TLS_HEADER_LEN + appLen;
}

/** Client-side check of the server random; false on any malformed or short reply. */
export function verifyFakeTlsServerHello(reply: Uint8Array, clientDigest: Uint8Array, secret: Uint8Array): boolean {
  let total: number | null;
  try {
    total = fakeTlsServerReplyLength(reply);
  } catch {
    return false;
  }
  if (total === null || reply.length < total || total < TLS_DIGEST_POS + TLS_DIGEST_LEN) return false;
  if (reply[5] !== 0x02) return false;
  const copy = Buffer.from(reply.subarray(0, total));
  const got = Buffer.from(copy.subarray(TLS_DIGEST_POS, TLS_DIGEST_POS + TLS_DIGEST_LEN));
  copy.fill(0, TLS_DIGEST_POS, TLS_DIGEST_POS + TLS_DIGEST_LEN);
  return timingSafeEqual(got, hmacSha256(secret, clientDigest, copy));
}

// ---------------------------------------------------------------------------------------------
// Record stream

/** Writes `type 03 03 len` at `offset`. */
export function writeTlsRecordHeader(target: Buffer, offset: number, type: number, len: number): void {
  if (!Number.isInteger(len) || len < 0 || len > 0xffff) throw new TlsParseError(`record length ${len} out of range`);
  target[offset] = type;
  target[offset + 1] = 0x03;
  target[offset + 2] = 0x03;
  target.writeUInt16BE(len, offset + 3);
}

/** Wraps `payload` in `17 03 03` records of at most `maxRecordPayload` bytes each, one allocation. */
export function encodeTlsAppData(payload: Uint8Array, maxRecordPayload: number = MAX_TLS_PLAINTEXT): Buffer {
  if (!Number.isInteger(maxRecordPayload) || maxRecordPayload < 1 || maxRecordPayload > MAX_TLS_RECORD_PAYLOAD) {
    throw new TlsParseError(`maxRecordPayload ${maxRecordPayload} out of range`);
  }
  const records = Math.ceil(payload.length / maxRecordPayload);
  const out = Buffer.allocUnsafe(payload.length + records * TLS_HEADER_LEN);
  let src = 0;
  let dst = 0;
  while (src < payload.length) {
    const n = Math.min(maxRecordPayload, payload.length - src);
    writeTlsRecordHeader(out, dst, TLS_TYPE_APPLICATION_DATA, n);
    out.set(payload.subarray(src, src + n), dst + TLS_HEADER_LEN);
    src += n;
    dst += TLS_HEADER_LEN + n;
  }
  return out;
}

export interface TlsRecord {
  type: number;
  payload: Buffer;
}

/**
 * Incremental record splitter for the post-handshake stream. Payloads are views into the pushed
 * chunks unless a record spans chunks, then one exact-size copy is made. Header errors and
 * payloads above `maxPayload` throw TlsParseError before anything is buffered for them.
 */
export class TlsRecordReader {
  readonly #chunks: Buffer[] = [];
  #head = 0; // read offset into #chunks[0]
  #available = 0;
  readonly #maxPayload: number;

  constructor(maxPayload: number = MAX_TLS_RECORD_PAYLOAD) {
    this.#maxPayload = maxPayload;
  }

  /** Bytes pushed but not yet returned as records. */
  get buffered(): number {
    return this.#available;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#available += chunk.length;
  }

  #peek(i: number): number {
    let off = this.#head + i;
    for (const c of this.#chunks) {
      if (off < c.length) return c[off] as number;
      off -= c.length;
    }
    throw new RangeError('peek past buffered data');
  }

  /** Hands back and clears unconsumed bytes, e.g. when switching to another parser. */
  drain(): Buffer {
    const parts = this.#chunks.map((c, i) => (i === 0 ? c.subarray(this.#head) : c));
    this.#chunks.length = 0;
    this.#head = 0;
    this.#available = 0;
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }

  next(): TlsRecord | null {
    if (this.#available < TLS_HEADER_LEN) {
      // Reject a wrong record type as soon as its byte is visible.
      if (this.#available > 0) this.#checkType(this.#peek(0));
      return null;
    }
    const type = this.#peek(0);
    this.#checkType(type);
    if (this.#peek(1) !== 0x03 || this.#peek(2) > 0x04) throw new TlsParseError('bad TLS record version');
    const len = (this.#peek(3) << 8) | this.#peek(4);
    if (len > this.#maxPayload) throw new TlsParseError(`TLS record payload ${len} exceeds cap ${this.#maxPayload}`);
    if (this.#available < TLS_HEADER_LEN + len) return null;
    this.#skip(TLS_HEADER_LEN);
    return { type, payload: this.#take(len) };
  }

  #checkType(type: number): void {
    if (type < TLS_TYPE_CHANGE_CIPHER_SPEC || type > TLS_TYPE_APPLICATION_DATA) {
      throw new TlsParseError(`bad TLS record type 0x${type.toString(16)}`);
    }
  }

  #skip(n: number): void {
    this.#available -= n;
    while (n > 0) {
      const c = this.#chunks[0] as Buffer;
      const left = c.length - this.#head;
      if (n < left) {
        this.#head += n;
        return;
      }
      n -= left;
      this.#chunks.shift();
      this.#head = 0;
    }
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0];
    if (n === 0 || first === undefined) return Buffer.alloc(0);
    if (first.length - this.#head >= n) {
      const view = first.subarray(this.#head, this.#head + n);
      this.#skip(n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0] as Buffer;
      const m = Math.min(n - filled, c.length - this.#head);
      c.copy(out, filled, this.#head, this.#head + m);
      filled += m;
      this.#skip(m);
    }
    return out;
  }
}
