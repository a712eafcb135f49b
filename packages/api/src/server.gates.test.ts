import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { BASE_CONFIG } from './test-support/fake-control-plane.js';
import { assertError, assertSuccess, configWithApi, startHarness, type Harness } from './test-support/harness.js';

/** Sends a body in several chunks with chunked transfer encoding (no Content-Length). */
function chunked(port: number, path: string, chunks: readonly string[], method = 'POST'): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(parts).toString()) as Record<string, unknown> }));
    });
    // The server may drop the connection after answering 413 while we still write.
    req.on('error', (err) => reject(err));
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('gate order', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('api disabled answers 503 before anything else', async () => {
    await h.cp.setConfigText(configWithApi('whitelist = ["10.0.0.0/8"]\nauth_header = "Bearer x"').replace('enabled = true\nlisten', 'enabled = false\nlisten'));
    assertError(await h.req({ path: '/v1/nope' }), 503, 'api_disabled');
  });

  it('a request failing whitelist, auth and route gets 403 forbidden', async () => {
    await h.cp.setConfigText(configWithApi('whitelist = ["10.0.0.0/8"]\nauth_header = "Bearer s3cret"'));
    assertError(await h.req({ path: '/v1/definitely/not/a/route' }), 403, 'forbidden');
  });

  it('auth failure wins over route and method failures', async () => {
    await h.cp.setConfigText(configWithApi('whitelist = ["127.0.0.0/8"]\nauth_header = "Bearer s3cret"'));
    assertError(await h.req({ path: '/v1/nope' }), 401, 'unauthorized');
    assertError(await h.req({ method: 'PUT', path: '/v1/users/alice' }), 401, 'unauthorized');
    assertError(await h.req({ path: '/v1/health', headers: { authorization: 'Bearer s3cre' } }), 401, 'unauthorized');
    assertError(await h.req({ path: '/v1/health', headers: { authorization: 'bearer s3cret' } }), 401, 'unauthorized');
    assertSuccess(await h.req({ path: '/v1/health', headers: { authorization: 'Bearer s3cret' } }), 'HealthData');
    assertError(await h.req({ path: '/v1/nope', headers: { authorization: 'Bearer s3cret' } }), 404, 'not_found');
  });

  it('read_only comes after routing and before the body', async () => {
    await h.cp.setConfigText(configWithApi('read_only = true'));
    assertError(await h.req({ method: 'POST', path: '/v1/nope', body: '{' }), 404, 'not_found');
    assertError(await h.req({ method: 'PUT', path: '/v1/users/alice', body: '{' }), 405, 'method_not_allowed');
    assertError(await h.req({ method: 'POST', path: '/v1/users', body: '{not json' }), 403, 'read_only');
    assertError(await h.req({ method: 'DELETE', path: '/v1/users/alice' }), 403, 'read_only');
    assertError(await h.req({ method: 'PATCH', path: '/v1/config', body: { censorship: { tls_domain: 'a.example' } } }), 403, 'read_only');
    const health = assertSuccess(await h.req('/v1/health'), 'HealthData');
    assert.equal(health['read_only'], true);
  });

  it('body limit (413) comes before JSON decoding (400), which comes before validation', async () => {
    await h.cp.setConfigText(configWithApi('request_body_limit_bytes = 64'));
    assertError(await h.req({ method: 'POST', path: '/v1/users', body: `{${'x'.repeat(100)}` }), 413, 'payload_too_large');
    assertError(await h.req({ method: 'POST', path: '/v1/users', body: '{"username": ' }), 400, 'bad_request');
    const bad = await h.req({ method: 'POST', path: '/v1/users', body: '{"username": ' });
    assert.equal((bad.json['error'] as Record<string, unknown>)['message'], 'Invalid JSON body');
    assertError(await h.req({ method: 'POST', path: '/v1/users', body: { username: 'bad name!' } }), 400, 'bad_request');
  });

  it('the body limit is enforced while streaming a chunked body', async () => {
    await h.cp.setConfigText(configWithApi('request_body_limit_bytes = 64'));
    const res = await chunked(h.server.port, '/v1/users', ['{"username":"', 'a'.repeat(40), 'b'.repeat(40), '"}']);
    assert.equal(res.status, 413);
    assert.equal((res.json['error'] as Record<string, unknown>)['code'], 'payload_too_large');
    // Under the limit, a chunked body is assembled from its copied chunks.
    const ok = await chunked(h.server.port, '/v1/users', ['{"usern', 'ame":"chunky"', '}']);
    assert.equal(ok.status, 201);
    await h.cp.setConfigText(BASE_CONFIG);
  });

  it('invalid UTF-8 is a 400 and a non-object body on an action route is a 400', async () => {
    await h.cp.setConfigText(BASE_CONFIG);
    assertError(await h.req({ method: 'POST', path: '/v1/users', body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }), 400, 'bad_request');
    assertError(await h.req({ method: 'POST', path: '/v1/users/alice/enable', body: '[1]' }), 400, 'bad_request');
  });
});

