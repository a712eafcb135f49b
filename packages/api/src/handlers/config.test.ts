import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { computeRevision } from '@mtedge/config';
import { BASE_CONFIG } from '../test-support/fake-control-plane.js';
import { assertError, assertSuccess, startHarness, type Harness } from '../test-support/harness.js';

describe('config API', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());
  beforeEach(() => h.cp.setConfigText(BASE_CONFIG));

  it('PATCH deep-merges one section, keeps comments and reports what changed', async () => {
    const res = await h.req({ method: 'PATCH', path: '/v1/config', body: { censorship: { tls_domain: 'front.example.com' }, general: { links: { public_port: 8443 } } } });
    const data = assertSuccess(res, 'PatchConfigResponse');
    const disk = await h.cp.readDisk();
    assert.equal(data['revision'], computeRevision(disk));
    assert.equal(res.json['revision'], data['revision']);
    assert.deepEqual(data['changed'], ['censorship', 'general']);
    assert.ok(disk.includes('tls_domain = "front.example.com" # the fronting domain'));
    assert.ok(disk.includes('public_port = 8443'));
    assert.ok(disk.includes('# alice is the first user'));
    const cfg = assertSuccess(await h.req('/v1/config'), 'ConfigData');
    assert.deepEqual(cfg['censorship'], { tls_domain: 'front.example.com' });
    // Links follow the new port at once.
    const alice = assertSuccess(await h.req('/v1/users/alice'), 'UserInfo');
    assert.match((alice['links'] as Record<string, string[]>)['secure']?.[0] ?? '', /port=8443/);
  });

  it('rejects access, other sections, empty patches and invalid values', async () => {
    assertError(await h.req({ method: 'PATCH', path: '/v1/config', body: { access: { users: {} } } }), 400, 'access_not_editable');
    assertError(await h.req({ method: 'PATCH', path: '/v1/config', body: { server: { port: 1 } } }), 400, 'section_not_editable');
    assertError(await h.req({ method: 'PATCH', path: '/v1/config', body: { network: {} } }), 400, 'section_not_editable');
    assertError(await h.req({ method: 'PATCH', path: '/v1/config', body: { bogus: {} } }), 400, 'section_not_editable');
    assertError(await h.req({ method: 'PATCH', path: '/v1/config', body: {} }), 400, 'bad_request');
    assertError(await h.req({ method: 'PATCH', path: '/v1/config', body: [] }), 400, 'bad_request');
    assertError(await h.req({ method: 'PATCH', path: '/v1/config', body: { timeouts: { client_handshake: 'soon' } } }), 400, 'bad_request');
    assert.equal(await h.cp.readDisk(), BASE_CONFIG);
  });

  it('PATCH null removes a key; If-Match is honoured', async () => {
    const rev = computeRevision(BASE_CONFIG);
    assertError(await h.req({ method: 'PATCH', path: '/v1/config', headers: { 'if-match': 'nope' }, body: { general: { log_level: 'debug' } } }), 409, 'revision_conflict');
    const d = assertSuccess(await h.req({ method: 'PATCH', path: '/v1/config', headers: { 'if-match': `"${rev}"` }, body: { general: { log_level: null } } }), 'PatchConfigResponse');
    assert.deepEqual(d['changed'], ['general']);
    assert.ok(!(await h.cp.readDisk()).includes('log_level'));
  });

  it('PATCH with ?reload=instant answers 202 with the reload, and the reload is retained', async () => {
    const res = await h.req({ method: 'PATCH', path: '/v1/config?reload=instant', body: { censorship: { tls_domain: 'b.example.com' } } });
    const data = assertSuccess(res, 'PatchConfigResponse', 202);
    const reload = data['reload'] as Record<string, unknown>;
    assert.equal(reload['config_revision'], data['revision']);
    const status = assertSuccess(await h.req(`/v1/system/reload/${String(reload['reload_id'])}`), 'ReloadStatus');
    assert.equal(status['state'], 'succeeded');
    assertError(await h.req({ method: 'PATCH', path: '/v1/config?reload=drain', body: { general: { log_level: 'debug' } } }), 400, 'bad_request');
    assertError(await h.req({ method: 'PATCH', path: '/v1/config?reload=instant&timeout_secs=5', body: { general: { log_level: 'debug' } } }), 400, 'bad_request');
    assertSuccess(await h.req({ method: 'PATCH', path: '/v1/config?reload=drain&timeout_secs=30&failure_policy=rollback', body: { general: { log_level: 'debug' } } }), 'PatchConfigResponse', 202);
  });

  it('POST /v1/system/reload re-reads the file; bad bodies and bad files are 400; the last 32 are kept', async () => {
    const first = assertSuccess(await h.req({ method: 'POST', path: '/v1/system/reload', body: {} }), 'ReloadAccepted', 202);
    assertSuccess(await h.req({ method: 'POST', path: '/v1/system/reload', body: { mode: 'drain', timeout_secs: 30, failure_policy: 'rollback' } }), 'ReloadAccepted', 202);
    assertError(await h.req({ method: 'POST', path: '/v1/system/reload', body: { mode: 'drain' } }), 400, 'bad_request');
    assertError(await h.req({ method: 'POST', path: '/v1/system/reload', body: { mode: 'sideways' } }), 400, 'bad_request');
    for (let i = 0; i < 32; i++) await h.req({ method: 'POST', path: '/v1/system/reload' });
    assertError(await h.req(`/v1/system/reload/${String(first['reload_id'])}`), 404, 'not_found');
    assertError(await h.req('/v1/system/reload/abc'), 404, 'not_found');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(h.cp.path, '[server\nport = ');
    assertError(await h.req({ method: 'POST', path: '/v1/system/reload' }), 400, 'bad_request');
  });
});
