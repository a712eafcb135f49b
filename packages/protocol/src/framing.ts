import { Buffer } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import { FrameFormatError, FrameTooLargeError } from './errors.js';
import type { ProtoTag } from './obfuscated2.js';

/** Default cap on one transport frame; MTProto messages to/from DCs stay well under 1 MiB. */
export const DEFAULT_MAX_FRAME = 1024 * 1024;
/** Abridged short form covers lengths up to 0x7e words; 0x7f announces a 3-byte word count. */
const ABRIDGED_LONG_MARKER = 0x7f;
const QUICK_ACK_BIT = 0x80000000;
const MAX_PAD = 15;

export interface DecodedFrame {
  /** A view into the decoder's input (no copy); padded frames keep their padding. */
  payload: Buffer;
  consumed: number;
  /** Abridged: length byte bit 7; (padded) intermediate: length bit 31. */
  quickAck: boolean;
}

/** `decode(buf)` returns the first frame in `buf`, or null when more bytes are needed. */
export interface FrameDecoder {
  decode(buf: Buffer): DecodedFrame | null;
  /**
   * Bytes the frame starting at `buf[0]` takes in all (header + payload), or -1 while its header
   * is incomplete (then `buf` holds fewer than 4 bytes). Throws like decode on a too-large frame.
   */
  frameLength(buf: Buffer): number;
}

class AbridgedDecoder implements FrameDecoder {
  constructor(private readonly maxFrame: number) {}
  frameLength(buf: Buffer): number {
    if (buf.length < 1) return -1;
    const words = (buf[0] as number) & 0x7f;
    let header = 1;
    let len = words * 4;
    if (words === ABRIDGED_LONG_MARKER) {
      if (buf.length < 4) return -1;
      header = 4;
      len = buf.readUIntLE(1, 3) * 4;
    }
    if (len > this.maxFrame) throw new FrameTooLargeError(len, this.maxFrame);
    return header + len;
  }
  decode(buf: Buffer): DecodedFrame | null {
    const total = this.frameLength(buf);
    if (total < 0 || buf.length < total) return null;
    const first = buf[0] as number;
    const header = (first & 0x7f) === ABRIDGED_LONG_MARKER ? 4 : 1;
    return { payload: buf.subarray(header, total), consumed: total, quickAck: (first & 0x80) !== 0 };
  }
}

class IntermediateDecoder implements FrameDecoder {
  constructor(private readonly maxFrame: number) {}
  frameLength(buf: Buffer): number {
    if (buf.length < 4) return -1;
    const len = buf.readUInt32LE(0) & 0x7fffffff;
    if (len > this.maxFrame) throw new FrameTooLargeError(len, this.maxFrame);
    return 4 + len;
  }
  decode(buf: Buffer): DecodedFrame | null {
    const total = this.frameLength(buf);
    if (total < 0 || buf.length < total) return null;
    return { payload: buf.subarray(4, total), consumed: total, quickAck: (buf.readUInt32LE(0) & QUICK_ACK_BIT) !== 0 };
  }
}

/** Stateless per-tag decoder; padded intermediate shares the intermediate wire format. */
export function createFrameDecoder(tag: ProtoTag, maxFrame: number = DEFAULT_MAX_FRAME): FrameDecoder {
  if (!Number.isInteger(maxFrame) || maxFrame < 0) throw new RangeError(`maxFrame must be a non-negative integer`);
  switch (tag) {
    case 'abridged':
      return new AbridgedDecoder(maxFrame);
    case 'intermediate':
    case 'padded':
      return new IntermediateDecoder(maxFrame);
    default: {
      const never: never = tag;
      throw new TypeError(`unknown proto tag ${String(never)}`);
    }
  }
}

/** Length of the header `encodeFrame` would write for a payload of `len` bytes. */
export function frameHeaderLength(tag: ProtoTag, len: number): number {
  if (tag === 'abridged') return len / 4 < ABRIDGED_LONG_MARKER ? 1 : 4;
  return 4;
}

