/**
 * End to end, NAT discovery for the Middle-End: the built binary with `network.stun_use = true`
 * and one loopback fake STUN server learns a "public" IPv4, shows it on /v1/runtime/nat_stun and
 * uses it in the ME key derivation. The fake ME plays the NAT'd middle proxy: it derives its
 * keys with that public address, so the handshake (and every client round trip, with
 * me2dc_fallback = false) only works if the proxy used the reflected IP. A configured
 * middle_proxy_nat_ip wins and keeps the prober idle. stun_servers never leave loopback.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeStun, type FakeDc, type FakeMeHttp, type FakeStun } from '@mtedge/testkit';
import { parseIpv4 } from '@mtedge/protocol';
import { edgeConfigToml, freePort, randomSecretHex, startEdge, waitUntil, type EdgeProcess } from './helpers/edge.js';
import { ME_TLS_DOMAIN as DOMAIN, expectResPq, meClient, startMeRig, stopMeRig, type MeRig } from './helpers/me.js';

const alice = { name: 'alice', secretHex: randomSecretHex() };
const REFLECTED = '203.0.113.77';
const CONFIGURED_NAT = '198.51.100.23';

interface Rig extends MeRig {
  readonly stun: FakeStun;
}

/** The ME rig (its ME sees the edge behind `natPeerIp`) plus a fake STUN server the edge probes. */
async function startRig(o: { natPeerIp: string; generalExtra?: string }): Promise<Rig> {
  const stun = await startFakeStun({ reflect: { family: 4, ip: REFLECTED, port: 41000 } });
  try {
    const rig = await startMeRig({ me: { natPeerIp: o.natPeerIp }, edge: (dc, http) => startStunEdge(dc, http, stun, o.generalExtra) });
    return { ...rig, stun };
  } catch (err) {
    await stun.close();
    throw err;
  }
}

async function startStunEdge(dc: FakeDc, http: FakeMeHttp, stun: FakeStun, generalExtra: string | undefined): Promise<EdgeProcess> {
  const apiPort = await freePort();
  const general = [
    `proxy_secret_url = "${http.secretUrl}"`,
    `proxy_secret_path = "proxy-secret"`,
    `proxy_config_v4_url = "${http.configUrl}"`,
    `proxy_config_v4_cache_path = "cache/proxy-config-v4.txt"`,
    `update_every = 300`,
    `middle_proxy_pool_size = 2`,
    // No silent escape: a wrong KDF address shows as refused clients, not direct ones.
    `me2dc_fallback = false`,
    `me_reconnect_backoff_base_ms = 300`,
    `me_reconnect_backoff_cap_ms = 3000`,
    `me_route_hybrid_max_wait_ms = 3000`,
    `tg_connect = 3`,
    generalExtra ?? '',
  ].join('\n');
  const toml = edgeConfigToml({ users: [alice], dcPort: dc.port, apiPort, tlsDomain: DOMAIN, workers: 1, generalToml: general })
    .replace('use_middle_proxy = false', 'use_middle_proxy = true')
    .replace('stun_use = false', `stun_use = true\nstun_servers = ["127.0.0.1:${stun.port}"]\nstun_tcp_fallback = false`);
  const servers = [...(/stun_servers = \[([^\]]*)\]/.exec(toml)?.[1] ?? '').matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  assert.ok(servers.length > 0 && servers.every((x) => x.startsWith('127.0.0.1:')), `stun_servers stay on loopback: ${servers.join(',')}`);
  return startEdge(toml, { apiPort });
}

async function stopRig(r: Rig | undefined): Promise<void> {
  await stopMeRig(r);
  await r?.stun.close();
}

/** req_pq_multi through the proxy; the fake ME answers resPQ only over a working ME link. */
async function roundTrip(edge: EdgeProcess): Promise<void> {
  const c = await meClient(edge, alice);
  try {
    await expectResPq(c, 8000);
  } finally {
    c.destroy();
  }
}

