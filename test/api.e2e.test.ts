/**
 * The Control API of the real binary, as a panel uses it: users created over HTTP are served by
 * the data plane at once, concurrent writers lose nothing, and the file on disk stays sound.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { connectClient, startFakeDc, startMaskHost, type FakeDc, type MaskHost } from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge, waitUntil, type EdgeProcess } from './helpers/edge.js';

let dc: FakeDc;
let mask: MaskHost;
let edge: EdgeProcess;
const admin = { name: 'admin', secretHex: randomSecretHex() };

before(async () => {
  dc = await startFakeDc({ mode: 'echo' });
  mask = await startMaskHost({ reply: 'http' });
  const apiPort = await freePort();
  const toml = edgeConfigToml({ users: [admin], dcPort: dc.port, maskPort: mask.port, apiPort }).replace(
    '[access.users]',
    '# operator note: keep this comment\n[access.users]',
  );
  edge = await startEdge(toml, { apiPort });
});

after(async () => {
  await edge?.stop();
  await dc?.close();
  await mask?.close();
});

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('a user created over the API is served by the data plane right away', async () => {
  const res = await edge.api('/v1/users', { method: 'POST', body: { username: 'carol' } });
  assert.equal(res.status, 201);
  assert.equal(res.body.ok, true);
  const secret = res.body.data.secret as string;
  assert.match(secret, /^[0-9a-f]{32}$/);
  assert.ok(Array.isArray(res.body.data.user.links.tls) && res.body.data.user.links.tls.length > 0);
  // The workers get the new user table with the write; give the broadcast a moment.
  let client;
  for (let i = 0; i < 40 && !client; i++) {
    try {
      client = await connectClient({ host: '127.0.0.1', port: edge.port, mode: 'secure', secret: Buffer.from(secret, 'hex') });
      const payload = randomBytes(10_000);
      client.send(payload);
      const got = await client.waitForBytes(payload.length, 3000);
      assert.ok(got.equals(payload));
    } catch {
      client?.destroy();
      client = undefined;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  assert.ok(client, 'the new user was never served');
  client.end();
});

test('50 concurrent creations all land, the revision is the hash of the file, comments survive', async () => {
  const names = Array.from({ length: 50 }, (_, i) => `bulk_${i}`);
  const results = await Promise.all(names.map((username) => edge.api('/v1/users', { method: 'POST', body: { username } })));
  for (const r of results) assert.equal(r.status, 201, JSON.stringify(r.body));
  const list = await edge.api('/v1/users');
  const listed = new Set((list.body.data as { username: string }[]).map((u) => u.username));
  for (const n of names) assert.ok(listed.has(n), `${n} missing`);
  const disk = await readFile(edge.configPath);
  assert.equal(list.body.revision, sha256(disk));
  assert.ok(disk.toString().includes('# operator note: keep this comment'));
  assert.ok(disk.toString().includes('# mtedge e2e test config'));
});

test('If-Match: a stale revision gets 409 revision_conflict and changes nothing', async () => {
  const before = await readFile(edge.configPath);
  const res = await edge.api('/v1/users', { method: 'POST', body: { username: 'late' }, headers: { 'if-match': '"0000"' } });
  assert.equal(res.status, 409);
  assert.equal(res.body.ok, false);
  assert.equal(res.body.error.code, 'revision_conflict');
  assert.equal(typeof res.body.request_id, 'number');
  assert.ok((await readFile(edge.configPath)).equals(before));
});

test('an edit by hand between two API calls is seen: the API never overwrites it', async () => {
  const health = await edge.api('/v1/health');
  const rev = health.body.revision as string;
  const text = await readFile(edge.configPath, 'utf8');
  await writeFile(edge.configPath, text.replace('[access.users]', '[access.users]\nhanduser = "' + randomSecretHex() + '"'));
  // With the revision read before the edit, the write must be refused.
  const res = await edge.api('/v1/users', { method: 'POST', body: { username: 'after_edit' }, headers: { 'if-match': rev } });
  assert.equal(res.status, 409);
  assert.equal(res.body.error.code, 'revision_conflict');
  // The watcher applies the hand edit; the user appears.
  await waitUntil(async () => (await edge.api('/v1/users/handuser')).status === 200, 5000, 'hand-added user to load');
  const disk = await readFile(edge.configPath, 'utf8');
  assert.ok(disk.includes('handuser'));
  assert.ok(!disk.includes('after_edit'));
});

test('a read-only config directory: 500 internal_error, file and revision unchanged', async (t) => {
  const dir = edge.dir;
  const before = await readFile(edge.configPath);
  const rev = (await edge.api('/v1/health')).body.revision;
  // Root ignores permission bits; the immutable attribute stops root too.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const r = spawnSync('chattr', ['+i', dir]);
    if (r.status !== 0) {
      t.skip(`cannot make ${dir} immutable here (${r.stderr?.toString().trim()})`);
      return;
    }
  } else await chmod(dir, 0o555);
  try {
    const res = await edge.api('/v1/users', { method: 'POST', body: { username: 'nowrite' } });
    assert.equal(res.status, 500);
    assert.equal(res.body.error.code, 'internal_error');
    assert.ok((await readFile(edge.configPath)).equals(before));
    assert.equal((await edge.api('/v1/health')).body.revision, rev);
    assert.equal((await edge.api('/v1/users/nowrite')).status, 404);
  } finally {
    if (asRoot) spawnSync('chattr', ['-i', dir]);
    else await chmod(dir, 0o755);
  }
});

test('bad input: malformed JSON, bad username, bad secret, unknown route', async () => {
  const bad = await edge.api('/v1/users', { method: 'POST', body: '{"username": ' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'bad_request');
  const name = await edge.api('/v1/users', { method: 'POST', body: { username: 'no spaces allowed' } });
  assert.equal(name.status, 400);
  const secret = await edge.api('/v1/users', { method: 'POST', body: { username: 'okname', secret: 'xyz' } });
  assert.equal(secret.status, 400);
  const route = await edge.api('/v1/nope');
  assert.equal(route.status, 404);
  assert.equal(route.body.ok, false);
  assert.equal(route.body.error.code, 'not_found');
});

test('disable cuts live sessions; delete removes the user from every map; last user cannot be deleted', async () => {
  const created = await edge.api('/v1/users', { method: 'POST', body: { username: 'dave', max_tcp_conns: 5, data_quota_bytes: 10737418240 } });
  assert.equal(created.status, 201);
  const secret = Buffer.from(created.body.data.secret as string, 'hex');
  let client;
  await waitUntil(async () => {
    try {
      client = await connectClient({ host: '127.0.0.1', port: edge.port, mode: 'secure', secret });
      client.send(Buffer.from('ping'));
      await client.waitForBytes(4, 2000);
      return true;
    } catch {
      return false;
    }
  }, 5000, 'dave to be served');
  const dis = await edge.api('/v1/users/dave/disable', { method: 'POST' });
  assert.equal(dis.status, 200);
  assert.equal(dis.body.data.enabled, false);
  const closed = await client!.closed;
  assert.ok(closed !== undefined);
  const del = await edge.api('/v1/users/dave', { method: 'DELETE' });
  assert.equal(del.status, 200);
  const disk = await readFile(edge.configPath, 'utf8');
  assert.ok(!/^dave\s*=/m.test(disk), 'dave still in a table');
  assert.equal((await edge.api('/v1/users/dave')).status, 404);
});
