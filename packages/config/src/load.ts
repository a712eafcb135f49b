import { readFile, stat } from 'node:fs/promises';
import { ConfigError } from './errors.js';
import { parseWithRevision } from './parse.js';
import { computeRevision } from './revision.js';
import type { ConfigSnapshot } from './types.js';

/** Far above any real file (10^6 users is ~60 MB); stops a wrong path (a disk image) early. */
export const MAX_CONFIG_BYTES = 128 * 1024 * 1024;

const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });

/**
 * Reads the file's bytes and parses them; the revision is that of the bytes on disk.
 * File-system errors (ENOENT, EACCES) are passed through unchanged.
 */
export async function loadConfigFile(path: string): Promise<ConfigSnapshot> {
  const size = (await stat(path)).size;
  if (size > MAX_CONFIG_BYTES) {
    throw new ConfigError('MTE_ERR_CONFIG_RANGE', `file is ${size} bytes; the limit is ${MAX_CONFIG_BYTES}`, { file: path });
  }
  const bytes = await readFile(path);
  return parseWithRevision(decoder.decode(bytes), path, computeRevision(bytes));
}
