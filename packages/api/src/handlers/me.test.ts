/**
 * The Middle-End routes over a fake ME status: real contract shapes with ME on (every response
 * validated against its schema by assertSuccess), the fallback state visible in gates and dcs,
 * readiness with and without me2dc_fallback, and the disabled shapes when ME is off.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BASE_CONFIG, sampleMeStatus } from '../test-support/fake-control-plane.js';
import { assertSuccess, startHarness, type Harness } from '../test-support/harness.js';

function meConfig(fallback: boolean, extraApi = ''): string {
  return BASE_CONFIG.replace('use_middle_proxy = false', `use_middle_proxy = true\nme2dc_fallback = ${fallback}\nad_tag = "0123456789abcdef0123456789abcdef"`).replace(
    'whitelist = []\n',
    `whitelist = []\nruntime_edge_enabled = true\n${extraApi}`,
  );
}

describe('ME routes with ME on (me2dc_fallback = true)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(meConfig(true));
  });
  after(() => h.close());

  it('/v1/stats/me-writers: coverage over DCs, writers from every worker', async () => {
    const d = assertSuccess(await h.req('/v1/stats/me-writers'), 'MeWritersData');
    assert.equal(d['middle_proxy_enabled'], true);
    assert.equal(d['reason'], undefined);
    const s = d['summary'] as Record<string, number>;
    assert.equal(s['configured_dc_groups'], 3);
    assert.equal(s['alive_writers'], 3);
    assert.equal(s['required_writers'], 6);
    assert.equal(s['coverage_pct'], 66.67, 'DC 2 and -2 of 3 DCs have a ready writer');
    assert.equal(s['available_endpoints'], 2);
    const writers = d['writers'] as Record<string, unknown>[];
    assert.equal(writers.length, 5);
    assert.deepEqual(new Set(writers.map((w) => w['writer_id'])).size, 5, 'ids unique over workers');
    const w0 = writers.find((w) => w['dc'] === 2 && w['worker'] === 0)!;
    assert.equal(w0['state'], 'active');
    assert.equal(w0['bound_clients'], 3);
    assert.equal(w0['rtt_ema_ms'], 12.5);
    assert.equal(w0['matches_active_generation'], true);
    assert.equal(writers.find((w) => w['dc'] === 4)!['state'], 'warm');
  });

  it('/v1/stats/dcs: available_pct per DC and the reroute of DC 4', async () => {
    const d = assertSuccess(await h.req('/v1/stats/dcs'), 'DcStatusData');
    assert.equal(d['middle_proxy_enabled'], true);
    const rows = d['dcs'] as Record<string, unknown>[];
    assert.deepEqual(rows.map((r) => r['dc']), [-2, 2, 4]);
    const dc2 = rows.find((r) => r['dc'] === 2)!;
    assert.equal(dc2['available_pct'], 100);
    assert.equal(dc2['alive_writers'], 2);
    assert.equal(dc2['load'], 5);
    assert.equal(dc2['reroute_active'], false);
    assert.equal(rows.find((r) => r['dc'] === -2)!['available_pct'], 50);
    const dc4 = rows.find((r) => r['dc'] === 4)!;
    assert.equal(dc4['available_pct'], 0);
    assert.equal(dc4['reroute_active'], true);
    assert.equal(dc4['reroute_reason'], 'strict_grace_fallback');
    assert.equal(dc4['fallback_total'], 7);
    assert.equal(typeof dc4['reroute_since_epoch_secs'], 'number');
  });

  it('/v1/runtime/gates: ME ready, reroute active for a DC, ad tag not fully served', async () => {
    const d = assertSuccess(await h.req('/v1/runtime/gates'), 'RuntimeGatesData');
    assert.equal(d['me_runtime_ready'], true);
    assert.equal(d['me2dc_fallback_enabled'], true);
    assert.equal(d['route_mode'], 'middle');
    assert.equal(d['reroute_active'], true);
    assert.equal(d['reroute_reason'], 'strict_grace_fallback');
    assert.equal(d['ad_tag_served'], false);
  });

  it('gates: nothing rerouted -> reroute off and the ad tag served', async () => {
    const m = sampleMeStatus();
    h.cp.meState = { ...m, dcs: m.dcs.map((x) => ({ ...x, reroute: { active: false, since_ms: undefined, last_ms: undefined, count: 0, reason: undefined } })) };
    try {
      const d = assertSuccess(await h.req('/v1/runtime/gates'), 'RuntimeGatesData');
      assert.equal(d['reroute_active'], false);
      assert.equal(d['reroute_reason'], undefined);
      assert.equal(d['ad_tag_served'], true);
    } finally {
      h.cp.meState = sampleMeStatus();
    }
  });

  it('gates before ME was ever ready: startup_direct_fallback, route direct', async () => {
    const m = sampleMeStatus();
    h.cp.meState = { ...m, status: 'initializing', stage: 'background_init', first_ready_at_ms: undefined, writers: m.writers.map((w) => ({ ...w, state: 'connecting' as const })) };
    try {
      const d = assertSuccess(await h.req('/v1/runtime/gates'), 'RuntimeGatesData');
      assert.equal(d['me_runtime_ready'], false);
      assert.equal(d['route_mode'], 'direct');
      assert.equal(d['reroute_reason'], 'startup_direct_fallback');
      const init = assertSuccess(await h.req('/v1/runtime/initialization'), 'RuntimeInitializationData');
      const me = init['me'] as Record<string, unknown>;
      assert.equal(me['status'], 'initializing');
      assert.equal(me['current_stage'], 'background_init');
      assert.equal(me['progress_pct'], 50);
      assert.equal(init['degraded'], true);
      // Fallback on: the edge serves (direct) while ME warms up.
      assertSuccess(await h.req('/v1/health/ready'), 'HealthReadyData');
    } finally {
      h.cp.meState = sampleMeStatus();
    }
  });

  it('/v1/runtime/initialization: the ME block from the supervisor', async () => {
    const d = assertSuccess(await h.req('/v1/runtime/initialization'), 'RuntimeInitializationData');
    assert.equal(d['transport_mode'], 'middle_proxy');
    const me = d['me'] as Record<string, unknown>;
    assert.equal(me['status'], 'ready');
    assert.equal(me['progress_pct'], 100);
    assert.equal(me['init_attempt'], 1);
  });

  it('/v1/runtime/me_pool_state, me_quality, me-selftest, nat_stun answer full payloads', async () => {
    const pool = assertSuccess(await h.req('/v1/runtime/me_pool_state'), 'RuntimeMePoolStateData');
    assert.equal(pool['enabled'], true);
    const pw = (pool['data'] as Record<string, Record<string, unknown>>)['writers']!;
    assert.equal(pw['total'], 5);
    assert.equal(pw['alive_non_draining'], 3);
    const refill = (pool['data'] as Record<string, Record<string, unknown>>)['refill']!;
    assert.equal(refill['inflight_endpoints_total'], 2);

    const q = assertSuccess(await h.req('/v1/runtime/me_quality'), 'RuntimeMeQualityData');
    const qd = q['data'] as Record<string, Record<string, unknown>>;
    assert.equal(qd['counters']!['reconnect_attempt_total'], 6);
    assert.equal((qd['drain_gate'] as Record<string, unknown>)['route_quorum_ok'], false);

    const st = assertSuccess(await h.req('/v1/runtime/me-selftest'), 'RuntimeMeSelftestData');
    const sd = st['data'] as Record<string, Record<string, unknown>>;
    assert.equal(sd['timeskew']!['state'], 'ok');
    assert.equal(sd['timeskew']!['last_skew_secs'], 2);
    assert.equal(sd['timeskew']!['last_source'], 'proxy_secret_date_header');
    assert.deepEqual(sd['ip']!['v4'], { addr: '10.0.0.5', state: 'bogon' });
    assert.equal(sd['kdf']!['key_select'], 'c4f9faca');
    assert.equal(sd['pid']!['pid'], process.pid);

    const nat = assertSuccess(await h.req('/v1/runtime/nat_stun'), 'RuntimeNatStunData');
    const flags = (nat['data'] as Record<string, Record<string, unknown>>)['flags']!;
    assert.equal(typeof flags['nat_probe_enabled'], 'boolean');
  });

  it('/v1/stats/minimal/all carries the same blocks; zero/all the ME counters', async () => {
    const d = assertSuccess(await h.req('/v1/stats/minimal/all'), 'MinimalAllData');
    assert.equal(d['enabled'], true);
    assert.equal(d['reason'], undefined);
    const payload = d['data'] as Record<string, Record<string, unknown>>;
    assert.equal(payload['me_writers']!['middle_proxy_enabled'], true);
    assert.equal((payload['dcs']!['dcs'] as unknown[]).length, 3);
    const z = assertSuccess(await h.req('/v1/stats/zero/all'), 'ZeroAllData');
    const mp = z['middle_proxy'] as Record<string, number>;
    assert.equal(mp['reconnect_attempt_total'], 6);
    assert.equal(mp['me_fallback_direct_total'], 7);
    assert.equal(mp['me_proxy_req_total'], 120);
    assert.equal(mp['kdf_drift_total'], 0);
    assert.equal((z['pool'] as Record<string, number>)['writer_removed_total'], 1);
  });

  it('a partial answer (a worker did not reply) still validates', async () => {
    h.cp.meState = { ...sampleMeStatus(), workers_missing: [1], partial: true };
    try {
      assertSuccess(await h.req('/v1/stats/me-writers'), 'MeWritersData');
      assertSuccess(await h.req('/v1/stats/dcs'), 'DcStatusData');
    } finally {
      h.cp.meState = sampleMeStatus();
    }
  });
});

describe('ME routes with me2dc_fallback = false', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(meConfig(false));
  });
  after(() => h.close());

  it('/v1/health/ready is 503 while ME has no ready writer, 200 once it has', async () => {
    const m = sampleMeStatus();
    h.cp.meState = { ...m, status: 'initializing', first_ready_at_ms: undefined, writers: m.writers.map((w) => ({ ...w, state: 'connecting' as const })) };
    const no = assertSuccess(await h.req('/v1/health/ready'), 'HealthReadyData', 503);
    assert.equal(no['ready'], false);
    assert.equal(no['reason'], 'no_healthy_upstreams');
    const g = assertSuccess(await h.req('/v1/runtime/gates'), 'RuntimeGatesData');
    assert.equal(g['reroute_active'], false, 'no fallback: nothing is rerouted, clients are refused');
    h.cp.meState = sampleMeStatus();
    const yes = assertSuccess(await h.req('/v1/health/ready'), 'HealthReadyData');
    assert.equal(yes['ready'], true);
    const dcs = assertSuccess(await h.req('/v1/stats/dcs'), 'DcStatusData');
    const dc4 = (dcs['dcs'] as Record<string, unknown>[]).find((r) => r['dc'] === 4)!;
    assert.equal(dc4['reroute_reason'], 'no_writer_client_closed');
  });
});

describe('ME routes with ME on but minimal_runtime_enabled = false', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(meConfig(true, 'minimal_runtime_enabled = false'));
  });
  after(() => h.close());

  it('the minimal-runtime routes keep feature_disabled; runtime routes stay real', async () => {
    const w = assertSuccess(await h.req('/v1/stats/me-writers'), 'MeWritersData');
    assert.equal(w['middle_proxy_enabled'], false);
    assert.equal(w['reason'], 'feature_disabled');
    const m = assertSuccess(await h.req('/v1/stats/minimal/all'), 'MinimalAllData');
    assert.equal(m['enabled'], false);
    assert.equal(m['data'], null);
    const p = assertSuccess(await h.req('/v1/runtime/me_pool_state'), 'RuntimeMePoolStateData');
    assert.equal(p['enabled'], true);
  });
});

describe('ME routes with ME off', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('answer the Runtime State Matrix shapes', async () => {
    const w = assertSuccess(await h.req('/v1/stats/me-writers'), 'MeWritersData');
    assert.equal(w['middle_proxy_enabled'], false);
    assert.equal(w['reason'], 'source_unavailable');
    const d = assertSuccess(await h.req('/v1/stats/dcs'), 'DcStatusData');
    assert.deepEqual(d['dcs'], []);
    for (const [path, schema] of [
      ['/v1/runtime/me_pool_state', 'RuntimeMePoolStateData'],
      ['/v1/runtime/me_quality', 'RuntimeMeQualityData'],
      ['/v1/runtime/me-selftest', 'RuntimeMeSelftestData'],
      ['/v1/runtime/nat_stun', 'RuntimeNatStunData'],
    ] as const) {
      const r = assertSuccess(await h.req(path), schema);
      assert.equal(r['enabled'], false, path);
      assert.equal(r['reason'], 'source_unavailable', path);
      assert.equal(r['data'], null, path);
    }
    const g = assertSuccess(await h.req('/v1/runtime/gates'), 'RuntimeGatesData');
    assert.equal(g['reroute_active'], false);
    assert.equal(g['route_mode'], 'direct');
    const init = assertSuccess(await h.req('/v1/runtime/initialization'), 'RuntimeInitializationData');
    assert.equal((init['me'] as Record<string, unknown>)['status'], 'skipped');
  });
});
