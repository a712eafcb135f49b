// Fake-TLS ("ee" secrets) from PROTOCOL-NOTES.md ("Fake-TLS"): a Chrome-like ClientHello whose
// random field carries HMAC-SHA256(secret, hello with random zeroed) with the Unix time XORed into
// its last 4 bytes; the server reply's random is HMAC-SHA256(secret, client random ‖ reply with
// random zeroed). Written independently of @mtedge/protocol on purpose (see obf2.ts).
import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { TestkitProtocolError } from '../errors.js';

export const TLS_RANDOM_OFFSET = 11;
export const TLS_RANDOM_LENGTH = 32;
/** RFC 8446 §5.2: a record body never exceeds 2^14 + 256 bytes; real clients drop bigger ones. */
export const TLS_MAX_RECORD_BODY = 16384 + 256;
/** Plaintext bytes per application-data record the simulator sends. */
export const TLS_MAX_APPDATA_PAYLOAD = 16384;

export const TLS_CHANGE_CIPHER_SPEC = Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);

const GREASE = [0x0a0a, 0x1a1a, 0x2a2a, 0x3a3a, 0x4a4a, 0x5a5a, 0x6a6a, 0x7a7a, 0x8a8a, 0x9a9a, 0xaaaa, 0xbaba, 0xcaca, 0xdada, 0xeaea, 0xfafa];

function u16(n: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(n, 0);
  return b;
}

function ext(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(body.length), body]);
}

function vec16(items: number[]): Buffer {
  return Buffer.concat([u16(items.length * 2), ...items.map(u16)]);
}

function pickGrease(): number {
  return GREASE[randomInt(0, GREASE.length)] as number;
}

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = randomInt(0, i + 1);
    const t = xs[i] as T;
    xs[i] = xs[j] as T;
    xs[j] = t;
  }
  return xs;
}

export interface ClientHelloOptions {
  secret: Uint8Array;
  domain: string;
  /** Unix time written into the digest; defaults to now. */
  nowSec?: number;
  /** Total record length to pad to (Chrome pads to 517); 0 disables padding. */
  padTo?: number;
}

/**
 * A Chrome-shaped ClientHello record (GREASE, shuffled extensions, x25519 key share, padding).
 * `digest` is the 32-byte random as sent: the value the server reply's HMAC is chained from.
 */
