/**
 * The worker side of the ME status API, in-process against the fake middle proxy: the routed
 * upstream warms every DC without a client, feeds the shared ME counters, and remembers per DC
 * when ME could not take a client (and forgets once a writer is back).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RoutedUpstream, UpstreamError, type CompiledUser, type MeWorkerSettings, type UpstreamLegEvents, type WorkerSettings } from '@mtedge/dataplane';
import { C, StatsReader, WorkerStats, createSharedStats, replayGeometry } from '@mtedge/stats';
import { startFakeMe, type FakeMe } from '@mtedge/testkit';
import { DEAD_PORT, waitUntil } from './helpers/edge.js';

function meSettings(me: FakeMe, deadPort: number, over: Partial<MeWorkerSettings> = {}): MeWorkerSettings {
  return {
    enabled: true,
    generation: 'g1',
    endpoints: { '2': [{ host: me.host, port: me.port }], '-2': [{ host: me.host, port: me.port }], '4': [{ host: '127.0.0.1', port: deadPort }] },
    defaultDc: undefined,
    secretHex: me.secret.toString('hex'),
    poolSize: 2,
    keepaliveEnabled: true,
    keepaliveIntervalMs: 300,
    keepaliveJitterMs: 0,
    reconnectBaseMs: 200,
    reconnectCapMs: 1000,
    connectTimeoutMs: 1500,
    stallTimeoutMs: 1200,
    noWriterWaitMs: 300,
    fallbackToDirect: false,
    natIp: undefined,
    publicPort: 443,
    drainTtlMs: 2000,
    hardswap: true,
    ...over,
  };
}

const user = { name: 'alice', adTag: undefined } as unknown as CompiledUser;
const noop: UpstreamLegEvents = { data: () => undefined, drain: () => undefined, end: () => undefined, close: () => undefined };

describe('RoutedUpstream ME status', () => {
  const cleanup: (() => unknown)[] = [];
  after(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  it('warms every DC, counts, and tracks the reroute of a dead DC', async () => {
    const me = await startFakeMe();
    cleanup.push(() => me.close());
    const dead = DEAD_PORT;
    const bufs = createSharedStats({ maxWorkers: 1, userCapacity: 4, ipSlotsPerUser: 2, ...replayGeometry(64) });
    const stats = new WorkerStats(bufs, 0);
    const reader = new StatsReader(bufs);
    let settings = { me: meSettings(me, dead) } as unknown as WorkerSettings;
    const events: string[] = [];
    const up = new RoutedUpstream(() => settings, stats, (t, c) => events.push(`${t} ${c}`));
    cleanup.push(() => up.close());

    // No client yet: the pool is up and both live DCs get their writers.
    await waitUntil(() => (up.status().pool?.writers ?? []).filter((w) => w.state === 'ready').length === 4, 5000, 'warm writers');
    const st = up.status();
    assert.deepEqual(st.pool!.dcs.map((d) => d.dc).sort((a, b) => a - b), [-2, 2, 4]);
    assert.ok(st.pool!.writers.every((w) => w.generation === 'g1'));
    assert.ok(st.pool!.writers.filter((w) => w.state === 'ready').every((w) => w.localAddr?.startsWith('127.0.0.1:')));
    assert.equal(reader.total(C.middleProxy.reconnect_success_total), 4);
    await waitUntil(() => reader.total(C.middleProxy.endpoint_quarantine_total) >= 1, 5000, 'the dead endpoint quarantined');

    // DC 4 cannot be served: with fallback off the client is refused, counted and remembered.
    await assert.rejects(up.connect({ dcId: 4, tag: 'intermediate', user, clientIp: '127.0.0.1', clientPort: 1 }, noop), UpstreamError);
    assert.equal(reader.total(C.me.me_no_writer_closed_total), 1);
    assert.ok(events.some((e) => e.startsWith('me_no_writer dc=4')));
    let rr = up.status().reroutes.find((r) => r.dc === 4)!;
    assert.equal(rr.active, true);
    assert.equal(rr.count, 1);
    await assert.rejects(up.connect({ dcId: -4, tag: 'intermediate', user, clientIp: '127.0.0.1', clientPort: 1 }, noop), UpstreamError);
    rr = up.status().reroutes.find((r) => r.dc === 4)!;
    assert.equal(rr.count, 2, 'media DC -4 resolves to ME DC 4');

    // A DC 2 client goes through ME and counts its request.
    const leg = await up.connect({ dcId: 2, tag: 'intermediate', user, clientIp: '127.0.0.1', clientPort: 2 }, noop);
    const f = Buffer.alloc(4 + 40);
    f.writeUInt32LE(40, 0);
    leg.write(f);
    assert.equal(reader.total(C.me.me_proxy_req_total), 1);
    leg.destroy();
    assert.equal(reader.total(C.me.me_close_conn_sent_total), 1);

    // The dead DC comes back (same endpoint table, a live port): the reroute is no longer active.
    settings = { me: meSettings(me, me.port, { generation: 'g2' }) } as unknown as WorkerSettings;
    up.settingsChanged();
    // Hardswap: the new generation takes over once its writers are up.
    await waitUntil(() => reader.total(C.pool.pool_swap_total) === 1, 5000, 'swap once the new generation is warm');
    await waitUntil(() => up.status().reroutes.every((r) => !r.active), 5000, 'reroute clears');
    await waitUntil(() => reader.total(C.pool.pool_drain_active) === 0, 5000, 'old generation drained');
  });
});
