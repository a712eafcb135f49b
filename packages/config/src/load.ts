import { readFile } from 'node:fs/promises';
import { parseWithRevision } from './parse.js';
import { computeRevision } from './revision.js';
import type { ConfigSnapshot } from './types.js';

const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });

/** Reads the file's bytes and parses them; the revision is that of the bytes on disk. */
export async function loadConfigFile(path: string): Promise<ConfigSnapshot> {
  const bytes = await readFile(path);
  return parseWithRevision(decoder.decode(bytes), path, computeRevision(bytes));
}
