/**
 * Middle-End RPC codecs (the TCP RPC protocol between an MTProxy and Telegram's middle proxies).
 * Facts from the official MTProxy sources: net/net-tcp-rpc-{common,client,server}.c for the
 * packet, nonce and handshake; mtproto/mtproto-proxy.c for RPC_PROXY_REQ/ANS and friends.
 * Every integer is little-endian. Pure: no I/O.
 */
import { Buffer } from 'node:buffer';
import { ProtocolError } from './errors.js';
import { rpcCrc, type CrcKind } from './me-crc.js';
import type { ProtoTag } from './obfuscated2.js';

export const RPC_NONCE = 0x7acb87aa;
export const RPC_HANDSHAKE = 0x7682eef5;
export const RPC_HANDSHAKE_ERROR = 0x6a27beda;
export const RPC_PROXY_REQ = 0x36cef1ee;
export const RPC_PROXY_ANS = 0x4403da0d;
export const RPC_SIMPLE_ACK = 0x3bac409b;
export const RPC_CLOSE_EXT = 0x5eb634a2;
export const RPC_CLOSE_CONN = 0x1fcf425d;
export const RPC_PING = 0x5730a2df;
export const RPC_PONG = 0x8430eaa7;
/** TL constructor of the ad-tag extra block in RPC_PROXY_REQ. */
export const TL_PROXY_TAG = 0xdb1e26ae;

export const RPC_CRYPTO_NONE = 0;
export const RPC_CRYPTO_AES = 1;
/** RPC_HANDSHAKE flag: CRC32-C for every packet after the handshake (RPCF_USE_CRC32C). */
export const RPCF_USE_CRC32C = 0x800;

/** Sequence numbers of the two handshake packets; data packets count from 0. */
export const RPC_SEQ_NONCE = -2;
export const RPC_SEQ_HANDSHAKE = -1;

/** RPC_PROXY_REQ flags (mtproto-proxy.c forward_tcp_query, net-tcp-rpc-common.h RPC_F_*). */
export const ME_FLAG_NOT_ENCRYPTED = 0x2;
export const ME_FLAG_HAS_AD_TAG = 0x8;
export const ME_FLAG_MAGIC = 0x1000;
export const ME_FLAG_EXTMODE2 = 0x20000;
export const ME_FLAG_PAD = 0x8000000;
export const ME_FLAG_INTERMEDIATE = 0x20000000;
export const ME_FLAG_ABRIDGED = 0x40000000;
export const ME_FLAG_QUICKACK = 0x80000000;

export const RPC_NONCE_LEN = 32;
export const RPC_HANDSHAKE_LEN = 32;
export const RPC_HANDSHAKE_ERROR_LEN = 20;
/** A packet shorter than this (other than a 4-byte padding word) is malformed (tcp_rpcc_parse_execute). */
export const RPC_MIN_PACKET = 16;
/** Default cap on one RPC packet; ANS payloads are client frames (≤ 1 MiB) plus a small header. */
export const RPC_DEFAULT_MAX_PACKET = (1 << 20) + 4096;
const PAD_WORD = 4;

export type MeErrorCode =
  | 'MTE_ERR_ME_PACKET_LENGTH'
  | 'MTE_ERR_ME_PACKET_CRC'
  | 'MTE_ERR_ME_PACKET_SEQ'
  | 'MTE_ERR_ME_MESSAGE_FORMAT'
  | 'MTE_ERR_ME_HANDSHAKE'
  | 'MTE_ERR_ME_CONFIG'
  | 'MTE_ERR_ME_SECRET';

export const ME_ERROR_CODES: readonly MeErrorCode[] = Object.freeze([
  'MTE_ERR_ME_PACKET_LENGTH',
  'MTE_ERR_ME_PACKET_CRC',
  'MTE_ERR_ME_PACKET_SEQ',
  'MTE_ERR_ME_MESSAGE_FORMAT',
  'MTE_ERR_ME_HANDSHAKE',
  'MTE_ERR_ME_CONFIG',
  'MTE_ERR_ME_SECRET',
] as const);

