import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROUTES, type RouteSpec } from './routes.js';
import { assertSuccess, configWithApi, startHarness, type Harness } from './test-support/harness.js';

/** A concrete path for a route pattern. */
function concrete(route: RouteSpec): string {
  return route.path.replace('{username}', 'alice').replace('{id}', '1');
}

const EDGE_ON = 'whitelist = []\nruntime_edge_enabled = true\nruntime_edge_events_capacity = 16\nruntime_edge_cache_ttl_ms = 60000';

describe('every GET route answers its contract', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(configWithApi(EDGE_ON));
    // A reload so that /v1/system/reload/1 exists.
    assertSuccess(await h.req({ method: 'POST', path: '/v1/system/reload' }), 'ReloadAccepted', 202);
    h.cp.userStats.set('alice', {
      current_connections: 2,
      active_ips: ['198.51.100.7', '2001:db8::1'],
      recent_ips: ['198.51.100.7', '2001:db8::1', '203.0.113.5'],
      octets_from_client: 100,
      octets_to_client: 900,
      total_octets: 1000,
      quota_used_bytes: 1000,
      quota_last_reset_epoch_secs: undefined,
    });
    for (let i = 0; i < 20; i++) h.cp.recordEvent('test_event', `event ${i}`);
  });
  after(() => h.close());

  for (const route of ROUTES.filter((r) => r.method === 'GET')) {
    it(`${route.method} ${route.path} -> ${route.response}`, async () => {
      const res = await h.req(concrete(route));
      assertSuccess(res, route.response, route.statuses[0]);
    });
  }

  it('user views carry runtime figures, links arrays and sorted rows', async () => {
    const alice = assertSuccess(await h.req('/v1/users/alice'), 'UserInfo');
    assert.equal(alice['current_connections'], 2);
    assert.deepEqual(alice['active_unique_ips_list'], ['198.51.100.7', '2001:db8::1']);
    assert.equal(alice['recent_unique_ips'], 3);
    const links = alice['links'] as Record<string, string[]>;
    assert.deepEqual(links['classic'], []);
    assert.equal(links['secure']?.length, 1);
    assert.match(links['tls']?.[0] ?? '', /^tg:\/\/proxy\?server=proxy\.example\.com&port=443&secret=ee[0-9a-f]{32}/);
    const ips = assertSuccess(await h.req('/v1/stats/users/active-ips'), 'UserActiveIpsList') as unknown as unknown[];
    assert.deepEqual(ips, [{ username: 'alice', active_ips: ['198.51.100.7', '2001:db8::1'] }]);
  });

  it('events/recent honours limit, capacity and order', async () => {
    const res = assertSuccess(await h.req('/v1/runtime/events/recent?limit=5'), 'RuntimeEdgeEventsData');
    const data = res['data'] as { events: { seq: number }[]; capacity: number };
    assert.deepEqual(
      data.events.map((e) => e.seq),
      h.cp.eventLog.slice(-5).map((e) => e.seq),
    );
    assert.equal(h.cp.eventLog.length, 21, 'the reload in before() is recorded too');
    const all = assertSuccess(await h.req('/v1/runtime/events/recent?limit=999'), 'RuntimeEdgeEventsData');
    assert.equal((all['data'] as { events: unknown[] }).events.length, 16);
    const bad = assertSuccess(await h.req('/v1/runtime/events/recent?limit=oops'), 'RuntimeEdgeEventsData');
    assert.equal((bad['data'] as { events: unknown[] }).events.length, 16);
  });

  it('connections summary is served from cache within the TTL', async () => {
    const first = assertSuccess(await h.req('/v1/runtime/connections/summary'), 'RuntimeEdgeConnectionsSummaryData');
    const second = assertSuccess(await h.req('/v1/runtime/connections/summary'), 'RuntimeEdgeConnectionsSummaryData');
    const cache = (d: Record<string, unknown>): Record<string, unknown> => (d['data'] as Record<string, Record<string, unknown>>)['cache'] ?? {};
    assert.equal(typeof cache(first)['served_from_cache'], 'boolean');
    assert.equal(cache(second)['served_from_cache'], true);
    const top = (second['data'] as Record<string, Record<string, unknown>>)['top'] ?? {};
    assert.deepEqual(top['by_connections'], [{ username: 'alice', current_connections: 2, total_octets: 1000 }]);
  });

  it('health/ready is 503 with an ok:true envelope when not ready', async () => {
    h.cp.runtimeState = { ...h.cp.runtimeState, healthy_upstreams: 0 };
    const res = await h.req('/v1/health/ready');
    const data = assertSuccess(res, 'HealthReadyData', 503);
    assert.equal(data['reason'], 'no_healthy_upstreams');
    h.cp.runtimeState = { ...h.cp.runtimeState, healthy_upstreams: 1, admission_open: false };
    assert.equal(assertSuccess(await h.req('/v1/health/ready'), 'HealthReadyData', 503)['reason'], 'admission_closed');
    h.cp.runtimeState = { ...h.cp.runtimeState, admission_open: true };
    assert.equal(assertSuccess(await h.req('/v1/health/ready'), 'HealthReadyData')['ready'], true);
  });

  it('system/info and GET /v1/config carry the revision everywhere', async () => {
    const res = await h.req('/v1/system/info');
    const info = assertSuccess(res, 'SystemInfoData');
    assert.equal(info['config_hash'], res.json['revision']);
    assert.equal(info['engine'], h.cp.engine);
    const cfg = await h.req('/v1/config');
    const data = assertSuccess(cfg, 'ConfigData');
    assert.equal(data['revision'], cfg.json['revision']);
    assert.equal(data['access'], undefined);
    assert.equal(data['server'], undefined);
    assert.deepEqual(data['censorship'], { tls_domain: 'example.com' });
  });
});