function v4Mapped(ip: string): string {
  return `00000000000000000000ffff${parseIpv4(ip)!.toString('hex')}`;
}

describe('NAT discovery over STUN (stun_use = true, no middle_proxy_nat_ip)', () => {
  let r: Rig;
  before(async () => {
    r = await startRig({ natPeerIp: REFLECTED });
  });
  after(() => stopRig(r));

  test('/v1/runtime/nat_stun shows the live server and the reflection', async () => {
    const res = await r.edge.api('/v1/runtime/nat_stun');
    assert.equal(res.status, 200);
    const d = res.body.data;
    assert.equal(d.enabled, true);
    assert.equal(d.reason, undefined);
    assert.equal(d.data.flags.nat_probe_enabled, true);
    assert.equal(d.data.flags.nat_probe_disabled_runtime, false);
    assert.ok(d.data.flags.nat_probe_attempts >= 1);
    const server = `127.0.0.1:${r.stun.port}`;
    assert.deepEqual(d.data.servers, { configured: [server], live: [server], live_total: 1 });
    assert.equal(d.data.reflection.v4.addr, `${REFLECTED}:41000`);
    assert.equal(typeof d.data.reflection.v4.age_secs, 'number');
    assert.equal(d.data.reflection.v6, undefined);
    assert.equal(d.data.stun_backoff_remaining_ms, undefined);
    assert.ok(r.stun.udpRequests() >= 1);
  });

  test('the ME handshake uses the reflected IP: the NAT\'d fake ME accepts it and clients round-trip', async () => {
    await roundTrip(r.edge);
    assert.ok(r.me.handshakes() >= 1, 'handshake completed with the public-IP KDF');
    const reqs = r.me.requests();
    assert.ok(reqs.length >= 1);
    for (const q of reqs) assert.equal(q.proxyIp.toString('hex'), v4Mapped(REFLECTED), 'RPC_PROXY_REQ names the reflected IP as the proxy address');
    assert.equal(r.dc.connections(), 0, 'nothing went direct');
  });

  test('/v1/runtime/me-selftest reports the reflected IP as the KDF NAT IP', async () => {
    await waitUntil(async () => (await r.edge.api('/v1/runtime/me-selftest')).body.data?.data?.kdf?.nat_ip === REFLECTED, 5000, 'selftest nat_ip');
    const st = (await r.edge.api('/v1/runtime/me-selftest')).body.data.data;
    assert.deepEqual(st.ip.v4, { addr: REFLECTED, state: 'good' });
  });
});

describe('a configured middle_proxy_nat_ip wins over STUN', () => {
  let r: Rig;
  before(async () => {
    r = await startRig({ natPeerIp: CONFIGURED_NAT, generalExtra: `middle_proxy_nat_ip = "${CONFIGURED_NAT}"` });
  });
  after(() => stopRig(r));

  test('no probing, configured values only, and the KDF uses the configured IP', async () => {
    await roundTrip(r.edge);
    assert.equal(r.stun.udpRequests() + r.stun.tcpRequests(), 0, 'the STUN server was never asked');
    for (const q of r.me.requests()) assert.equal(q.proxyIp.toString('hex'), v4Mapped(CONFIGURED_NAT));
    const d = (await r.edge.api('/v1/runtime/nat_stun')).body.data;
    assert.equal(d.enabled, true);
    assert.deepEqual(d.data.flags, { nat_probe_enabled: false, nat_probe_disabled_runtime: false, nat_probe_attempts: 0 });
    assert.deepEqual(d.data.servers, { configured: [`127.0.0.1:${r.stun.port}`], live: [], live_total: 0 });
    assert.deepEqual(d.data.reflection, {});
    const st = (await r.edge.api('/v1/runtime/me-selftest')).body.data.data;
    assert.equal(st.kdf.nat_ip, CONFIGURED_NAT);
  });
});