/** Any Middle-End codec failure; the link that produced it must be closed. */
export class MeProtocolError extends ProtocolError {
  declare readonly code: MeErrorCode;
  constructor(code: MeErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'MeProtocolError';
  }
}

// ---------------------------------------------------------------------------------------------
// Packet layer: len u32 | seq i32 | body | crc u32, len counting all of it.

/**
 * One packet in one allocation. `padTo16` appends 4-byte padding words (len = 4) so the
 * output fills whole AES-CBC blocks, the way the official sender pads encrypted output.
 */
export function encodeRpcPacket(seq: number, body: Uint8Array | readonly Uint8Array[], crc: CrcKind, padTo16 = false): Buffer {
  const parts = body instanceof Uint8Array ? [body] : body;
  let bodyLen = 0;
  for (const p of parts) bodyLen += p.length;
  if (bodyLen % 4 !== 0) throw new MeProtocolError('MTE_ERR_ME_MESSAGE_FORMAT', `RPC body length ${bodyLen} is not a multiple of 4`);
  const len = bodyLen + 12;
  const total = padTo16 ? (len + 15) & ~15 : len;
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32LE(len, 0);
  out.writeInt32LE(seq, 4);
  let o = 8;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  out.writeUInt32LE(rpcCrc(crc, out, 0, o), o);
  for (o += 4; o < total; o += 4) out.writeUInt32LE(PAD_WORD, o);
  return out;
}

/** Where an RPC packet's body starts (after its length and seq words). */
export const RPC_PACKET_BODY_AT = 8;
/** In a whole packet holding an RPC_PROXY_ANS (type, flags, conn_id, payload): the conn_id... */
export const RPC_ANS_CONN_ID_AT = RPC_PACKET_BODY_AT + 8;
/** ...and the payload, which runs up to the packet's CRC. */
export const RPC_ANS_PAYLOAD_AT = RPC_PACKET_BODY_AT + 16;

/** A whole packet's body (between its length and seq words and its CRC), as a view. */
export function rpcPacketBody(packet: Buffer): Buffer {
  return packet.subarray(RPC_PACKET_BODY_AT, packet.length - 4);
}

export interface RpcPacket {
  readonly seq: number;
  /** A view into the input (no copy). */
  readonly body: Buffer;
}

/**
 * Length of the packet (or 4-byte padding word) at offset `at` of `buf`, checked, or -1 while the
 * length word itself is incomplete. The bytes may not all be in yet: a hostile length is refused
 * before anyone waits for its body.
 */
function rpcPacketLength(buf: Buffer, at: number, maxPacket: number): number {
  if (buf.length - at < 4) return -1;
  const len = buf.readUInt32LE(at);
  if (len === PAD_WORD) return len;
  if (len < RPC_MIN_PACKET || len % 4 !== 0 || len > maxPacket) {
    throw new MeProtocolError('MTE_ERR_ME_PACKET_LENGTH', `bad RPC packet length ${len}`);
  }
  return len;
}

function checkRpcCrc(buf: Buffer, at: number, len: number, crc: CrcKind): void {
  const want = buf.readUInt32LE(at + len - 4);
  const got = rpcCrc(crc, buf, at, at + len - 4);
  if (want !== got) throw new MeProtocolError('MTE_ERR_ME_PACKET_CRC', `RPC packet ${crc} mismatch: ${got.toString(16)} != ${want.toString(16)}`);
}

/**
 * Streaming reader with the sequence check: push plaintext chunks, pull packets (views into the
 * chunks). A packet that spans chunks is joined once, when all of it is in, from just the bytes
 * it needs: the rest of the last chunk is never copied. The CRC kind switches after the handshake
 * (`crc` is public).
 */
