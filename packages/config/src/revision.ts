import { createHash } from 'node:crypto';

/** SHA-256 hex of the file bytes (a string is hashed as its UTF-8 bytes). */
export function computeRevision(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}
