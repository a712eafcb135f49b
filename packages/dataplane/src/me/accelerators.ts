/**
 * Fast primitives for the ME links, installed once per worker: Node's zlib CRC32, the native
 * addon's SSE4.2 CRC32-C and its in-place AES-256-CBC. Without them the protocol package's table
 * CRCs and node:crypto's copying cipher are used (together over a third of an ME worker's CPU in
 * `npm run bench`). MTEDGE_NATIVE_CRYPTO=0 keeps the addon out, as for the relay's AES-CTR.
 */
import zlib from 'node:zlib';
import { useCbcAccelerator, useCrcAccelerator, type BlockCipherFactory, type CrcFunction } from '@mtedge/protocol';
import { nativeAddon, type NativeAddon } from '@mtedge/native';

export interface MeAccelerators {
  readonly crc32: 'zlib' | 'js';
  readonly crc32c: 'native' | 'js';
  readonly cbc: 'native' | 'node';
}

function addon(): NativeAddon | undefined {
  if (process.env['MTEDGE_NATIVE_CRYPTO'] === '0') return undefined;
  try {
    return nativeAddon();
  } catch {
    return undefined;
  }
}

export function installMeAccelerators(): MeAccelerators {
  const n = addon();
  const crc32c: CrcFunction | undefined = n?.crc32c;
  const z = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  const crc32: CrcFunction | undefined = z ? (buf, start, end, prev) => z(buf.subarray(start, end), prev) : undefined;
  useCrcAccelerator({ ...(crc32 ? { crc32 } : {}), ...(crc32c ? { crc32c } : {}) });
  const cbc: BlockCipherFactory | undefined = n
    ? (key, iv, decrypt) => {
        const ctx = n.cbcCreate(key, iv, decrypt);
        return { apply: (buf) => n.cipherApply(ctx, buf) };
      }
    : undefined;
  useCbcAccelerator(cbc);
  return { crc32: crc32 ? 'zlib' : 'js', crc32c: crc32c ? 'native' : 'js', cbc: cbc ? 'native' : 'node' };
}