export class RpcPacketReader {
  crc: CrcKind = 'crc32';
  /** Seq of the packet nextPacket() returned last. */
  lastSeq = 0;
  private buf: Buffer = Buffer.alloc(0);
  /** Parsed up to here in `buf` (an offset, so a packet costs one view, not a re-slice of the rest). */
  private at = 0;
  /** Chunks behind `buf`, not yet looked at. */
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private expected: number;

  constructor(
    firstSeq: number = RPC_SEQ_NONCE,
    private readonly maxPacket: number = RPC_DEFAULT_MAX_PACKET,
  ) {
    this.expected = firstSeq;
  }

  get buffered(): number {
    return this.buf.length - this.at + this.queued;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.buf.length === this.at && this.queue.length === 0) {
      this.buf = chunk;
      this.at = 0;
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
  }

  /** Removes and returns the unparsed bytes (the link switches from plaintext to AES here). */
  take(): Buffer {
    const rest = this.buf.subarray(this.at);
    const all = this.queue.length === 0 ? rest : Buffer.concat([rest, ...this.queue]);
    this.buf = Buffer.alloc(0);
    this.at = 0;
    this.queue.length = 0;
    this.queued = 0;
    return all;
  }

  /** Next packet, or null when more bytes are needed. Throws MeProtocolError on any violation. */
  next(): RpcPacket | null {
    const p = this.nextPacket();
    return p === null ? null : { seq: this.lastSeq, body: rpcPacketBody(p) };
  }

  /**
   * Next packet as one view of all of it (length, seq, body from RPC_PACKET_BODY_AT, CRC in the
   * last 4 bytes), checked; its seq is in `lastSeq`. The hot path: one allocation per packet.
   */
  nextPacket(): Buffer | null {
    for (;;) {
      const buf = this.buf;
      const at = this.at;
      const len = rpcPacketLength(buf, at, this.maxPacket);
      if (len < 0 || buf.length - at < len) {
        if (!this.refill()) return null;
        continue;
      }
      if (len === PAD_WORD) {
        this.at = at + 4;
        continue;
      }
      checkRpcCrc(buf, at, len, this.crc);
      const seq = buf.readInt32LE(at + 4);
      if (seq !== this.expected) throw new MeProtocolError('MTE_ERR_ME_PACKET_SEQ', `RPC packet seq ${seq}, expected ${this.expected}`);
      this.expected++;
      this.lastSeq = seq;
      this.at = at + len;
      return buf.subarray(at, at + len);
    }
  }

