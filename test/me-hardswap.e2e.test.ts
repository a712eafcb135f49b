/**
 * End to end, a Middle-End generation change with hardswap (the default): the built binary
 * (2 workers) against two fake middle proxies. proxy-multi.conf moves DC 2 to an ME that refuses
 * handshakes at first: the new generation warms but cannot get warm, the old one keeps serving
 * and me_pool_state / me_runtime report the pending swap; once the new ME answers, the swap
 * happens and the old generation drains while its client keeps working.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeDc, startFakeMe, startFakeMeHttp, type FakeDc, type FakeMe, type FakeMeHttp } from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge, waitUntil, type EdgeProcess } from './helpers/edge.js';
import { ME_AD_TAG as AD_TAG, ME_TLS_DOMAIN as DOMAIN, apiData as data, expectResPq as roundTrip, meClient, meGeneralToml, oneDcMeConfig, withMiddleProxy, withMinimalRuntime } from './helpers/me.js';

const alice = { name: 'alice', secretHex: randomSecretHex() };
const POOL_SIZE = 2; // per process: one writer per worker

describe('ME hardswap over a proxy-multi.conf change', () => {
  let dc: FakeDc;
  let oldMe: FakeMe;
  let newMe: FakeMe;
  let http: FakeMeHttp;
  let edge: EdgeProcess;

  before(async () => {
    dc = await startFakeDc({ mode: 'mtproto' });
    oldMe = await startFakeMe();
    newMe = await startFakeMe({ secret: oldMe.secret });
    newMe.wrongSecret = true;
    http = await startFakeMeHttp({ secret: oldMe.secret, config: oneDcMeConfig(oldMe) });
    const apiPort = await freePort();
    // Refresh the inputs every second so the change is picked up quickly.
    const general = meGeneralToml(http, { adTag: AD_TAG, poolSize: POOL_SIZE, fallback: false, backoffCapMs: 1000 }).replace('update_every = 300', 'update_every = 1');
    const toml = withMiddleProxy(edgeConfigToml({ users: [alice], dcPort: dc.port, apiPort, tlsDomain: DOMAIN, workers: 2, generalToml: general }));
    edge = await startEdge(withMinimalRuntime(toml), { apiPort });
  });
  after(async () => {
    await edge?.stop();
    await dc?.close();
    await oldMe?.close();
    await newMe?.close();
    await http?.close();
  });

  test('me_runtime in minimal/all, then me_pool_state through warm, pending and swap', async () => {
    await waitUntil(async () => (await data(edge, '/v1/stats/me-writers')).summary.alive_writers === POOL_SIZE, 10_000, 'ME writers ready');
    const rt = (await data(edge, '/v1/stats/minimal/all')).data.me_runtime;
    assert.ok(rt, 'me_runtime is filled');
    assert.equal(rt.active_generation, 1);
    assert.equal(rt.warm_generation, 1);
    assert.equal(rt.pending_hardswap_generation, 0);
    assert.equal(rt.pending_hardswap_age_secs, undefined);
    assert.equal(rt.hardswap_enabled, true);
    assert.equal(rt.floor_mode, 'static');
    assert.equal(rt.me_keepalive_interval_secs, 1);
    assert.equal(rt.me_reconnect_backoff_cap_ms, 1000);
    assert.equal(rt.me_pool_drain_ttl_secs, 90);
    assert.equal(rt.adaptive_floor_active_writers_current, POOL_SIZE);
    assert.equal(rt.adaptive_floor_target_writers_total, POOL_SIZE);
    assert.ok(rt.adaptive_floor_cpu_cores_detected >= 1);
    assert.equal(rt.quarantined_endpoints_total, 0);
    let pool = (await data(edge, '/v1/runtime/me_pool_state')).data;
    assert.deepEqual(pool.generations, { active_generation: 1, warm_generation: 1, pending_hardswap_generation: 0, draining_generations: [] });
    assert.deepEqual(pool.hardswap, { enabled: true, pending: false });

    const c1 = await meClient(edge, alice);
    await roundTrip(c1);

    // DC 2 moves to the new ME, which refuses handshakes: generation 2 warms but cannot get warm.
    http.config = oneDcMeConfig(newMe);
    await waitUntil(async () => (await data(edge, '/v1/runtime/me_pool_state')).data.hardswap.pending === true, 10_000, 'a pending hardswap');
    await newMe.waitFor((m) => m.connections() >= 2, 10_000);
    pool = (await data(edge, '/v1/runtime/me_pool_state')).data;
    assert.equal(pool.generations.active_generation, 1);
    assert.equal(pool.generations.warm_generation, 2);
    assert.equal(pool.generations.pending_hardswap_generation, 2);
    assert.equal(typeof pool.generations.pending_hardswap_age_secs, 'number');
    const pending = (await data(edge, '/v1/stats/minimal/all')).data.me_runtime;
    assert.equal(pending.pending_hardswap_generation, 2);
    assert.equal(typeof pending.pending_hardswap_age_secs, 'number');
    // The old generation keeps serving new clients meanwhile.
    const oldReqs = oldMe.requests().length;
    const c2 = await meClient(edge, alice);
    await roundTrip(c2);
    c2.destroy();
    assert.ok(oldMe.requests().length > oldReqs, 'served by the old ME');
    const w = await data(edge, '/v1/stats/me-writers');
    assert.equal(w.summary.alive_writers, POOL_SIZE, 'the warming writers take no clients yet');

    // The new ME answers: the swap happens, generation 1 drains around its client.
    newMe.wrongSecret = false;
    await waitUntil(async () => (await data(edge, '/v1/runtime/me_pool_state')).data.generations.active_generation === 2, 15_000, 'the swap');
    pool = (await data(edge, '/v1/runtime/me_pool_state')).data;
    assert.equal(pool.hardswap.pending, false);
    assert.equal(pool.generations.pending_hardswap_generation, 0);
    assert.deepEqual(pool.generations.draining_generations, [1], 'the old writer holding c1 drains');
    await roundTrip(c1);
    const newReqs = newMe.requests().length;
    const c3 = await meClient(edge, alice);
    await roundTrip(c3);
    c3.destroy();
    assert.ok(newMe.requests().length > newReqs, 'served by the new ME');
    const evs = (await data(edge, '/v1/runtime/events/recent?limit=1000')).data.events as { event_type: string }[];
    assert.ok(evs.some((e) => e.event_type === 'me_generation_warming'));
    assert.ok(evs.some((e) => e.event_type === 'me_generation_applied'));
    c1.destroy();
    await waitUntil(async () => (await data(edge, '/v1/runtime/me_pool_state')).data.generations.draining_generations.length === 0, 10_000, 'drained');
  });
});
