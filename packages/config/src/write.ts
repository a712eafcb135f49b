import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigWriteError, RevisionConflictError } from './errors.js';
import { computeRevision } from './revision.js';

/** The subset of node:fs/promises the atomic writer uses; tests inject failures through it. */
export interface AtomicFsOps {
  open(path: string, flags: string, mode?: number): Promise<fsp.FileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readFile(path: string): Promise<Uint8Array>;
  stat(path: string): Promise<{ mode: number }>;
}

const nodeFs: AtomicFsOps = {
  open: (p, f, m) => fsp.open(p, f, m),
  rename: (a, b) => fsp.rename(a, b),
  unlink: (p) => fsp.unlink(p),
  readFile: (p) => fsp.readFile(p),
  stat: (p) => fsp.stat(p),
};

export interface WriteOptions {
  /** Revision the caller's edit is based on; the write fails if the file on disk has another. */
  readonly expectedRevision?: string;
  /** Replaces some of the fs calls (tests simulate failures); the rest are node:fs/promises. */
  readonly fsOps?: Partial<AtomicFsOps>;
}

/**
 * Replaces `path` with `text` so that readers see either the old bytes or the new ones: write a
 * temp file in the same directory, fsync it, check the revision, rename over, fsync the directory.
 * On any failure the temp file is removed, the original is untouched, and ConfigWriteError (or
 * RevisionConflictError) is thrown. Returns the new revision.
 */
export async function writeFileAtomic(path: string, text: string | Uint8Array, opts: WriteOptions = {}): Promise<string> {
  const fs: AtomicFsOps = { ...nodeFs, ...opts.fsOps };
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
  let tmpCreated = false;
  try {
    // Keep the file's permissions (it may hold secrets: 0600); new files get 0600.
    let mode = 0o600;
    try {
      mode = (await fs.stat(path)).mode & 0o7777;
    } catch {
      /* new file */
    }
    const fh = await fs.open(tmp, 'wx', mode);
    tmpCreated = true;
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.expectedRevision !== undefined) {
      let actual = '';
      try {
        actual = computeRevision(await fs.readFile(path));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (actual !== opts.expectedRevision) throw new RevisionConflictError(opts.expectedRevision, actual);
    }
    await fs.rename(tmp, path);
    tmpCreated = false;
    await syncDir(fs, dir);
    return computeRevision(bytes);
  } catch (err) {
    if (tmpCreated) await fs.unlink(tmp).catch(() => undefined);
    if (err instanceof RevisionConflictError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new ConfigWriteError(path, msg, err);
  }
}

/** Makes the rename durable; some filesystems refuse fsync on a directory, which is fine. */
async function syncDir(fs: AtomicFsOps, dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fs.open(dir, 'r');
    await fh.sync();
  } catch {
    /* best effort */
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