export function buildClientHello(o: ClientHelloOptions): { record: Buffer; digest: Buffer } {
  const host = Buffer.from(o.domain, 'ascii');
  const g1 = pickGrease();
  const g2 = pickGrease();
  const sni = ext(0x0000, Buffer.concat([u16(host.length + 3), Buffer.from([0]), u16(host.length), host]));
  const alpnList = Buffer.concat([Buffer.from([2]), Buffer.from('h2'), Buffer.from([8]), Buffer.from('http/1.1')]);
  const middle: Buffer[] = [
    sni,
    ext(0x0017, Buffer.alloc(0)),
    ext(0xff01, Buffer.from([0])),
    ext(0x000a, vec16([g2, 0x001d, 0x0017, 0x0018])),
    ext(0x000b, Buffer.from([1, 0])),
    ext(0x0023, Buffer.alloc(0)),
    ext(0x0010, Buffer.concat([u16(alpnList.length), alpnList])),
    ext(0x0005, Buffer.from([1, 0, 0, 0, 0])),
    ext(0x000d, vec16([0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601])),
    ext(0x0012, Buffer.alloc(0)),
    ext(0x0033, Buffer.concat([u16(1 + 4 + 4 + 32), u16(g2), u16(1), Buffer.from([0]), u16(0x001d), u16(32), randomBytes(32)])),
    ext(0x002d, Buffer.from([1, 1])),
    ext(0x002b, Buffer.concat([Buffer.from([6]), u16(pickGrease()), u16(0x0304), u16(0x0303)])),
    ext(0x001b, Buffer.from([2, 0, 2])),
  ];
  const exts = [ext(g1, Buffer.alloc(0)), ...shuffle(middle), ext(g1 ^ 0x1010, Buffer.from([0]))];
  const ciphers = vec16([pickGrease(), 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035]);
  const fixed = Buffer.concat([
    Buffer.from([0x03, 0x03]),
    Buffer.alloc(TLS_RANDOM_LENGTH),
    Buffer.from([32]),
    randomBytes(32),
    ciphers,
    Buffer.from([1, 0]),
  ]);
  let extBytes = Buffer.concat(exts);
  const padTo = o.padTo ?? 517;
  const unpadded = 5 + 4 + fixed.length + 2 + extBytes.length;
  if (padTo > 0 && unpadded + 4 <= padTo) {
    extBytes = Buffer.concat([extBytes, ext(0x0015, Buffer.alloc(padTo - unpadded - 4))]);
  }
  const hsBody = Buffer.concat([fixed, u16(extBytes.length), extBytes]);
  const record = Buffer.alloc(5 + 4 + hsBody.length);
  record.set([0x16, 0x03, 0x01], 0);
  record.writeUInt16BE(4 + hsBody.length, 3);
  record[5] = 0x01;
  record.writeUIntBE(hsBody.length, 6, 3);
  hsBody.copy(record, 9);
  const mac = createHmac('sha256', o.secret).update(record).digest();
  const now = o.nowSec ?? Math.floor(Date.now() / 1000);
  const ts = mac.readUInt32LE(28) ^ (now >>> 0);
  mac.writeUInt32LE(ts >>> 0, 28);
  mac.copy(record, TLS_RANDOM_OFFSET);
  return { record, digest: Buffer.from(mac) };
}

export interface ParsedClientHello {
  /** The random as the client sent it (the chain value for the server reply). */
  digest: Buffer;
  sessionId: Buffer;
  timestamp: number;
}

/** Server side check of a whole ClientHello record against one secret; null when it isn't ours. */
export function parseClientHello(record: Uint8Array, secret: Uint8Array): ParsedClientHello | null {
  const r = Buffer.from(record.buffer, record.byteOffset, record.byteLength);
  if (r.length < 5 + 4 + 2 + 32 + 1 || r[0] !== 0x16 || r[1] !== 0x03) return null;
  if (r.readUInt16BE(3) + 5 !== r.length || r[5] !== 0x01) return null;
  const digest = Buffer.from(r.subarray(TLS_RANDOM_OFFSET, TLS_RANDOM_OFFSET + TLS_RANDOM_LENGTH));
  const zeroed = Buffer.from(r);
  zeroed.fill(0, TLS_RANDOM_OFFSET, TLS_RANDOM_OFFSET + TLS_RANDOM_LENGTH);
  const mac = createHmac('sha256', secret).update(zeroed).digest();
  if (!timingSafeEqual(mac.subarray(0, 28), digest.subarray(0, 28))) return null;
  const timestamp = (mac.readUInt32LE(28) ^ digest.readUInt32LE(28)) >>> 0;
  const sidLen = r[43] as number;
  if (sidLen > 32 || r.length < 44 + sidLen) return null;
  return { digest, sessionId: Buffer.from(r.subarray(44, 44 + sidLen)), timestamp };
}