  /**
   * Moves queued bytes behind `buf`: the next chunk when `buf` is empty, else only what completes
   * the length word or the packet `buf` starts (its length was checked by rpcPacketLength), once
   * enough is queued. False when that is not possible yet.
   */
  private refill(): boolean {
    if (this.queue.length === 0) return false;
    if (this.at > 0) {
      this.buf = this.buf.subarray(this.at);
      this.at = 0;
    }
    if (this.buf.length === 0) {
      this.buf = this.queue.shift()!;
      this.queued -= this.buf.length;
      return true;
    }
    const want = this.buf.length < 4 ? 4 : this.buf.readUInt32LE(0);
    // Not whole yet with everything queued: wait, so a big packet is joined once, not per chunk.
    if (this.buf.length + this.queued < want) return false;
    const parts = [this.buf];
    let have = this.buf.length;
    while (have < want && this.queue.length > 0) {
      const c = this.queue[0]!;
      const n = Math.min(c.length, want - have);
      if (n === c.length) this.queue.shift();
      else this.queue[0] = c.subarray(n);
      this.queued -= n;
      parts.push(n === c.length ? c : c.subarray(0, n));
      have += n;
    }
    this.buf = Buffer.concat(parts, have);
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Handshake messages.

export interface RpcNonce {
  readonly keySelect: number;
  readonly schema: number;
  readonly ts: number;
  readonly nonce: Buffer;
}

export function encodeRpcNonce(n: RpcNonce): Buffer {
  if (n.nonce.length !== 16) throw new MeProtocolError('MTE_ERR_ME_MESSAGE_FORMAT', 'RPC_NONCE nonce must be 16 bytes');
  const out = Buffer.allocUnsafe(RPC_NONCE_LEN);
  out.writeUInt32LE(RPC_NONCE, 0);
  out.writeInt32LE(n.keySelect | 0, 4);
  out.writeInt32LE(n.schema | 0, 8);
  out.writeInt32LE(n.ts | 0, 12);
  out.set(n.nonce, 16);
  return out;
}

export function decodeRpcNonce(body: Buffer): RpcNonce {
  if (body.length !== RPC_NONCE_LEN || body.readUInt32LE(0) !== RPC_NONCE) {
    throw new MeProtocolError('MTE_ERR_ME_HANDSHAKE', `not an RPC_NONCE (${body.length} bytes)`);
  }
  return { keySelect: body.readInt32LE(4), schema: body.readInt32LE(8), ts: body.readInt32LE(12), nonce: Buffer.from(body.subarray(16, 32)) };
}

/** key_select = the first 4 bytes of proxy-secret read as a little-endian int. */
export function proxySecretKeySelect(secret: Uint8Array): number {
  return Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength).readInt32LE(0);
}

/** process_id: ip u32 | port u16 | pid u16 | utime u32 (12 bytes). */
export interface RpcPid {
  readonly ip: number;
  readonly port: number;
  readonly pid: number;
  readonly utime: number;
}

function writePid(out: Buffer, o: number, p: RpcPid): void {
  out.writeUInt32LE(p.ip >>> 0, o);
  out.writeUInt16LE(p.port & 0xffff, o + 4);
  out.writeUInt16LE(p.pid & 0xffff, o + 6);
  out.writeUInt32LE(p.utime >>> 0, o + 8);
}

function readPid(b: Buffer, o: number): RpcPid {
  return { ip: b.readUInt32LE(o), port: b.readUInt16LE(o + 4), pid: b.readUInt16LE(o + 6), utime: b.readUInt32LE(o + 8) };
}

export interface RpcHandshake {
  readonly flags: number;
  readonly senderPid: RpcPid;
  readonly peerPid: RpcPid;
}

export function encodeRpcHandshake(h: RpcHandshake): Buffer {
  const out = Buffer.allocUnsafe(RPC_HANDSHAKE_LEN);
  out.writeUInt32LE(RPC_HANDSHAKE, 0);
  out.writeInt32LE(h.flags | 0, 4);
  writePid(out, 8, h.senderPid);
  writePid(out, 20, h.peerPid);
  return out;
}

export interface RpcHandshakeError {
  readonly errorCode: number;
  readonly senderPid: RpcPid;
}

export function encodeRpcHandshakeError(e: RpcHandshakeError): Buffer {
  const out = Buffer.allocUnsafe(RPC_HANDSHAKE_ERROR_LEN);
  out.writeUInt32LE(RPC_HANDSHAKE_ERROR, 0);
  out.writeInt32LE(e.errorCode | 0, 4);
  writePid(out, 8, e.senderPid);
  return out;
}

/** The peer's answer at seq -1: a handshake, or a handshake error saying why it refused. */
export function decodeRpcHandshake(body: Buffer): { readonly type: 'handshake'; readonly hs: RpcHandshake } | { readonly type: 'error'; readonly err: RpcHandshakeError } {
  const op = body.length >= 4 ? body.readUInt32LE(0) : 0;
  if (op === RPC_HANDSHAKE && body.length === RPC_HANDSHAKE_LEN) {
    return { type: 'handshake', hs: { flags: body.readInt32LE(4), senderPid: readPid(body, 8), peerPid: readPid(body, 20) } };
  }
  if (op === RPC_HANDSHAKE_ERROR && body.length === RPC_HANDSHAKE_ERROR_LEN) {
    return { type: 'error', err: { errorCode: body.readInt32LE(4), senderPid: readPid(body, 8) } };
  }
  throw new MeProtocolError('MTE_ERR_ME_HANDSHAKE', `not an RPC_HANDSHAKE (op ${op.toString(16)}, ${body.length} bytes)`);
}

// ---------------------------------------------------------------------------------------------
// Proxy messages.

/**
 * Flags the official proxy puts on every request from an obfuscated2 client: the transport
 * (RPC_F_MEDIUM / RPC_F_COMPACT) plus EXTMODE2, the 0x1000 magic, 0x2 for unencrypted
 * (auth_key_id 0) messages, 0x8 with an ad tag, the quick-ack bit when the client asked.
 * RPC_F_PAD is not forwarded by the official proxy (do_rpcs_execute masks it out); `padFlag`
 * sets it for MEs that want it.
 */
export function proxyReqFlags(tag: ProtoTag, o: { readonly hasAdTag: boolean; readonly quickAck: boolean; readonly notEncrypted: boolean; readonly padFlag?: boolean }): number {
  let f = ME_FLAG_MAGIC | ME_FLAG_EXTMODE2;
  f |= tag === 'abridged' ? ME_FLAG_ABRIDGED : ME_FLAG_INTERMEDIATE;
  if (tag === 'padded' && o.padFlag === true) f |= ME_FLAG_PAD;
  if (o.hasAdTag) f |= ME_FLAG_HAS_AD_TAG;
  if (o.notEncrypted) f |= ME_FLAG_NOT_ENCRYPTED;
  if (o.quickAck) f |= ME_FLAG_QUICKACK;
  return f >>> 0;
}

/** An IPv4 address (4 bytes, network order) as the 16-byte v4-mapped form RPC_PROXY_REQ carries. */
export function ipv4Mapped(ip4: Uint8Array): Buffer {
  const out = Buffer.alloc(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(ip4.subarray(0, 4), 12);
  return out;
}

export interface ProxyReqHeader {
  readonly flags: number;
  readonly connId: bigint;
  /** 16 bytes (IPv6 or v4-mapped). */
  readonly clientIp: Uint8Array;
  readonly clientPort: number;
  readonly proxyIp: Uint8Array;
  readonly proxyPort: number;
  /** 16 bytes; must be present iff flags has ME_FLAG_HAS_AD_TAG. */
  readonly adTag?: Uint8Array | undefined;
}

const PROXY_REQ_FIXED = 4 + 4 + 8 + 16 + 4 + 16 + 4;
/** Where the flags word sits in an RPC_PROXY_REQ header (after the op), for header templates. */
export const PROXY_REQ_FLAGS_AT = 4;
// TL_PROXY_TAG + TL string of 16 bytes (length byte, bytes, 3 zero bytes).
const AD_TAG_EXTRA = 4 + 1 + 16 + 3;

export function proxyReqHeaderLength(hasAdTag: boolean): number {
  return PROXY_REQ_FIXED + (hasAdTag ? 4 + AD_TAG_EXTRA : 0);
}

/** Writes the RPC_PROXY_REQ header (everything before the client's frame) into `out` at `o`. */
export function writeProxyReqHeader(out: Buffer, o: number, h: ProxyReqHeader): number {
  const start = o;
  const withTag = (h.flags & ME_FLAG_HAS_AD_TAG) !== 0;
  if (withTag !== (h.adTag !== undefined)) throw new MeProtocolError('MTE_ERR_ME_MESSAGE_FORMAT', 'ad tag flag and ad tag disagree');
  if (h.clientIp.length !== 16 || h.proxyIp.length !== 16) throw new MeProtocolError('MTE_ERR_ME_MESSAGE_FORMAT', 'RPC_PROXY_REQ addresses must be 16 bytes');
  o = out.writeUInt32LE(RPC_PROXY_REQ, o);
  o = out.writeUInt32LE(h.flags >>> 0, o);
  o = out.writeBigUInt64LE(BigInt.asUintN(64, h.connId), o);
  out.set(h.clientIp, o);
  o = out.writeUInt32LE(h.clientPort >>> 0, o + 16);
  out.set(h.proxyIp, o);
  o = out.writeUInt32LE(h.proxyPort >>> 0, o + 16);
  if (h.adTag !== undefined) {
    if (h.adTag.length !== 16) throw new MeProtocolError('MTE_ERR_ME_MESSAGE_FORMAT', 'ad tag must be 16 bytes');
    o = out.writeUInt32LE(AD_TAG_EXTRA, o);
    o = out.writeUInt32LE(TL_PROXY_TAG, o);
    // TL string: one length byte, the bytes, zero padding to a multiple of 4.
    out[o++] = 16;
    out.set(h.adTag, o);
    o += 16;
    out[o++] = 0;
    out[o++] = 0;
    out[o++] = 0;
  }
  return o - start;
}

/** A whole RPC_PROXY_REQ body; the frame is rounded down to a multiple of 4 (padded clients). */
export function encodeProxyReq(h: ProxyReqHeader, frame: Uint8Array): Buffer {
  const n = frame.length & ~3;
  const hl = proxyReqHeaderLength(h.adTag !== undefined);
  const out = Buffer.allocUnsafe(hl + n);
  writeProxyReqHeader(out, 0, h);
  out.set(frame.subarray(0, n), hl);
  return out;
}

export interface ProxyReq extends ProxyReqHeader {
  readonly adTag?: Buffer | undefined;
  readonly clientIp: Buffer;
  readonly proxyIp: Buffer;
  /** The raw extra block (empty when absent). */
  readonly extra: Buffer;
  readonly payload: Buffer;
}

/** Server side (fake ME, tests): parses a request body. */
export function decodeProxyReq(body: Buffer): ProxyReq {
  const bad = (why: string): never => {
    throw new MeProtocolError('MTE_ERR_ME_MESSAGE_FORMAT', `RPC_PROXY_REQ: ${why}`);
  };
  if (body.length < PROXY_REQ_FIXED || body.readUInt32LE(0) !== RPC_PROXY_REQ) bad('too short or wrong type');
  const flags = body.readUInt32LE(4);
  const connId = body.readBigUInt64LE(8);
  const clientIp = Buffer.from(body.subarray(16, 32));
  const clientPort = body.readUInt32LE(32);
  const proxyIp = Buffer.from(body.subarray(36, 52));
  const proxyPort = body.readUInt32LE(52);
  let o = PROXY_REQ_FIXED;
  let extra: Buffer = Buffer.alloc(0);
  let adTag: Buffer | undefined;
  if (flags & 12) {
    if (body.length < o + 4) bad('missing extra size');
    const size = body.readUInt32LE(o);
    o += 4;
    if (size % 4 !== 0 || size > body.length - o) bad(`bad extra size ${size}`);
    extra = body.subarray(o, o + size);
    o += size;
    if (flags & ME_FLAG_HAS_AD_TAG) {
      if (extra.length < 8 || extra.readUInt32LE(0) !== TL_PROXY_TAG || extra[4] !== 16 || extra.length < 4 + 1 + 16) bad('bad ad tag block');
      adTag = Buffer.from(extra.subarray(5, 21));
    }
  }
  return { flags, connId, clientIp, clientPort, proxyIp, proxyPort, adTag, extra, payload: body.subarray(o) };
}

export function encodeProxyAns(flags: number, connId: bigint, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(16 + payload.length);
  out.writeUInt32LE(RPC_PROXY_ANS, 0);
  out.writeUInt32LE(flags >>> 0, 4);
  out.writeBigUInt64LE(BigInt.asUintN(64, connId), 8);
  out.set(payload, 16);
  return out;
}

export function encodeSimpleAck(connId: bigint, confirm: number): Buffer {
  const out = Buffer.allocUnsafe(16);
  out.writeUInt32LE(RPC_SIMPLE_ACK, 0);
  out.writeBigUInt64LE(BigInt.asUintN(64, connId), 4);
  out.writeUInt32LE(confirm >>> 0, 12);
  return out;
}

function opWithId(op: number, id: bigint): Buffer {
  const out = Buffer.allocUnsafe(12);
  out.writeUInt32LE(op, 0);
  out.writeBigUInt64LE(BigInt.asUintN(64, id), 4);
  return out;
}

export const encodeCloseExt = (connId: bigint): Buffer => opWithId(RPC_CLOSE_EXT, connId);
export const encodeCloseConn = (connId: bigint): Buffer => opWithId(RPC_CLOSE_CONN, connId);
export const encodePing = (pingId: bigint): Buffer => opWithId(RPC_PING, pingId);
export const encodePong = (pingId: bigint): Buffer => opWithId(RPC_PONG, pingId);

export type MeMessage =
  | { readonly type: 'proxy_ans'; readonly flags: number; readonly connId: bigint; readonly payload: Buffer }
  | { readonly type: 'simple_ack'; readonly connId: bigint; readonly confirm: number }
  | { readonly type: 'close_ext'; readonly connId: bigint }
  | { readonly type: 'close_conn'; readonly connId: bigint }
  | { readonly type: 'ping'; readonly pingId: bigint }
  | { readonly type: 'pong'; readonly pingId: bigint }
  | { readonly type: 'proxy_req' }
  | { readonly type: 'unknown'; readonly op: number };

/**
 * Classifies a data packet body (seq ≥ 0). Known types with a wrong size throw; unknown types
 * are returned as such (the official proxy logs and ignores them).
 */
export function decodeMeMessage(body: Buffer): MeMessage {
  if (body.length < 4) throw new MeProtocolError('MTE_ERR_ME_MESSAGE_FORMAT', `RPC body of ${body.length} bytes`);
  const op = body.readUInt32LE(0);
  const sized = (n: number, min = false): void => {
    if (min ? body.length < n : body.length !== n) throw new MeProtocolError('MTE_ERR_ME_MESSAGE_FORMAT', `RPC op ${op.toString(16)} with ${body.length} bytes`);
  };
  switch (op) {
    case RPC_PROXY_ANS:
      sized(16, true);
      return { type: 'proxy_ans', flags: body.readUInt32LE(4), connId: body.readBigUInt64LE(8), payload: body.subarray(16) };
    case RPC_SIMPLE_ACK:
      sized(16);
      return { type: 'simple_ack', connId: body.readBigUInt64LE(4), confirm: body.readUInt32LE(12) };
    case RPC_CLOSE_EXT:
      sized(12);
      return { type: 'close_ext', connId: body.readBigUInt64LE(4) };
    case RPC_CLOSE_CONN:
      sized(12);
      return { type: 'close_conn', connId: body.readBigUInt64LE(4) };
    case RPC_PING:
      sized(12);
      return { type: 'ping', pingId: body.readBigUInt64LE(4) };
    case RPC_PONG:
      sized(12);
      return { type: 'pong', pingId: body.readBigUInt64LE(4) };
    case RPC_PROXY_REQ:
      sized(PROXY_REQ_FIXED, true);
      return { type: 'proxy_req' };
    default:
      return { type: 'unknown', op };
  }
}

/**
 * The 4 bytes a client gets for RPC_SIMPLE_ACK (push_rpc_confirmation): the confirm word sent raw,
 * byte-swapped for abridged clients, so it reads as a quick-ack in the client's framing.
 */
export function quickAckBytes(tag: ProtoTag, confirm: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  if (tag === 'abridged') out.writeUInt32BE(confirm >>> 0, 0);
  else out.writeUInt32LE(confirm >>> 0, 0);
  return out;
}
