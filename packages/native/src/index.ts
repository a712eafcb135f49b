import { createRequire } from 'node:module';

/** Socket primitives Node 20 does not expose (see csrc/sockets.c for why). */
export interface NativeSockets {
  /** socket + SO_REUSEADDR + bind + listen; returns the listening fd. */
  listenTcp(host: string, port: number, backlog: number, ipv6Only: boolean): number;
  /** A new descriptor for the same socket, so each worker can close its own. */
  dupFd(fd: number): number;
  closeFd(fd: number): void;
  localPort(fd: number): number;
}

export class NativeLoadError extends Error {
  readonly code = 'MTE_ERR_NATIVE_LOAD';
  constructor(cause: unknown) {
    super('the native addon (packages/native/build/Release/mtedge_native.node) did not load; run `npm run build`', { cause });
    this.name = 'NativeLoadError';
  }
}

let loaded: NativeSockets | undefined;

export function nativeSockets(): NativeSockets {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  try {
    loaded = require('../build/Release/mtedge_native.node') as NativeSockets;
  } catch (err) {
    throw new NativeLoadError(err);
  }
  return loaded;
}