describe('feature-disabled and source-unavailable shapes', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(configWithApi('whitelist = []\nminimal_runtime_enabled = false\nruntime_edge_enabled = false'));
  });
  after(() => h.close());

  it('runtime edge endpoints say feature_disabled with data null', async () => {
    for (const [path, schema] of [
      ['/v1/runtime/connections/summary', 'RuntimeEdgeConnectionsSummaryData'],
      ['/v1/runtime/events/recent', 'RuntimeEdgeEventsData'],
      ['/v1/runtime/tls-fingerprints', 'RuntimeEdgeTlsFingerprintsData'],
    ] as const) {
      const d = assertSuccess(await h.req(path), schema);
      assert.equal(d['enabled'], false);
      assert.equal(d['reason'], 'feature_disabled');
      assert.equal(d['data'], null);
    }
  });

  it('minimal runtime endpoints say feature_disabled; upstreams keep zero', async () => {
    const all = assertSuccess(await h.req('/v1/stats/minimal/all'), 'MinimalAllData');
    assert.deepEqual([all['enabled'], all['reason'], all['data']], [false, 'feature_disabled', null]);
    const w = assertSuccess(await h.req('/v1/stats/me-writers'), 'MeWritersData');
    assert.deepEqual([w['middle_proxy_enabled'], w['reason']], [false, 'feature_disabled']);
    const up = assertSuccess(await h.req('/v1/stats/upstreams'), 'UpstreamsData');
    assert.deepEqual([up['enabled'], up['reason'], up['summary']], [false, 'feature_disabled', undefined]);
    assert.equal((up['zero'] as Record<string, number>)['connect_attempt_total'], 8);
  });

  it('with minimal runtime on, ME endpoints say source_unavailable', async () => {
    await h.cp.setConfigText(configWithApi('whitelist = []'));
    const all = assertSuccess(await h.req('/v1/stats/minimal/all'), 'MinimalAllData');
    assert.deepEqual([all['enabled'], all['reason']], [true, 'source_unavailable']);
    const dcs = assertSuccess(await h.req('/v1/stats/dcs'), 'DcStatusData');
    assert.deepEqual([dcs['middle_proxy_enabled'], dcs['reason']], [false, 'source_unavailable']);
    for (const path of ['/v1/runtime/me_pool_state', '/v1/runtime/me_quality', '/v1/runtime/nat_stun', '/v1/runtime/me-selftest']) {
      const res = await h.req(path);
      assert.equal(res.status, 200);
      const d = res.json['data'] as Record<string, unknown>;
      assert.deepEqual([d['enabled'], d['reason'], d['data']], [false, 'source_unavailable', null]);
    }
  });
});
