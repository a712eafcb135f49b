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

let factory: BlockCipherFactory = nodeCbc;

/** Installs a faster implementation (undefined restores node:crypto). */
export function useCbcAccelerator(f: BlockCipherFactory | undefined): void {
  factory = f ?? nodeCbc;
}

export function createCbc(key: Uint8Array, iv: Uint8Array, decrypt: boolean): BlockCipher {
  return factory(key, iv, decrypt);
}
