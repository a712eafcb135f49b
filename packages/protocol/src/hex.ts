import { Buffer } from 'node:buffer';

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** True when `s` is an even-length string of hex digits (empty counts). */
export function isHex(s: string): boolean {
  return HEX_RE.test(s);
}

/** Strict hex decode; returns undefined instead of silently truncating like Buffer.from(s, 'hex'). */
export function hexToBytes(s: string): Buffer | undefined {
  return isHex(s) ? Buffer.from(s, 'hex') : undefined;
}

/** Lowercase hex of the bytes. */
export function bytesToHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
