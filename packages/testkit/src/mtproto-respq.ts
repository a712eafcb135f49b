// Just enough MTProto for a real client to get past step one of auth-key creation:
// req_pq_multi#be7e8ef1 in, resPQ#05162463 out (core.telegram.org/mtproto/auth_key, step 1).
// Unencrypted message layout: auth_key_id:int64 = 0 | msg_id:int64 | length:int32 | body.
import { randomBytes } from 'node:crypto';

export const REQ_PQ_MULTI = 0xbe7e8ef1;
export const REQ_PQ = 0x60469778;
export const RES_PQ = 0x05162463;
const VECTOR = 0x1cb5c415;
// pq = 1724114033281923457 = 1229739323 * 1402015859, the worked example of the auth_key page.
const EXAMPLE_PQ = Buffer.from('17ed48941a08f981', 'hex');
const EXAMPLE_FINGERPRINT = Buffer.from('216be86c022bb4c3', 'hex');

/** The client nonce of an unencrypted req_pq_multi (or legacy req_pq), else null. Padding tolerated. */
export function parseReqPq(payload: Uint8Array): Buffer | null {
  const p = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (p.length < 40) return null;
  if (p.readBigUInt64LE(0) !== 0n) return null;
  const bodyLen = p.readUInt32LE(16);
  if (bodyLen < 20 || 20 + bodyLen > p.length) return null;
  const ctor = p.readUInt32LE(20);
  if (ctor !== REQ_PQ_MULTI && ctor !== REQ_PQ) return null;
  return Buffer.from(p.subarray(24, 40));
}

/** An unencrypted resPQ message answering `nonce` (84 bytes, a multiple of 4 for abridged). */
export function buildResPq(nonce: Uint8Array, nowSec = Math.floor(Date.now() / 1000)): Buffer {
  const body = Buffer.alloc(4 + 16 + 16 + 12 + 4 + 4 + 8);
  let o = body.writeUInt32LE(RES_PQ, 0);
  body.set(nonce.subarray(0, 16), o);
  o += 16;
  randomBytes(16).copy(body, o);
  o += 16;
  body[o] = EXAMPLE_PQ.length;
  EXAMPLE_PQ.copy(body, o + 1);
  o += 12;
  o = body.writeUInt32LE(VECTOR, o);
  o = body.writeUInt32LE(1, o);
  EXAMPLE_FINGERPRINT.copy(body, o);
  const msg = Buffer.alloc(20 + body.length);
  // Server msg_ids are ≈ unixtime·2^32 and ≡ 1 (mod 4) for responses.
  const lo = (randomBytes(4).readUInt32LE(0) & ~3) | 1;
  msg.writeBigUInt64LE((BigInt(nowSec) << 32n) | BigInt(lo >>> 0), 8);
  msg.writeUInt32LE(body.length, 16);
  body.copy(msg, 20);
  return msg;
}

/**
 * A client's first MTProto message: an unencrypted req_pq_multi (auth_key_id 0, msg_id, length,
 * constructor, 16-byte nonce), as a client library sends it.
 */
export function buildReqPqMulti(nonce: Uint8Array = randomBytes(16), msgId: bigint = 9n << 32n): Buffer {
  const m = Buffer.alloc(40);
  m.writeBigUInt64LE(msgId, 8);
  m.writeUInt32LE(20, 16);
  m.writeUInt32LE(REQ_PQ_MULTI, 20);
  Buffer.from(nonce).copy(m, 24);
  return m;
}
