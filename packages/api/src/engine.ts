/**
 * Which HTTP engine is in use. The uWebSockets.js loader silently falls back to a pure-Node
 * implementation when its native binary does not load; mtedge refuses that (DESIGN.md §3).
 */
import { createRequire } from 'node:module';
import uWS from 'uWebSockets.js';

export class UwsNativeMissingError extends Error {
  override readonly name = 'UwsNativeMissingError';
  readonly code = 'MTE_ERR_API_UWS_NATIVE';
  constructor(binary: string) {
    super(`uWebSockets.js native binary ${binary} did not load (JavaScript fallback in use); the Control API needs the native engine`);
  }
}

function binaryName(): string {
  return `uws_${process.platform}_${process.arch}_${process.versions.modules}`;
}

/** The native build exposes SSL/H3 apps and internals the JavaScript fallback lacks. */
export function uwsIsNative(): boolean {
  const mod = uWS as unknown as Record<string, unknown>;
  return typeof mod['H3App'] === 'function' && typeof mod['getParts'] === 'function';
}

/** e.g. "uWebSockets.js 20.30.0-unofficial.0 (uws_linux_x64_115)"; throws when not native. */
export function uwsEngine(): string {
  if (!uwsIsNative()) throw new UwsNativeMissingError(binaryName());
  let version = 'unknown';
  try {
    const pkg = createRequire(import.meta.url)('uWebSockets.js/package.json') as { version?: unknown };
    if (typeof pkg.version === 'string') version = pkg.version;
  } catch {
    /* version stays unknown */
  }
  return `uWebSockets.js ${version} (${binaryName()})`;
}
