import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { authorized, ipAllowed, normalizeIp } from './gates.js';
import { Router, trimTrailingSlash } from './router.js';
import { ROUTES } from '../routes.js';
import { ApiError } from './errors.js';
import { normalizeIfMatch } from '../handlers/mutation.js';
import { eventsLimit } from '../handlers/runtime.js';

describe('whitelist', () => {
  it('matches bare IPs, CIDRs and IPv4-mapped peers; empty allows all', () => {
    assert.equal(ipAllowed([], '203.0.113.9'), true);
    assert.equal(ipAllowed(['127.0.0.0/8'], '127.1.2.3'), true);
    assert.equal(ipAllowed(['127.0.0.0/8'], '0000:0000:0000:0000:0000:ffff:7f00:0001'), true);
    assert.equal(ipAllowed(['::ffff:127.0.0.1'], '127.0.0.1'), true);
    assert.equal(ipAllowed(['::ffff:10.0.0.0/104'], '10.9.9.9'), true);
    assert.equal(ipAllowed(['10.0.0.1'], '10.0.0.2'), false);
    assert.equal(ipAllowed(['::1'], '::1'), true);
    assert.equal(ipAllowed(['2001:db8::/32'], '2001:db8:1::5'), true);
    assert.equal(ipAllowed(['127.0.0.0/8'], '::1'), false);
    assert.equal(ipAllowed(['not-an-ip', '127.0.0.1'], '127.0.0.1'), true);
    assert.equal(ipAllowed(['127.0.0.1'], 'garbage'), false);
    assert.equal(normalizeIp('[::1]')?.toString(), '::1');
  });
});

describe('authorization', () => {
  it('is exact: any other value, prefix or extension fails', () => {
    assert.equal(authorized('', undefined), true);
    assert.equal(authorized('Bearer abc', 'Bearer abc'), true);
    assert.equal(authorized('Bearer abc', undefined), false);
    assert.equal(authorized('Bearer abc', ''), false);
    assert.equal(authorized('Bearer abc', 'Bearer ab'), false);
    assert.equal(authorized('Bearer abc', 'Bearer abcd'), false);
  });

  it('never accepts a value other than the configured one (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 64 }), fc.string({ maxLength: 64 }), (configured, presented) => {
        assert.equal(authorized(configured, presented), configured === presented);
      }),
      { numRuns: 300 },
    );
  });
});

describe('router', () => {
  const router = new Router(ROUTES);
  it('matches params and trims one trailing slash', () => {
    assert.equal(trimTrailingSlash('/'), '/');
    assert.equal(trimTrailingSlash('/v1/users/'), '/v1/users');
    const m = router.match('GET', '/v1/users/bob.smith-1');
    assert.equal(m.route.id, 'getUser');
    assert.equal(m.params['username'], 'bob.smith-1');
    assert.equal(router.match('POST', '/v1/users/bob/rotate-secret/').route.id, 'rotateSecret');
    assert.equal(router.match('GET', '/v1/system/reload/7').params['id'], '7');
  });

  it('never throws anything but ApiError not_found / method_not_allowed (property)', () => {
    const methods = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'get');
    const seg = fc.constantFrom('v1', 'users', 'alice', 'config', 'stats', 'runtime', '', '%', '%ZZ', 'enable', 'reload', '1');
    fc.assert(
      fc.property(methods, fc.array(seg, { maxLength: 6 }), (method, segs) => {
        try {
          router.match(method, `/${segs.join('/')}`);
        } catch (err) {
          assert.ok(err instanceof ApiError);
          assert.ok(err.code === 'not_found' || err.code === 'method_not_allowed');
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('small parsers', () => {
  it('If-Match accepts quoted and bare values with whitespace', () => {
    assert.equal(normalizeIfMatch(' "abc" '), 'abc');
    assert.equal(normalizeIfMatch('abc'), 'abc');
    assert.equal(normalizeIfMatch('W/"abc"'), 'abc');
  });

  it('events limit: default 50, clamp [1, 1000] and capacity', () => {
    assert.equal(eventsLimit(null, 256), 50);
    assert.equal(eventsLimit('abc', 256), 50);
    assert.equal(eventsLimit('-5', 256), 50);
    assert.equal(eventsLimit('0', 256), 1);
    assert.equal(eventsLimit('5000', 4096), 1000);
    assert.equal(eventsLimit('300', 256), 256);
    assert.equal(eventsLimit('7', 256), 7);
  });
});

describe('engine', () => {
  it('reports the native uWebSockets.js binary', async () => {
    const { uwsEngine } = await import('../engine.js');
    assert.match(uwsEngine(), /^uWebSockets\.js \S+ \(uws_[a-z0-9]+_[a-z0-9]+_\d+\)$/);
  });
});
