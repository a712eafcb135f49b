/**
 * /v1/runtime/nat_stun over the fake control plane: source_unavailable with ME off, configured
 * values only with stun_use = false or a fixed NAT IP, and the prober's live state otherwise.
 * Every answer is validated against the RuntimeNatStunData schema.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { BASE_CONFIG } from '../test-support/fake-control-plane.js';
import { assertSuccess, startHarness, type Harness } from '../test-support/harness.js';

function cfg(general: string, network: string): string {
  return BASE_CONFIG.replace('use_middle_proxy = false', `use_middle_proxy = true\n${general}`).replace('[server]\n', `[network]\n${network}\n\n[server]\n`);
}

const LIVE = {
  probe_enabled: true,
  running: true,
  rounds: 3,
  configured: ['127.0.0.1:3478', '127.0.0.1:9'],
  live: ['127.0.0.1:3478'],
  servers: [
    { server: '127.0.0.1:3478', at_ms: Date.now(), ok: true, rtt_ms: 2, error: undefined },
    { server: '127.0.0.1:9', at_ms: Date.now(), ok: false, rtt_ms: undefined, error: 'v4: UDP 127.0.0.1:9: ECONNREFUSED' },
  ],
  v4: { ip: '203.0.113.7', port: 40000, at_ms: Date.now() - 5000, server: '127.0.0.1:3478' },
  v6: { ip: '2001:db8::7', port: 40001, at_ms: Date.now(), server: '127.0.0.1:3478' },
  backoff_remaining_ms: undefined,
};

describe('/v1/runtime/nat_stun', () => {
  const hs: Harness[] = [];
  after(async () => {
    for (const h of hs) await h.close();
  });

  it('ME off: source_unavailable', async () => {
    const h = await startHarness(BASE_CONFIG);
    hs.push(h);
    const d = assertSuccess(await h.req('/v1/runtime/nat_stun'), 'RuntimeNatStunData');
    assert.equal(d['enabled'], false);
    assert.equal(d['reason'], 'source_unavailable');
    assert.equal(d['data'], null);
  });

  it('stun_use = false: configured values only, even if a prober reported something', async () => {
    const h = await startHarness(cfg('', 'stun_use = false\nstun_servers = ["127.0.0.1:3478"]'));
    hs.push(h);
    h.cp.natStunState = { ...LIVE, probe_enabled: false };
    const d = assertSuccess(await h.req('/v1/runtime/nat_stun'), 'RuntimeNatStunData');
    const p = d['data'] as Record<string, Record<string, unknown>>;
    assert.deepEqual(p['flags'], { nat_probe_enabled: false, nat_probe_disabled_runtime: false, nat_probe_attempts: 0 });
    assert.deepEqual(p['servers'], { configured: ['127.0.0.1:3478'], live: [], live_total: 0 });
    assert.deepEqual(p['reflection'], {});
  });

  it('a configured middle_proxy_nat_ip wins: no probing reported', async () => {
    const h = await startHarness(cfg('middle_proxy_nat_ip = "198.51.100.1"', 'stun_use = true\nstun_servers = ["127.0.0.1:3478"]'));
    hs.push(h);
    h.cp.meState = { ...h.cp.meState!, nat_ip: '198.51.100.1' };
    h.cp.natStunState = LIVE;
    const d = assertSuccess(await h.req('/v1/runtime/nat_stun'), 'RuntimeNatStunData');
    const p = d['data'] as Record<string, Record<string, unknown>>;
    assert.equal(p['flags']!['nat_probe_enabled'], false);
    assert.deepEqual(p['reflection'], {});
  });

  it('probing wanted but no prober runs: disabled at runtime', async () => {
    const h = await startHarness(cfg('', 'stun_use = true\nstun_servers = ["127.0.0.1:3478"]'));
    hs.push(h);
    h.cp.natStunState = undefined;
    const d = assertSuccess(await h.req('/v1/runtime/nat_stun'), 'RuntimeNatStunData');
    const p = d['data'] as Record<string, Record<string, unknown>>;
    assert.equal(p['flags']!['nat_probe_enabled'], false);
    assert.equal(p['flags']!['nat_probe_disabled_runtime'], true);
  });

  it('live prober state: servers, reflections with ages, back-off', async () => {
    const h = await startHarness(cfg('', 'stun_use = true\nstun_servers = ["127.0.0.1:3478", "127.0.0.1:9"]'));
    hs.push(h);
    h.cp.natStunState = LIVE;
    let d = assertSuccess(await h.req('/v1/runtime/nat_stun'), 'RuntimeNatStunData');
    assert.equal(d['enabled'], true);
    let p = d['data'] as Record<string, Record<string, unknown>>;
    assert.deepEqual(p['flags'], { nat_probe_enabled: true, nat_probe_disabled_runtime: false, nat_probe_attempts: 3 });
    assert.deepEqual(p['servers'], { configured: ['127.0.0.1:3478', '127.0.0.1:9'], live: ['127.0.0.1:3478'], live_total: 1 });
    const r = p['reflection'] as Record<string, Record<string, unknown>>;
    assert.equal(r['v4']!['addr'], '203.0.113.7:40000');
    assert.ok((r['v4']!['age_secs'] as number) >= 4);
    assert.equal(r['v6']!['addr'], '[2001:db8::7]:40001');
    assert.equal(p['stun_backoff_remaining_ms'], undefined);

    h.cp.natStunState = { ...LIVE, live: [], backoff_remaining_ms: 4999.6, rounds: 1000 };
    d = assertSuccess(await h.req('/v1/runtime/nat_stun'), 'RuntimeNatStunData');
    p = d['data'] as Record<string, Record<string, unknown>>;
    assert.equal(p['stun_backoff_remaining_ms'], 5000);
    assert.equal(p['flags']!['nat_probe_attempts'], 255);
    assert.equal((p['servers'] as Record<string, unknown>)['live_total'], 0);
  });
});
