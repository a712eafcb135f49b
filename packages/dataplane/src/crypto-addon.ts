/**
 * The native addon for the data plane's crypto, or null: not built, or turned off with
 * MTEDGE_NATIVE_CRYPTO=0 (then node:crypto and the JS CRC do the work, same bytes on the wire).
 */
import { nativeAddon, type NativeAddon } from '@mtedge/native';

let cached: NativeAddon | null | undefined;

export function cryptoAddon(): NativeAddon | null {
  if (cached === undefined) {
    try {
      cached = process.env['MTEDGE_NATIVE_CRYPTO'] === '0' ? null : nativeAddon();
    } catch {
      cached = null;
    }
  }
  return cached;
}
