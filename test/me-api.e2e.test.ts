/**
 * End to end, the Control API over a real Middle-End: the built binary (2 workers) against the
 * fake middle proxy. With ME on the ME routes answer real figures (writers from both workers,
 * coverage, counters that grow with traffic); when the ME stalls, the fallback to direct shows
 * in gates, dcs, counters, events and a rate-limited warn line, and clears when ME is back.
 * With ME off the same routes keep the contract's disabled shapes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeDc, type FakeDc, type FakeMeHttp } from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge, waitUntil, type EdgeProcess } from './helpers/edge.js';
import { ME_AD_TAG as AD_TAG, ME_TLS_DOMAIN as DOMAIN, apiData as data, expectResPq as roundTrip, meClient, meGeneralToml, useMeRig, withMiddleProxy, withMinimalRuntime } from './helpers/me.js';

const alice = { name: 'alice', secretHex: randomSecretHex() };
const WORKERS = 2;
const POOL_SIZE = 4; // per process: 2 writers per worker for DC 2

async function startMeEdge(dc: FakeDc, http: FakeMeHttp): Promise<EdgeProcess> {
  const apiPort = await freePort();
  const general = meGeneralToml(http, { adTag: AD_TAG, poolSize: POOL_SIZE, fallback: true, backoffCapMs: 2000 });
  const toml = withMiddleProxy(edgeConfigToml({ users: [alice], dcPort: dc.port, apiPort, tlsDomain: DOMAIN, workers: WORKERS, generalToml: general }));
  return startEdge(withMinimalRuntime(toml), { apiPort });
}

describe('Control API with Middle-End mode on', () => {
  const rig = useMeRig({ edge: startMeEdge });

  test('the pool warms up without clients: ready, every writer of both workers, coverage 100', async () => {
    await waitUntil(async () => (await data(rig.edge, '/v1/stats/me-writers')).summary.alive_writers === POOL_SIZE, 10_000, 'all ME writers ready');
    const w = await data(rig.edge, '/v1/stats/me-writers');
    assert.equal(w.middle_proxy_enabled, true);
    assert.equal(w.reason, undefined);
    assert.equal(w.summary.configured_dc_groups, 1);
    assert.equal(w.summary.required_writers, POOL_SIZE);
    assert.equal(w.summary.coverage_pct, 100);
    assert.equal(w.summary.fresh_coverage_pct, 100);
    assert.deepEqual(new Set(w.writers.map((x: { worker: number }) => x.worker)), new Set([0, 1]), 'writers of both workers');
    assert.ok(w.writers.every((x: { state: string; dc: number; endpoint: string }) => x.state === 'active' && x.dc === 2 && x.endpoint === `127.0.0.1:${rig.me.port}`));

    const dcs = await data(rig.edge, '/v1/stats/dcs');
    assert.equal(dcs.middle_proxy_enabled, true);
    assert.equal(dcs.dcs.length, 1);
    assert.equal(dcs.dcs[0].dc, 2);
    assert.equal(dcs.dcs[0].available_pct, 100);
    assert.equal(dcs.dcs[0].coverage_pct, 100);
    assert.equal(dcs.dcs[0].reroute_active, false);

    const gates = await data(rig.edge, '/v1/runtime/gates');
    assert.equal(gates.me_runtime_ready, true);
    assert.equal(gates.route_mode, 'middle');
    assert.equal(gates.reroute_active, false);
    assert.equal(gates.ad_tag_served, true);

    const init = await data(rig.edge, '/v1/runtime/initialization');
    assert.equal(init.transport_mode, 'middle_proxy');
    assert.equal(init.me.status, 'ready');
    assert.equal(init.me.progress_pct, 100);
    assert.equal(init.degraded, false);

    assert.equal((await rig.edge.api('/v1/health/ready')).status, 200);

    const minimal = await data(rig.edge, '/v1/stats/minimal/all');
    assert.equal(minimal.enabled, true);
    assert.equal(minimal.data.me_writers.summary.alive_writers, POOL_SIZE);
    assert.deepEqual(minimal.data.network_path, [{ dc: 2, ip_preference: 'prefer_v4', selected_addr_v4: `127.0.0.1:${rig.me.port}` }]);

    const pool = await data(rig.edge, '/v1/runtime/me_pool_state');
    assert.equal(pool.enabled, true);
    assert.equal(pool.data.writers.alive_non_draining, POOL_SIZE);
    assert.equal(pool.data.generations.active_generation, 1);

    const st = await data(rig.edge, '/v1/runtime/me-selftest');
    assert.equal(st.enabled, true);
    assert.equal(st.data.timeskew.last_source, 'proxy_secret_date_header', 'the fake HTTP server sends a Date header');
    assert.ok(st.data.timeskew.samples_15m >= 1);
    assert.equal(st.data.timeskew.state, 'ok');
    assert.deepEqual(st.data.ip.v4, { addr: '127.0.0.1', state: 'loopback' });
    assert.equal(st.data.kdf.state, 'ok');

    const nat = await data(rig.edge, '/v1/runtime/nat_stun');
    assert.equal(nat.enabled, true);
    assert.equal(nat.data.flags.nat_probe_enabled, false, 'stun_use = false: no probing');
    assert.deepEqual(nat.data.reflection, {});
  });

  test('ME counters in /v1/stats/zero/all grow with traffic', async () => {
    const before = (await data(rig.edge, '/v1/stats/zero/all')).middle_proxy;
    assert.ok(before.reconnect_success_total >= POOL_SIZE, JSON.stringify(before));
    const clients = await Promise.all(Array.from({ length: 6 }, () => meClient(rig.edge, alice)));
    await Promise.all(clients.map((c) => roundTrip(c)));
    for (const c of clients) c.destroy();
    const z = await data(rig.edge, '/v1/stats/zero/all');
    const mp = z.middle_proxy;
    assert.ok(mp.me_proxy_req_total >= before.me_proxy_req_total + 6, `requests ${before.me_proxy_req_total} -> ${mp.me_proxy_req_total}`);
    assert.ok(mp.me_proxy_req_ad_tag_total >= before.me_proxy_req_ad_tag_total + 6, 'ad tag on the requests');
    assert.ok(mp.d2c_data_frames_total >= before.d2c_data_frames_total + 6);
    assert.ok(mp.d2c_payload_bytes_total > before.d2c_payload_bytes_total);
    assert.equal(mp.me_fallback_direct_total, 0);
    await waitUntil(async () => (await data(rig.edge, '/v1/stats/zero/all')).middle_proxy.keepalive_pong_total > 0, 5000, 'keepalive pongs');
    const q = await data(rig.edge, '/v1/runtime/me_quality');
    assert.equal(q.enabled, true);
    assert.equal(q.data.dc_rtt[0].dc, 2);
    assert.equal(q.data.dc_rtt[0].coverage_pct, 100);
  });

  test('a stalled ME: fallback is counted, evented, logged, and shown in gates and dcs; it clears when ME is back', async () => {
    rig.me.stall = true;
    // Keepalives go unanswered: the stall watchdog closes every writer (2 x 1 s + 1 s).
    await rig.me.waitFor((m) => m.links().every((l) => !l.handshaked || !l.open), 15_000);
    const dcBefore = rig.dc.connections();
    const c = await meClient(rig.edge, alice);
    await roundTrip(c);
    c.destroy();
    assert.ok(rig.dc.connections() > dcBefore, 'the fallback client reached the fake DC');

    const z = await data(rig.edge, '/v1/stats/zero/all');
    assert.ok(z.middle_proxy.me_fallback_direct_total >= 1);
    assert.ok(z.middle_proxy.me_writer_stalls_total >= 1);
    assert.ok(z.middle_proxy.keepalive_timeout_total >= 1);
    const evs = (await data(rig.edge, '/v1/runtime/events/recent?limit=1000')).data.events as { event_type: string; context: string }[];
    assert.ok(evs.some((e) => e.event_type === 'me_fallback_direct' && /dc=2/.test(e.context)), 'me_fallback_direct event');

    const gates = await data(rig.edge, '/v1/runtime/gates');
    assert.equal(gates.reroute_active, true);
    assert.equal(gates.reroute_reason, 'strict_grace_fallback');
    assert.equal(typeof gates.reroute_to_direct_at_epoch_secs, 'number');
    assert.equal(gates.ad_tag_served, false);
    const dcs = await data(rig.edge, '/v1/stats/dcs');
    assert.equal(dcs.dcs[0].reroute_active, true);
    assert.ok(dcs.dcs[0].fallback_total >= 1);
    assert.equal(dcs.dcs[0].reroute_reason, 'strict_grace_fallback');
    await rig.edge.waitForOutput(/ME cannot serve DC, client routed direct \(me2dc_fallback\): dc=2/, 5000);

    // A burst for the same DC within 10 s: the counter and events see each one, the log one line.
    const burst = await Promise.all(Array.from({ length: 4 }, () => meClient(rig.edge, alice)));
    await Promise.all(burst.map((b) => roundTrip(b)));
    for (const b of burst) b.destroy();
    const z2 = await data(rig.edge, '/v1/stats/zero/all');
    assert.ok(z2.middle_proxy.me_fallback_direct_total >= z.middle_proxy.me_fallback_direct_total + 4);
    const lines = rig.edge.output().split('\n').filter((l) => /ME cannot serve DC, client routed direct/.test(l) && /dc=2/.test(l));
    assert.ok(lines.length <= 2, `warn lines are rate-limited per DC: ${lines.length}`);

    rig.me.stall = false;
    await waitUntil(async () => (await data(rig.edge, '/v1/runtime/gates')).reroute_active === false, 15_000, 'reroute clears once ME writers are back');
    const w = await data(rig.edge, '/v1/stats/me-writers');
    assert.ok(w.summary.alive_writers >= 1);
  });
});

describe('Control API with Middle-End mode off', () => {
  let dc: FakeDc;
  let edge: EdgeProcess;

  before(async () => {
    dc = await startFakeDc({ mode: 'mtproto' });
    const apiPort = await freePort();
    edge = await startEdge(withMinimalRuntime(edgeConfigToml({ users: [alice], dcPort: dc.port, apiPort, tlsDomain: DOMAIN, workers: WORKERS })), { apiPort });
  });
  after(async () => {
    await edge?.stop();
    await dc?.close();
  });

  test('the ME routes keep the disabled shapes of the Runtime State Matrix', async () => {
    const w = await data(edge, '/v1/stats/me-writers');
    assert.equal(w.middle_proxy_enabled, false);
    assert.equal(w.reason, 'source_unavailable');
    assert.deepEqual(w.writers, []);
    const dcs = await data(edge, '/v1/stats/dcs');
    assert.equal(dcs.reason, 'source_unavailable');
    assert.deepEqual(dcs.dcs, []);
    const minimal = await data(edge, '/v1/stats/minimal/all');
    assert.equal(minimal.enabled, true);
    assert.equal(minimal.reason, 'source_unavailable');
    for (const p of ['/v1/runtime/me_pool_state', '/v1/runtime/me_quality', '/v1/runtime/me-selftest', '/v1/runtime/nat_stun']) {
      const r = await data(edge, p);
      assert.equal(r.enabled, false, p);
      assert.equal(r.reason, 'source_unavailable', p);
      assert.equal(r.data, null, p);
    }
    const gates = await data(edge, '/v1/runtime/gates');
    assert.equal(gates.use_middle_proxy, false);
    assert.equal(gates.me_runtime_ready, false);
    assert.equal(gates.reroute_active, false);
    assert.equal(gates.route_mode, 'direct');
    const init = await data(edge, '/v1/runtime/initialization');
    assert.equal(init.me.status, 'skipped');
    assert.equal((await edge.api('/v1/health/ready')).status, 200);
    const mp = (await data(edge, '/v1/stats/zero/all')).middle_proxy;
    assert.equal(mp.me_proxy_req_total, 0);
    assert.equal(mp.reconnect_attempt_total, 0);
  });
});
