import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { computeRevision } from '@mtedge/config';
import { BASE_CONFIG, SECRET_ALICE } from '../test-support/fake-control-plane.js';
import { assertError, assertSuccess, startHarness, type Harness } from '../test-support/harness.js';

const SECRET_B = 'fedcba9876543210fedcba9876543210';

describe('users API', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());
  beforeEach(async () => {
    await h.cp.setConfigText(BASE_CONFIG);
    h.cp.failRename = false;
    h.cp.disconnected.length = 0;
  });

  it('creates a user with a generated secret (201), keeps comments, and lists sorted', async () => {
    const res = await h.req({ method: 'POST', path: '/v1/users', body: { username: 'bob', group_id: 7, expiration: 'x' } });
    const data = assertSuccess(res, 'CreateUserResponse', 201);
    assert.match(String(data['secret']), /^[0-9a-f]{32}$/);
    const disk = await h.cp.readDisk();
    assert.equal(res.json['revision'], computeRevision(disk));
    assert.ok(disk.includes('# mtedge test config: this comment must survive every mutation'));
    assert.ok(disk.includes('# alice is the first user'));
    assert.ok(disk.includes('tls_domain = "example.com" # the fronting domain'));
    assert.ok(disk.includes(`bob = "${String(data['secret'])}"`));
    const ev = h.cp.eventLog.at(-1);
    assert.equal(ev?.event_type, 'api_createUser');
    assert.match(ev?.context ?? '', /^POST \/v1\/users status=201 revision=[0-9a-f]{12}$/);
    await h.req({ method: 'POST', path: '/v1/users', body: { username: 'Aaron' } });
    const list = assertSuccess(await h.req('/v1/users'), 'UserInfoList') as unknown as { username: string }[];
    assert.deepEqual(list.map((u) => u.username), ['Aaron', 'alice', 'bob']);
    assertSuccess(await h.req('/v1/stats/users'), 'UserInfoList');
  });

  it('creates with every optional field, as real clients send them', async () => {
    const body = {
      username: 'carol.k-9',
      secret: SECRET_B,
      user_ad_tag: 'abcdefabcdefabcdefabcdefabcdefab',
      max_tcp_conns: 8,
      expiration_rfc3339: '2026-12-25T21:41:10+00:00',
      data_quota_bytes: 10737418240,
      rate_limit_up_bps: 1048576,
      rate_limit_down_bps: 2097152,
      max_unique_ips: 3,
      enabled: false,
    };
    const data = assertSuccess(await h.req({ method: 'POST', path: '/v1/users', body }), 'CreateUserResponse', 201);
    const user = data['user'] as Record<string, unknown>;
    assert.equal(data['secret'], SECRET_B);
    assert.equal(user['enabled'], false);
    assert.equal(user['max_tcp_conns'], 8);
    assert.equal(user['data_quota_bytes'], 10737418240);
    assert.equal(String(user['expiration_rfc3339']).slice(0, 10), '2026-12-25');
    assert.equal(user['rate_limit_up_bps'], 1048576);
    assert.equal(user['rate_limit_down_bps'], 2097152);
    assert.equal(user['max_unique_ips'], 3);
    assert.equal(user['user_ad_tag'], body.user_ad_tag);
  });

  it('rejects a duplicate (409 user_exists) and invalid fields (400)', async () => {
    assertError(await h.req({ method: 'POST', path: '/v1/users', body: { username: 'alice' } }), 409, 'user_exists');
    assertError(await h.req({ method: 'POST', path: '/v1/users', body: { username: 'x', secret: 'zz' } }), 400, 'bad_request');
    assertError(await h.req({ method: 'POST', path: '/v1/users', body: { username: 'x'.repeat(65) } }), 400, 'bad_request');
    assertError(await h.req({ method: 'POST', path: '/v1/users', body: { username: 'x', max_tcp_conns: -1 } }), 400, 'bad_request');
    assertError(await h.req({ method: 'POST', path: '/v1/users', body: { username: 'x', expiration_rfc3339: '2026-13-45T99:00:00Z' } }), 400, 'bad_request');
    assertError(await h.req({ method: 'POST', path: '/v1/users', body: {} }), 400, 'bad_request');
    assertError(await h.req({ method: 'POST', path: '/v1/users' }), 400, 'bad_request');
    assert.equal(await h.cp.readDisk(), BASE_CONFIG);
  });

  it('PATCH sets and null removes (JSON Merge Patch)', async () => {
    await h.req({ method: 'POST', path: '/v1/users', body: { username: 'bob', max_tcp_conns: 4, data_quota_bytes: 1000, rate_limit_up_bps: 10, rate_limit_down_bps: 20 } });
    const set = assertSuccess(
      await h.req({ method: 'PATCH', path: '/v1/users/bob', body: { max_unique_ips: 2, expiration_rfc3339: '2026-12-25T23:59:59Z', secret: SECRET_B } }),
      'UserInfo',
    );
    assert.equal(set['max_unique_ips'], 2);
    assert.equal(set['max_tcp_conns'], 4);
    assert.deepEqual(h.cp.disconnected, ['bob']);
    const nulls = {
      user_ad_tag: null,
      expiration_rfc3339: null,
      rate_limit_up_bps: null,
      data_quota_bytes: null,
      max_unique_ips: null,
      max_tcp_conns: null,
    };
    const cleared = assertSuccess(await h.req({ method: 'PATCH', path: '/v1/users/bob', body: nulls }), 'UserInfo');
    for (const k of Object.keys(nulls)) assert.equal(cleared[k] ?? null, null, k);
    assert.equal(cleared['rate_limit_down_bps'], 20);
    const last = assertSuccess(await h.req({ method: 'PATCH', path: '/v1/users/bob', body: { rate_limit_down_bps: null } }), 'UserInfo');
    assert.equal(last['rate_limit_down_bps'] ?? null, null);
    assert.ok((await h.cp.readDisk()).includes(`bob = "${SECRET_B}"`));
    assertError(await h.req({ method: 'PATCH', path: '/v1/users/nobody', body: { max_tcp_conns: 1 } }), 404, 'not_found');
    assertError(await h.req({ method: 'PATCH', path: '/v1/users/bob', body: { max_tcp_conns: 'many' } }), 400, 'bad_request');
  });

  it('PATCH of an inline rate-limit entry rewrites it', async () => {
    await h.cp.setConfigText(`${BASE_CONFIG}bob = "${SECRET_B}"\n\n[access.user_rate_limits]\nbob = { up_bps = 5, down_bps = 6 }\n`);
    const u = assertSuccess(await h.req({ method: 'PATCH', path: '/v1/users/bob', body: { rate_limit_up_bps: 50 } }), 'UserInfo');
    assert.deepEqual([u['rate_limit_up_bps'], u['rate_limit_down_bps']], [50, 6]);
  });

  it('enable/disable are idempotent and accept no body, {} or an empty JSON body', async () => {
    const variants = [{}, { body: '{}' }, { body: '', headers: { 'content-type': 'application/json' } }];
    for (const v of variants) {
      const d = assertSuccess(await h.req({ method: 'POST', path: '/v1/users/alice/disable', ...v }), 'UserInfo');
      assert.equal(d['enabled'], false);
    }
    assert.deepEqual(h.cp.disconnected, ['alice', 'alice', 'alice']);
    assert.ok((await h.cp.readDisk()).includes('alice = false'));
    for (const v of variants) {
      const d = assertSuccess(await h.req({ method: 'POST', path: '/v1/users/alice/enable', ...v }), 'UserInfo');
      assert.equal(d['enabled'], true);
    }
    assert.ok(!(await h.cp.readDisk()).includes('alice = false'));
    assertError(await h.req({ method: 'POST', path: '/v1/users/ghost/enable' }), 404, 'not_found');
  });

  it('rotate-secret generates or takes a secret and closes sessions', async () => {
    const gen = assertSuccess(await h.req({ method: 'POST', path: '/v1/users/alice/rotate-secret' }), 'CreateUserResponse');
    assert.notEqual(gen['secret'], SECRET_ALICE);
    const given = assertSuccess(await h.req({ method: 'POST', path: '/v1/users/alice/rotate-secret', body: { secret: SECRET_B } }), 'CreateUserResponse');
    assert.equal(given['secret'], SECRET_B);
    assert.deepEqual(h.cp.disconnected, ['alice', 'alice']);
    assertError(await h.req({ method: 'POST', path: '/v1/users/alice/rotate-secret', body: { secret: 'short' } }), 400, 'bad_request');
  });

  it('reset-quota resets through the control plane without touching config', async () => {
    const d = assertSuccess(await h.req({ method: 'POST', path: '/v1/users/alice/reset-quota' }), 'ResetUserQuotaResponse');
    assert.equal(d['used_bytes'], 0);
    assert.equal(h.cp.quotaResets.at(-1), 'alice');
    assert.equal(await h.cp.readDisk(), BASE_CONFIG);
  });

  it('DELETE removes the user from every access map; the last user cannot go', async () => {
    await h.req({
      method: 'POST',
      path: '/v1/users',
      body: { username: 'bob', max_tcp_conns: 1, data_quota_bytes: 5, enabled: false, user_ad_tag: 'abcdefabcdefabcdefabcdefabcdefab', max_unique_ips: 1 },
    });
    const d = assertSuccess(await h.req({ method: 'DELETE', path: '/v1/users/bob' }), 'DeleteUserResponse');
    assert.deepEqual(d, { username: 'bob', in_runtime: false });
    const disk = await h.cp.readDisk();
    assert.ok(!/^bob\s*=/m.test(disk), disk);
    assert.deepEqual(h.cp.disconnected, ['bob']);
    assertError(await h.req({ method: 'DELETE', path: '/v1/users/alice' }), 409, 'last_user_forbidden');
    assertError(await h.req({ method: 'DELETE', path: '/v1/users/bob' }), 404, 'not_found');
  });

  it('If-Match: a stale revision is 409 revision_conflict, quoted/unquoted current ones pass', async () => {
    const rev = String((await h.req('/v1/health')).json['revision']);
    assertError(await h.req({ method: 'PATCH', path: '/v1/users/alice', headers: { 'if-match': 'deadbeef' }, body: { max_tcp_conns: 1 } }), 409, 'revision_conflict');
    assertError(await h.req({ method: 'POST', path: '/v1/users', headers: { 'if-match': '"0000"' }, body: { username: 'z' } }), 409, 'revision_conflict');
    const ok = await h.req({ method: 'PATCH', path: '/v1/users/alice', headers: { 'if-match': ` "${rev}" ` }, body: { max_tcp_conns: 1 } });
    assertSuccess(ok, 'UserInfo');
    const rev2 = String(ok.json['revision']);
    assert.notEqual(rev2, rev);
    assertSuccess(await h.req({ method: 'PATCH', path: '/v1/users/alice', headers: { 'if-match': rev2 }, body: { max_tcp_conns: 2 } }), 'UserInfo');
    assertError(await h.req({ method: 'PATCH', path: '/v1/users/alice', headers: { 'if-match': rev2 }, body: { max_tcp_conns: 3 } }), 409, 'revision_conflict');
  });

  it('50 concurrent creations all land; the final revision is the hash of the file', async () => {
    const names = Array.from({ length: 50 }, (_, i) => `user${String(i).padStart(2, '0')}`);
    const results = await Promise.all(names.map((username) => h.req({ method: 'POST', path: '/v1/users', body: { username } })));
    for (const r of results) assert.equal(r.status, 201, r.text);
    const list = assertSuccess(await h.req('/v1/users'), 'UserInfoList') as unknown as { username: string }[];
    assert.equal(list.length, 51);
    const disk = await h.cp.readDisk();
    for (const n of names) assert.ok(disk.includes(`${n} = "`), n);
    const health = await h.req('/v1/health');
    assert.equal(health.json['revision'], computeRevision(disk));
    assert.equal(new Set(results.map((r) => r.json['revision'])).size, 50);
  });

  it('a failed rename leaves config.toml byte-identical and answers 500', async () => {
    const before = await h.cp.readDisk();
    h.cp.failRename = true;
    assertError(await h.req({ method: 'POST', path: '/v1/users', body: { username: 'bob' } }), 500, 'internal_error');
    assertError(await h.req({ method: 'POST', path: '/v1/users/alice/disable' }), 500, 'internal_error');
    h.cp.failRename = false;
    assert.equal(await h.cp.readDisk(), before);
    assert.deepEqual(await readdir(h.cp.dir), ['config.toml']);
    assertError(await h.req('/v1/users/bob'), 404, 'not_found');
    assert.equal(assertSuccess(await h.req('/v1/users/alice'), 'UserInfo')['enabled'], true);
    assert.deepEqual(h.cp.disconnected, []);
  });
});
