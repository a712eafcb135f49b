// Transport framing from PROTOCOL-NOTES.md ("Framing after the init"), used by the simulator to
// build frames and by the fake DC to read them. Lengths from the wire are capped.
import { randomBytes, randomInt } from 'node:crypto';
import { TestkitProtocolError } from '../errors.js';
import type { ProtoTag } from './obf2.js';

export const DEFAULT_MAX_FRAME = 16 * 1024 * 1024;

export interface DecodedFrame {
  payload: Buffer;
  quickAck: boolean;
}

/** Encodes one frame. `padLen` applies to the padded tag only (default: random 0..15). */
export function frameEncode(tag: ProtoTag, payload: Uint8Array, padLen?: number): Buffer {
  switch (tag) {
    case 'abridged': {
      if (payload.length % 4 !== 0) throw new TestkitProtocolError('abridged payload must be a multiple of 4');
      const words = payload.length / 4;
      if (words < 0x7f) {
        const out = Buffer.allocUnsafe(1 + payload.length);
        out[0] = words;
        out.set(payload, 1);
        return out;
      }
      const out = Buffer.allocUnsafe(4 + payload.length);
      out[0] = 0x7f;
      out.writeUIntLE(words, 1, 3);
      out.set(payload, 4);
      return out;
    }
    case 'intermediate': {
      const out = Buffer.allocUnsafe(4 + payload.length);
      out.writeUInt32LE(payload.length, 0);
      out.set(payload, 4);
      return out;
    }
    case 'padded': {
      const pad = padLen ?? randomInt(0, 16);
      const out = Buffer.allocUnsafe(4 + payload.length + pad);
      out.writeUInt32LE(payload.length + pad, 0);
      out.set(payload, 4);
      randomBytes(pad).copy(out, 4 + payload.length);
      return out;
    }
  }
}

/**
 * Streaming frame reader: push chunks, pull frames. Chunks are kept by reference and joined only
 * once a whole frame is in, so a large frame arriving in many chunks is copied once, not per chunk.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private total = 0;
  constructor(readonly tag: ProtoTag, readonly maxFrame = DEFAULT_MAX_FRAME) {}

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.total += chunk.length;
  }

  get buffered(): number {
    return this.total;
  }

  private compact(): Buffer {
    const one = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.total);
    this.chunks = [one];
    return one;
  }

  /** Next whole frame, or null when more bytes are needed. Throws on a length over the cap. */
  next(): DecodedFrame | null {
    if (this.total === 0) return null;
    let b = this.chunks[0] as Buffer;
    if (b.length < 4 && this.chunks.length > 1) b = this.compact();
    let header: number;
    let len: number;
    let quickAck = false;
    if (this.tag === 'abridged') {
      const first = b[0] as number;
      quickAck = (first & 0x80) !== 0;
      if ((first & 0x7f) === 0x7f) {
        if (b.length < 4) return null;
        header = 4;
        len = b.readUIntLE(1, 3) * 4;
      } else {
        header = 1;
        len = (first & 0x7f) * 4;
      }
    } else {
      if (b.length < 4) return null;
      header = 4;
      const word = b.readUInt32LE(0);
      quickAck = (word & 0x80000000) !== 0;
      len = word & 0x7fffffff;
    }
    if (len > this.maxFrame) throw new TestkitProtocolError(`frame length ${len} over cap ${this.maxFrame}`);
    const need = header + len;
    if (this.total < need) return null;
    if (b.length < need) b = this.compact();
    const payload = b.subarray(header, need);
    const rest = b.subarray(need);
    if (rest.length === 0) this.chunks.shift();
    else this.chunks[0] = rest;
    this.total -= need;
    return { payload, quickAck };
  }
}
