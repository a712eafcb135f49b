/**
 * Fast checksums for the ME links: Node's zlib CRC32 and the native addon's SSE4.2 CRC32-C,
 * installed once per worker. Without them the protocol package's table code is used (a fifth of
 * an ME worker's CPU in `npm run bench`).
 */
import zlib from 'node:zlib';
import { useCrcAccelerator, type CrcFunction } from '@mtedge/protocol';
import { nativeAddon } from '@mtedge/native';

export function installCrcAccelerator(): { crc32: 'zlib' | 'js'; crc32c: 'native' | 'js' } {
  let crc32c: CrcFunction | undefined;
  try {
    crc32c = process.env['MTEDGE_NATIVE_CRYPTO'] === '0' ? undefined : nativeAddon().crc32c;
  } catch {
    crc32c = undefined;
  }
  const z = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  const crc32: CrcFunction | undefined = z ? (buf, start, end, prev) => z(buf.subarray(start, end), prev) : undefined;
  useCrcAccelerator({ ...(crc32 ? { crc32 } : {}), ...(crc32c ? { crc32c } : {}) });
  return { crc32: crc32 ? 'zlib' : 'js', crc32c: crc32c ? 'native' : 'js' };
}