/**
 * Writes the header for a `payloadLen`-byte frame (padding included for padded) at `offset` and
 * returns its length, so a caller can frame into a reused buffer or a writev list.
 */
export function writeFrameHeader(target: Buffer, offset: number, tag: ProtoTag, payloadLen: number): number {
  if (tag === 'abridged') {
    if (payloadLen % 4 !== 0) throw new FrameFormatError(`abridged payload length ${payloadLen} is not a multiple of 4`);
    const words = payloadLen / 4;
    if (words > 0xffffff) throw new FrameFormatError(`abridged payload length ${payloadLen} too large`);
    if (words < ABRIDGED_LONG_MARKER) {
      target[offset] = words;
      return 1;
    }
    target[offset] = ABRIDGED_LONG_MARKER;
    target.writeUIntLE(words, offset + 1, 3);
    return 4;
  }
  if (!Number.isInteger(payloadLen) || payloadLen < 0 || payloadLen > 0x7fffffff) {
    throw new FrameFormatError(`payload length ${payloadLen} out of range`);
  }
  target.writeUInt32LE(payloadLen, offset);
  return 4;
}

/**
 * One frame in one allocation. Abridged needs a multiple of 4 (< 2^26 bytes); padded appends
 * `padLen` (default random 0..15) random bytes counted in the length.
 */
export function encodeFrame(tag: ProtoTag, payload: Uint8Array, padLen?: number): Buffer {
  const len = payload.length;
  let pad = 0;
  if (tag === 'padded') {
    pad = padLen ?? randomPadLength();
    if (!Number.isInteger(pad) || pad < 0 || pad > MAX_PAD) throw new FrameFormatError(`padLen ${pad} not in 0..15`);
  }
  const header = frameHeaderLength(tag, len);
  const out = Buffer.allocUnsafe(header + len + pad);
  writeFrameHeader(out, 0, tag, len + pad);
  out.set(payload, header);
  if (pad > 0) fillRandom(out, header + len, pad);
  return out;
}

/** Bytes `frameInPlace` may write before the payload (the longest header). */
export const FRAME_IN_PLACE_HEADROOM = 4;
/** Bytes `frameInPlace` may write after the payload (padding). */
export const FRAME_IN_PLACE_TAILROOM = 3;

/**
 * Frames the `len` payload bytes at `start` of `buf` without copying them: the header goes into
 * the 1-4 bytes right before them and a padded frame's padding into the 0-3 bytes right after
 * (0-3 random bytes is what the official proxy adds to what it sends a padded client). `buf` must
 * hold that room and the caller must own it (an RPC_PROXY_ANS payload has its conn_id before it
 * and the packet's checked CRC after it). Returns the frame as a view of `buf`.
 */
export function frameInPlace(tag: ProtoTag, buf: Buffer, start: number, len: number): Buffer {
  const pad = tag === 'padded' ? (RANDOM_POOL[takeRandom(1)]! & FRAME_IN_PLACE_TAILROOM) : 0;
  const header = frameHeaderLength(tag, len);
  if (start < header || start + len + pad > buf.length) throw new FrameFormatError('no room around the payload to frame it in place');
  writeFrameHeader(buf, start - header, tag, len + pad);
  if (pad > 0) fillRandom(buf, start + len, pad);
  return buf.subarray(start - header, start + len + pad);
}

/**
 * Padding only has to look random on the wire, so it is drawn from a pooled block refilled every
 * 4 KiB instead of two crypto calls per frame (a few % of an ME worker's CPU).
 */
const RANDOM_POOL = Buffer.allocUnsafe(4096);
let poolPos = RANDOM_POOL.length;

function takeRandom(n: number): number {
  if (poolPos + n > RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    poolPos = 0;
  }
  const at = poolPos;
  poolPos += n;
  return at;
}

function randomPadLength(): number {
  return RANDOM_POOL[takeRandom(1)]! & MAX_PAD;
}

function fillRandom(target: Buffer, offset: number, n: number): void {
  const at = takeRandom(n);
  RANDOM_POOL.copy(target, offset, at, at + n);
}