/** Server reply: ServerHello + ChangeCipherSpec + one random application-data record, signed. */
export function buildServerReply(o: { secret: Uint8Array; clientDigest: Uint8Array; sessionId: Uint8Array; appDataLength?: number }): Buffer {
  const keyShare = ext(0x0033, Buffer.concat([u16(0x001d), u16(32), randomBytes(32)]));
  const versions = ext(0x002b, u16(0x0304));
  const exts = Buffer.concat([keyShare, versions]);
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]),
    Buffer.alloc(TLS_RANDOM_LENGTH),
    Buffer.from([o.sessionId.length]),
    o.sessionId,
    u16(0x1301),
    Buffer.from([0]),
    u16(exts.length),
    exts,
  ]);
  const hello = Buffer.alloc(9 + body.length);
  hello.set([0x16, 0x03, 0x03], 0);
  hello.writeUInt16BE(4 + body.length, 3);
  hello[5] = 0x02;
  hello.writeUIntBE(body.length, 6, 3);
  body.copy(hello, 9);
  const appLen = o.appDataLength ?? randomInt(1024, 4096);
  const app = Buffer.concat([Buffer.from([0x17, 0x03, 0x03]), u16(appLen), randomBytes(appLen)]);
  const reply = Buffer.concat([hello, TLS_CHANGE_CIPHER_SPEC, app]);
  const mac = createHmac('sha256', o.secret).update(o.clientDigest).update(reply).digest();
  mac.copy(reply, TLS_RANDOM_OFFSET);
  return reply;
}

/**
 * Length of the complete server reply (ServerHello record, CCS record, first app-data record)
 * once its three headers are in `buf`, or null while more bytes are needed.
 * Throws TestkitProtocolError when the records are not that sequence.
 */
export function serverReplyLength(buf: Uint8Array): number | null {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const expect = [0x16, 0x14, 0x17];
  let off = 0;
  for (const type of expect) {
    if (b.length < off + 5) return null;
    if (b[off] !== type || b[off + 1] !== 0x03 || b[off + 2] !== 0x03) {
      throw new TestkitProtocolError(`unexpected TLS record header ${b.subarray(off, off + 3).toString('hex')} in server reply`);
    }
    const len = b.readUInt16BE(off + 3);
    if (len > TLS_MAX_RECORD_BODY) throw new TestkitProtocolError(`server reply record of ${len} bytes`);
    off += 5 + len;
  }
  return b.length >= off ? off : null;
}

/** Checks the server random of a complete reply against the client's digest. */
export function verifyServerReply(reply: Uint8Array, clientDigest: Uint8Array, secret: Uint8Array): boolean {
  const r = Buffer.from(reply);
  if (r.length < TLS_RANDOM_OFFSET + TLS_RANDOM_LENGTH) return false;
  const got = Buffer.from(r.subarray(TLS_RANDOM_OFFSET, TLS_RANDOM_OFFSET + TLS_RANDOM_LENGTH));
  r.fill(0, TLS_RANDOM_OFFSET, TLS_RANDOM_OFFSET + TLS_RANDOM_LENGTH);
  const mac = createHmac('sha256', secret).update(clientDigest).update(r).digest();
  return timingSafeEqual(mac, got);
}

/** Wraps payload into `17 03 03` records of at most `maxPayload` bytes each. */
export function encodeAppData(payload: Uint8Array, maxPayload = TLS_MAX_APPDATA_PAYLOAD): Buffer {
  const n = Math.ceil(payload.length / maxPayload);
  const out = Buffer.allocUnsafe(payload.length + 5 * n);
  let o = 0;
  for (let i = 0; i < payload.length; i += maxPayload) {
    const part = payload.subarray(i, i + maxPayload);
    out[o] = 0x17;
    out[o + 1] = 0x03;
    out[o + 2] = 0x03;
    out.writeUInt16BE(part.length, o + 3);
    out.set(part, o + 5);
    o += 5 + part.length;
  }
  return out;
}

export interface TlsRecord {
  type: number;
  body: Buffer;
}

/** Streaming record splitter with the RFC 8446 body cap. */
export class TlsRecordSplitter {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Uint8Array): void {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
  }
  next(): TlsRecord | null {
    const b = this.buf;
    if (b.length < 5) return null;
    const len = b.readUInt16BE(3);
    if (len > TLS_MAX_RECORD_BODY) throw new TestkitProtocolError(`TLS record of ${len} bytes over cap`);
    if (b.length < 5 + len) return null;
    const rec = { type: b[0] as number, body: b.subarray(5, 5 + len) };
    this.buf = b.subarray(5 + len);
    return rec;
  }
}
