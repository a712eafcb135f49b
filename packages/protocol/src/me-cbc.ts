/**
 * AES-256-CBC for Middle-End links as an in-place transform of whole 16-byte blocks. The default
 * runs on node:crypto (one output Buffer per call, copied back); a worker installs the native
 * addon's in-place cipher instead, the way it installs the CRC accelerator.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

export interface BlockCipher {
  /** Encrypts or decrypts `buf` where it lies; `buf.length` is a multiple of 16. */
  apply(buf: Uint8Array): void;
}

export type BlockCipherFactory = (key: Uint8Array, iv: Uint8Array, decrypt: boolean) => BlockCipher;

const nodeCbc: BlockCipherFactory = (key, iv, decrypt) => {
  const c = (decrypt ? createDecipheriv('aes-256-cbc', key, iv) : createCipheriv('aes-256-cbc', key, iv)).setAutoPadding(false);
  return {
    apply(buf: Uint8Array): void {
      buf.set(c.update(buf));
    },
  };
};

/** Encrypts (or decrypts) each buffer with its own cipher, in place; the ciphers are distinct. */
export type BlockCipherMany = (ciphers: readonly BlockCipher[], bufs: readonly Uint8Array[]) => void;

const oneByOne: BlockCipherMany = (ciphers, bufs) => {
  for (let i = 0; i < ciphers.length; i++) ciphers[i]!.apply(bufs[i]!);
};

let factory: BlockCipherFactory = nodeCbc;
let many: BlockCipherMany = oneByOne;

/**
 * Installs a faster implementation (undefined restores node:crypto). `applyMany` may process
 * several independent streams together (CBC encryption is serial within one stream only).
 */
export function useCbcAccelerator(f: BlockCipherFactory | undefined, applyMany?: BlockCipherMany): void {
  factory = f ?? nodeCbc;
  many = f !== undefined && applyMany !== undefined ? applyMany : oneByOne;
}

/** Runs several streams' buffers through their ciphers in one go. */
export function applyCbcMany(ciphers: readonly BlockCipher[], bufs: readonly Uint8Array[]): void {
  if (ciphers.length !== bufs.length) throw new RangeError('applyCbcMany: one buffer per cipher');
  many(ciphers, bufs);
}

export function createCbc(key: Uint8Array, iv: Uint8Array, decrypt: boolean): BlockCipher {
  return factory(key, iv, decrypt);
}
