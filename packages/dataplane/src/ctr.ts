/**
 * The relay's AES-256-CTR streams. With the native addon each chunk is transformed where it lies
 * (no output Buffer per chunk); without it, node:crypto's update() is used and copied back, so
 * callers see the same in-place contract either way.
 */
import { createCipheriv, type Cipher } from 'node:crypto';
import type { NativeAddon, NativeCtrContext } from '@mtedge/native';
import { cryptoAddon } from './crypto-addon.js';

export interface CtrStream {
  /** Encrypts/decrypts `buf` in place (CTR is symmetric) and returns it. */
  apply(buf: Buffer): Buffer;
  readonly kind: 'native' | 'node';
}

class NativeCtr implements CtrStream {
  readonly kind = 'native';
  constructor(
    private readonly n: NativeAddon,
    private readonly ctx: NativeCtrContext,
  ) {}
  apply(buf: Buffer): Buffer {
    this.n.ctrApply(this.ctx, buf);
    return buf;
  }
}

class NodeCtr implements CtrStream {
  readonly kind = 'node';
  constructor(private readonly cipher: Cipher) {}
  apply(buf: Buffer): Buffer {
    this.cipher.update(buf).copy(buf);
    return buf;
  }
}

/** A CTR stream at byte offset `skip` of the keystream (the init already consumed it). */
export function createCtrStream(key: Buffer, iv: Buffer, skip: number, preferNative = true): CtrStream {
  const n = preferNative ? cryptoAddon() : null;
  const stream: CtrStream = n ? new NativeCtr(n, n.ctrCreate(key, iv)) : new NodeCtr(createCipheriv('aes-256-ctr', key, iv));
  if (skip > 0) stream.apply(Buffer.alloc(skip));
  return stream;
}
