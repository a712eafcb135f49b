/**
 * End to end, Middle-End over IPv6: with `[network] ipv6 = true, prefer = 6` the built binary
 * loads getProxyConfigV6 beside getProxyConfig, and the v6 table wins for the DCs it lists. The
 * v4 table sends DC 2 to a dead port, the v6 one to the fake middle proxy on [::1]: a client
 * round-trips through ME (me2dc_fallback = false, so nothing can go direct), the link's KDF runs
 * over IPv6 addresses, and the API reports the v6 path. Then the other way round: the preferred
 * v6 endpoint is dead and the v4 one alive, and the writers turn to IPv4 after two failed
 * attempts (event me_family_fallback) instead of leaving the DC without ME. Skipped when ::1
 * cannot be bound.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { fakeMeConfig, type FakeDc, type FakeMeHttp } from '@mtedge/testkit';
import { DEAD_PORT, edgeConfigToml, freePort, randomSecretHex, startEdge, waitUntil, type EdgeProcess } from './helpers/edge.js';
import { ME_AD_TAG as AD_TAG, ME_TLS_DOMAIN as DOMAIN, expectResPq, meClient, meGeneralToml, oneDcMeConfig, useMeRig, withMiddleProxy, withMinimalRuntime } from './helpers/me.js';

const alice = { name: 'alice', secretHex: randomSecretHex() };

async function loopbackV6(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}

const hasV6 = await loopbackV6();

/** One worker, one writer, IPv6 on with prefer = 6, both tables from `http`, no direct fallback. */
async function startV6Edge(dc: FakeDc, http: FakeMeHttp): Promise<EdgeProcess> {
  const apiPort = await freePort();
  const general = [
    meGeneralToml(http, { adTag: AD_TAG, poolSize: 1, fallback: false }),
    `proxy_config_v6_url = "${http.configV6Url}"`,
    `proxy_config_v6_cache_path = "cache/proxy-config-v6.txt"`,
  ].join('\n');
  const toml = withMiddleProxy(edgeConfigToml({ users: [alice], dcPort: dc.port, apiPort, tlsDomain: DOMAIN, workers: 1, generalToml: general, serverToml: 'listen_addr_ipv6 = "::1"' }));
  return startEdge(withMinimalRuntime(toml.replace('stun_use = false', 'stun_use = false\nipv6 = true\nprefer = 6')), { apiPort });
}

describe('Middle-End over IPv6 (getProxyConfigV6, prefer = 6)', { skip: hasV6 ? false : 'no ::1 on this host' }, () => {
  const rig = useMeRig({
    dc: { mode: 'echo' },
    me: { host: '::1' },
    config: (me) => ({ config: fakeMeConfig({ '2': [{ host: '127.0.0.1', port: DEAD_PORT }] }, 2), configV6: fakeMeConfig({ '2': [{ host: '::1', port: me.port }] }) }),
    edge: startV6Edge,
  });

  test('a client round-trips over the IPv6 ME link; the API shows the v6 path', async (t) => {
    // The fake ME's side of the key derivation must handle IPv6 links too; say so plainly if not.
    await waitUntil(() => rig.me.handshakes() > 0 || rig.me.links().some((l) => l.failure !== undefined), 10_000, 'an ME link from the edge');
    const failed = rig.me.links().find((l) => l.failure !== undefined && !l.handshaked);
    if (rig.me.handshakes() === 0 && failed && /IPv6|16-byte/.test(failed.failure ?? '')) {
      t.skip(`fake ME cannot derive keys over IPv6 yet: ${failed.failure}`);
      return;
    }
    assert.ok(rig.me.handshakes() > 0, `handshake failed: ${failed?.failure}`);

    const c = await meClient(rig.edge, alice);
    await expectResPq(c);
    assert.ok(rig.me.requests().length >= 1);
    assert.equal(rig.dc.connections(), 0, 'nothing went direct');
    c.end();

    const minimal = (await rig.edge.api('/v1/stats/minimal/all')).body.data;
    assert.deepEqual(minimal.data.network_path, [{ dc: 2, ip_preference: 'prefer_v6', selected_addr_v6: `[::1]:${rig.me.port}` }]);
    const st = (await rig.edge.api('/v1/runtime/me-selftest')).body.data;
    assert.deepEqual(st.data.ip.v6, { addr: '::1', state: 'loopback' }, 'the link (and its KDF) ran from ::1');
    assert.equal(st.data.ip.v4, undefined);
    assert.equal(st.data.kdf.state, 'ok');
    const loaded = ((await rig.edge.api('/v1/runtime/events/recent?limit=1000')).body.data?.data?.events ?? []) as { event_type: string; context: string }[];
    assert.ok(loaded.some((e) => e.event_type === 'me_config_loaded' && e.context.includes('v6=url prefer=6')), JSON.stringify(loaded));
  });
});

describe('Middle-End, prefer = 6 with the IPv6 endpoint dead: the writers turn to IPv4', { skip: hasV6 ? false : 'no ::1 on this host' }, () => {
  const rig = useMeRig({
    dc: { mode: 'echo' },
    config: (me) => ({ config: oneDcMeConfig(me), configV6: fakeMeConfig({ '2': [{ host: '::1', port: DEAD_PORT }] }) }),
    edge: startV6Edge,
  });

  test('a client round-trips over the IPv4 link after the IPv6 attempts fail; the event says why', async () => {
    // Two refused IPv6 attempts with back-off (300 ms base in these tests), then IPv4.
    await waitUntil(() => rig.me.handshakes() > 0, 15_000, 'an IPv4 ME link after the IPv6 endpoint failed');
    const c = await meClient(rig.edge, alice);
    await expectResPq(c);
    assert.equal(rig.dc.connections(), 0, 'nothing went direct');
    c.end();
    const evs = ((await rig.edge.api('/v1/runtime/events/recent?limit=1000')).body.data?.data?.events ?? []) as { event_type: string; context: string }[];
    const fb = evs.filter((e) => e.event_type === 'me_family_fallback');
    assert.ok(fb.length > 0, JSON.stringify(evs.map((e) => e.event_type)));
    assert.match(fb[0]!.context, new RegExp(`dc=2 slot=0 endpoint=127\\.0\\.0\\.1:${rig.me.port} after 2 failed attempts on \\[::1\\]:${DEAD_PORT}`));
    assert.ok(evs.some((e) => e.event_type === 'me_writer_down' && e.context.includes(`[::1]:${DEAD_PORT}`)), 'the IPv6 failures are reported too');
    const minimal = (await rig.edge.api('/v1/stats/minimal/all')).body.data;
    assert.deepEqual(minimal.data.network_path, [{ dc: 2, ip_preference: 'prefer_v6', selected_addr_v4: `127.0.0.1:${rig.me.port}`, selected_addr_v6: `[::1]:${DEAD_PORT}` }], 'the path shows the IPv4 link in use');
  });
});
