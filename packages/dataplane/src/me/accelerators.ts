/**
 * Fast primitives for the ME links, installed once per worker: Node's zlib CRC32, the native
 * addon's SSE4.2 CRC32-C, its in-place AES-256-CBC decryption and its AES-NI encryption lanes
 * (a worker's links encrypted together, see packages/native/csrc/cbc_lanes.c). Without them the protocol package's table
 * CRCs and node:crypto's copying cipher are used (together over a third of an ME worker's CPU in
 * `npm run bench`). MTEDGE_NATIVE_CRYPTO=0 keeps the addon out, as for the relay's AES-CTR.
 */
import zlib from 'node:zlib';
import { useCbcAccelerator, useCrcAccelerator, type BlockCipher, type BlockCipherFactory, type CrcFunction } from '@mtedge/protocol';
import type { NativeAddon, NativeCbcLane } from '@mtedge/native';
import { cryptoAddon } from '../crypto-addon.js';

export interface MeAccelerators {
  readonly crc32: 'zlib' | 'js';
  readonly crc32c: 'native' | 'js';
  /** native-lanes: encryption on interleaved AES-NI lanes, decryption on OpenSSL. */
  readonly cbc: 'native-lanes' | 'native' | 'node';
}


type LaneEncrypt = NonNullable<NativeAddon['cbcLaneEncrypt']>;

class LaneCipher implements BlockCipher {
  constructor(
    readonly lane: NativeCbcLane,
    private readonly encrypt: LaneEncrypt,
  ) {}
  apply(buf: Uint8Array): void {
    this.encrypt([this.lane], [buf]);
  }
}

/** One native call for every lane cipher (64 at most per call), the others one by one. */
function applyLanes(ciphers: readonly BlockCipher[], bufs: readonly Uint8Array[], encrypt: LaneEncrypt): void {
  const lanes: NativeCbcLane[] = [];
  const laneBufs: Uint8Array[] = [];
  for (let i = 0; i < ciphers.length; i++) {
    const c = ciphers[i]!;
    if (c instanceof LaneCipher && lanes.length < 64) {
      lanes.push(c.lane);
      laneBufs.push(bufs[i]!);
    } else c.apply(bufs[i]!);
  }
  if (lanes.length > 0) encrypt(lanes, laneBufs);
}

export function installMeAccelerators(): MeAccelerators {
  const n = cryptoAddon() ?? undefined;
  const crc32c: CrcFunction | undefined = n?.crc32c;
  const z = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  const crc32: CrcFunction | undefined = z ? (buf, start, end, prev) => z(buf.subarray(start, end), prev) : undefined;
  useCrcAccelerator({ ...(crc32 ? { crc32 } : {}), ...(crc32c ? { crc32c } : {}) });
  const laneCreate = n?.cbcLaneCreate;
  const laneEncrypt = n?.cbcLaneEncrypt;
  const lanes = typeof laneCreate === 'function' && typeof laneEncrypt === 'function';
  // An addon built before these existed must not break every link: fall back to node:crypto.
  const evpCbc = n !== undefined && typeof n.cbcCreate === 'function' && typeof n.cipherApply === 'function';
  const cbc: BlockCipherFactory | undefined = n && evpCbc
    ? (key, iv, decrypt) => {
        // Encryption on AES-NI lanes (several links interleaved), decryption on OpenSSL (CBC
        // decryption is parallel within a stream already).
        if (!decrypt && lanes) return new LaneCipher(laneCreate(key, iv), laneEncrypt);
        const ctx = n.cbcCreate(key, iv, decrypt);
        return { apply: (buf) => n.cipherApply(ctx, buf) };
      }
    : undefined;
  useCbcAccelerator(cbc, lanes ? (ciphers, bufs) => applyLanes(ciphers, bufs, laneEncrypt) : undefined);
  return { crc32: crc32 ? 'zlib' : 'js', crc32c: crc32c ? 'native' : 'js', cbc: cbc ? (lanes ? 'native-lanes' : 'native') : 'node' };
}
