import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ConfigWriteError,
  RevisionConflictError,
  computeRevision,
  loadConfigFile,
  writeFileAtomic,
  type AtomicFsOps,
} from './index.js';
import { INSTALLER_CRLF, MINIMAL } from './test-fixtures.js';

let dir = '';
before(async () => {
  dir = await fsp.mkdtemp(join(tmpdir(), 'mtedge-config-'));
});
after(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const realFs: AtomicFsOps = {
  open: (p, f, m) => fsp.open(p, f, m),
  rename: (a, b) => fsp.rename(a, b),
  unlink: (p) => fsp.unlink(p),
  readFile: (p) => fsp.readFile(p),
  stat: (p) => fsp.stat(p),
};

async function leftovers(): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((n) => n.includes('.tmp-'));
}

describe('writeFileAtomic', () => {
  it('writes, returns the revision of the new bytes, keeps the mode', async () => {
    const path = join(dir, 'a.toml');
    await fsp.writeFile(path, MINIMAL, { mode: 0o640 });
    await fsp.chmod(path, 0o640);
    const rev = await writeFileAtomic(path, INSTALLER_CRLF, { expectedRevision: computeRevision(MINIMAL) });
    assert.equal(rev, computeRevision(INSTALLER_CRLF));
    assert.equal(await fsp.readFile(path, 'utf8'), INSTALLER_CRLF);
    assert.equal((await fsp.stat(path)).mode & 0o777, 0o640);
    assert.deepEqual(await leftovers(), []);
    const snap = await loadConfigFile(path);
    assert.equal(snap.revision, rev);
    assert.equal(snap.config.server.port, 8443);
  });

  it('creates a new file with mode 0600', async () => {
    const path = join(dir, 'new.toml');
    await writeFileAtomic(path, MINIMAL);
    assert.equal((await fsp.stat(path)).mode & 0o777, 0o600);
  });

  it('a failing rename leaves the original byte-identical and no temp file', async () => {
    const path = join(dir, 'b.toml');
    await fsp.writeFile(path, INSTALLER_CRLF);
    const before = await fsp.readFile(path);
    const failing: Partial<AtomicFsOps> = {
      rename: async () => {
        throw Object.assign(new Error('EXDEV: simulated'), { code: 'EXDEV' });
      },
    };
    await assert.rejects(writeFileAtomic(path, MINIMAL, { fsOps: failing }), (err: unknown) => {
      assert.ok(err instanceof ConfigWriteError);
      assert.equal(err.code, 'MTE_ERR_CONFIG_WRITE');
      assert.match(String((err.cause as Error).message), /simulated/);
      return true;
    });
    assert.deepEqual(await fsp.readFile(path), before);
    assert.deepEqual(await leftovers(), []);
  });

  it('a failing write (disk full) leaves the original byte-identical and no temp file', async () => {
    const path = join(dir, 'c.toml');
    await fsp.writeFile(path, MINIMAL);
    const failing: AtomicFsOps = {
      ...realFs,
      open: async (p, f, m) => {
        const fh = await fsp.open(p, f, m);
        if (f !== 'wx') return fh;
        return new Proxy(fh, {
          get(target, prop, recv) {
            if (prop === 'writeFile') return async () => Promise.reject(Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }));
            const v = Reflect.get(target, prop, recv) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        });
      },
    };
    await assert.rejects(writeFileAtomic(path, INSTALLER_CRLF, { fsOps: failing }), ConfigWriteError);
    assert.equal(await fsp.readFile(path, 'utf8'), MINIMAL);
    assert.deepEqual(await leftovers(), []);
  });

  it('an external edit since the read -> RevisionConflictError, file untouched', async () => {
    const path = join(dir, 'd.toml');
    await fsp.writeFile(path, MINIMAL);
    const seen = computeRevision(MINIMAL);
    const external = `${MINIMAL}# edited by a panel\n`;
    await fsp.writeFile(path, external);
    await assert.rejects(writeFileAtomic(path, INSTALLER_CRLF, { expectedRevision: seen }), (err: unknown) => {
      assert.ok(err instanceof RevisionConflictError);
      assert.equal(err.code, 'MTE_ERR_REVISION_CONFLICT');
      assert.equal(err.expected, seen);
      assert.equal(err.actual, computeRevision(external));
      return true;
    });
    assert.equal(await fsp.readFile(path, 'utf8'), external);
    assert.deepEqual(await leftovers(), []);
  });

  it('revision is of the bytes: loadConfigFile hashes the file, not the decoded text', async () => {
    const path = join(dir, 'e.toml');
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(MINIMAL)]);
    await fsp.writeFile(path, bytes);
    const snap = await loadConfigFile(path);
    assert.equal(snap.revision, computeRevision(bytes));
    assert.equal(snap.config.server.port, 443);
  });
});