describe('routing', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('unknown routes are JSON 404s with increasing request ids', async () => {
    const a = await h.req('/v1/nope');
    const b = await h.req('/nope');
    assertError(a, 404, 'not_found');
    assertError(b, 404, 'not_found');
    assert.ok((b.json['request_id'] as number) > (a.json['request_id'] as number));
    assertError(await h.req('/v1/users/alice/secret'), 404, 'not_found');
    assertError(await h.req('/v1/users/alice/enable/extra'), 404, 'not_found');
    assertError(await h.req({ method: 'POST', path: '/v1/users/alice' }), 404, 'not_found');
    assertError(await h.req('/v1/users/nobody'), 404, 'not_found');
  });

  it('405 carries Allow', async () => {
    const cfg = await h.req({ method: 'DELETE', path: '/v1/config' });
    assertError(cfg, 405, 'method_not_allowed');
    assert.equal(cfg.headers['allow'], 'GET, PATCH');
    const user = await h.req({ method: 'PUT', path: '/v1/users/alice' });
    assertError(user, 405, 'method_not_allowed');
    assert.equal(user.headers['allow'], 'GET, PATCH, DELETE');
    const action = await h.req({ method: 'GET', path: '/v1/users/alice/rotate-secret' });
    assertError(action, 405, 'method_not_allowed');
    assert.equal(action.headers['allow'], 'POST');
    const health = await h.req({ method: 'POST', path: '/v1/health' });
    assertError(health, 405, 'method_not_allowed');
    assert.equal(health.headers['allow'], 'GET');
  });

  it('trailing slashes are trimmed and the query string is ignored for matching', async () => {
    assertSuccess(await h.req('/v1/health/'), 'HealthData');
    assertSuccess(await h.req('/v1/users/'), 'UserInfoList');
    assertSuccess(await h.req('/v1/users/alice/?x=1'), 'UserInfo');
    assertSuccess(await h.req({ method: 'POST', path: '/v1/users/alice/disable/' }), 'UserInfo');
    assertSuccess(await h.req({ method: 'POST', path: '/v1/users/alice/enable/' }), 'UserInfo');
    assertSuccess(await h.req({ method: 'POST', path: '/v1/users/alice/reset-quota/' }), 'ResetUserQuotaResponse');
    assertSuccess(await h.req({ method: 'POST', path: '/v1/users/alice/rotate-secret/' }), 'CreateUserResponse');
    assertError(await h.req('/'), 404, 'not_found');
  });

  it('GET and DELETE tolerate Content-Type: application/json with no body', async () => {
    assertSuccess(await h.req({ path: '/v1/users', headers: { 'content-type': 'application/json' } }), 'UserInfoList');
  });
});

describe('whitelist over IPv6 listener', () => {
  it('an IPv4 peer seen as ::ffff:a.b.c.d matches an IPv4 CIDR', async (t) => {
    let h: Harness;
    try {
      h = await startHarness(configWithApi('whitelist = ["127.0.0.1/32"]'), '::');
    } catch {
      t.skip('no IPv6 listener on this host');
      return;
    }
    try {
      assertSuccess(await h.req('/v1/health'), 'HealthData');
      await h.cp.setConfigText(configWithApi('whitelist = ["::ffff:127.0.0.1"]'));
      assertSuccess(await h.req('/v1/health'), 'HealthData');
      await h.cp.setConfigText(configWithApi('whitelist = ["192.0.2.0/24", "::2"]'));
      assertError(await h.req('/v1/health'), 403, 'forbidden');
    } finally {
      await h.close();
    }
  });
});
