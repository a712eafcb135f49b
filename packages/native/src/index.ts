import { createRequire } from 'node:module';

/** An OpenSSL AES-256-CTR context owned by the addon (freed with the JS object). */
export type NativeCtrContext = { readonly __brand: 'NativeCtrContext' };
/** An AES-256-CBC encryption lane (AES-NI key schedule + chaining block), freed with the JS object. */
export type NativeCbcLane = { readonly __brand: 'NativeCbcLane' };
/** An OpenSSL AES-256-CBC context without padding (one direction), freed with the JS object. */
export type NativeCbcContext = { readonly __brand: 'NativeCbcContext' };

/** What the addon exports (see csrc/ for why each exists). */
export interface NativeAddon {
  /** socket + SO_REUSEADDR + bind + listen; returns the listening fd. */
  listenTcp(host: string, port: number, backlog: number, ipv6Only: boolean): number;
  /** A new descriptor for the same socket, so each worker can close its own. */
  dupFd(fd: number): number;
  closeFd(fd: number): void;
  localPort(fd: number): number;
  ctrCreate(key: Uint8Array, iv: Uint8Array): NativeCtrContext;
  /** Transforms `bytes` in place with `a`, then with `b` when given. */
  ctrApply(a: NativeCtrContext, bytes: Uint8Array, b?: NativeCtrContext): void;
  cbcCreate(key: Uint8Array, iv: Uint8Array, decrypt: boolean): NativeCbcContext;
  /** Transforms `bytes` in place; a CBC context needs whole 16-byte blocks (RangeError otherwise). */
  cipherApply(ctx: NativeCbcContext | NativeCtrContext, bytes: Uint8Array): void;
  /** AES-256-CBC encryption lanes (AES-NI); absent on CPUs without it. */
  cbcLaneCreate?: (key: Uint8Array, iv: Uint8Array) => NativeCbcLane;
  /**
   * Encrypts each buffer (whole 16-byte blocks) in place with its own lane, up to four lanes
   * interleaved; at most 64 pairs, each lane at most once per call.
   */
  cbcLaneEncrypt?: (lanes: readonly NativeCbcLane[], bufs: readonly Uint8Array[]) => void;
  /** CRC32-C with the SSE4.2 instruction; absent on CPUs without it. */
  crc32c?: (bytes: Uint8Array, start: number, end: number, prev: number) => number;
}

/** @deprecated name kept for the socket helpers' callers. */
export type NativeSockets = NativeAddon;

export class NativeLoadError extends Error {
  readonly code = 'MTE_ERR_NATIVE_LOAD';
  constructor(cause: unknown) {
    super('the native addon (packages/native/build/Release/mtedge_native.node) did not load; run `npm run build`', { cause });
    this.name = 'NativeLoadError';
  }
}

let loaded: NativeAddon | undefined;

export function nativeAddon(): NativeAddon {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  try {
    loaded = require('../build/Release/mtedge_native.node') as NativeAddon;
  } catch (err) {
    throw new NativeLoadError(err);
  }
  return loaded;
}

export const nativeSockets = nativeAddon;
