/**
 * The STUN prober against loopback responders: an answer, silence (timeout), garbage, a wrong
 * transaction id, a list with a dead entry, the TCP fallback, the cache and back-off, and the
 * gate (stun_use, a configured NAT IP). apps/edge does not depend on @mtedge/testkit, so the
 * responder here is a few lines over the protocol codec (testkit's fake-stun serves the e2e).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { STUN_MAGIC_COOKIE, encodeStunBindingResponse, type StunAddress } from '@mtedge/protocol';
import { parseConfigText } from '@mtedge/config';
import { StunProber, parseStunServer, probeStunServer, stunProbeSettings, type StunProbeSettings } from './stun.js';

type Mode = 'answer' | 'silent' | 'garbage' | 'wrong-txid';

interface Responder {
  port: number;
  mode: Mode;
  reflect: StunAddress;
  hits: number;
  close(): Promise<void>;
}

async function responder(mode: Mode, reflect: StunAddress = { family: 4, ip: '203.0.113.50', port: 40001 }): Promise<Responder> {
  const s = dgram.createSocket('udp4');
  const r: Responder = {
    port: 0,
    mode,
    reflect,
    hits: 0,
    close: () => new Promise<void>((res) => s.close(() => res())),
  };
  s.on('message', (msg, from) => {
    if (msg.length < 20 || msg.readUInt32BE(4) !== STUN_MAGIC_COOKIE) return;
    r.hits++;
    const tx = msg.subarray(8, 20);
    if (r.mode === 'silent') return;
    if (r.mode === 'garbage') return void s.send(Buffer.from('\xff\xfegarbage-garbage-garbage', 'latin1'), from.port, from.address);
    const id = r.mode === 'wrong-txid' ? Buffer.from(tx.map((x) => x ^ 1)) : tx;
    s.send(encodeStunBindingResponse(id, r.reflect), from.port, from.address);
  });
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  r.port = s.address().port;
  return r;
}

/** A loopback UDP port with nobody behind it (bound, read, closed). */
async function deadPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

const base: StunProbeSettings = {
  enabled: true,
  servers: [],
  tcpFallback: false,
  concurrency: 4,
  ipv4: true,
  ipv6: false,
  refreshMs: 60_000,
  timeoutMs: 150,
  attempts: 2,
};

describe('STUN prober', () => {
  const open: { close(): Promise<void> | void }[] = [];
  after(async () => {
    for (const o of open) await o.close();
  });

  it('parses host:port entries', () => {
    assert.deepEqual(parseStunServer('stun.example.org:19302'), { host: 'stun.example.org', port: 19302 });
    assert.deepEqual(parseStunServer('[::1]:3478'), { host: '::1', port: 3478 });
    assert.deepEqual(parseStunServer('stun.example.org'), { host: 'stun.example.org', port: 3478 });
    assert.deepEqual(parseStunServer('2001:db8::1'), { host: '2001:db8::1', port: 3478 });
    assert.equal(parseStunServer('a:b:c'), undefined);
    assert.equal(parseStunServer('host:0'), undefined);
    assert.equal(parseStunServer('host:99999'), undefined);
  });

  it('learns the reflected address with an rtt', async () => {
    const r = await responder('answer');
    open.push(r);
    const res = await probeStunServer(`127.0.0.1:${r.port}`, base);
    assert.equal(res.ok, true, res.error);
    assert.deepEqual(res.v4, { family: 4, ip: '203.0.113.50', port: 40001 });
    assert.equal(res.transport, 'udp');
    assert.ok(res.rttMs !== undefined && res.rttMs >= 0);
  });

  it('times out on silence after the bounded retries', async () => {
    const r = await responder('silent');
    open.push(r);
    const res = await probeStunServer(`127.0.0.1:${r.port}`, base);
    assert.equal(res.ok, false);
    assert.match(res.error ?? '', /no answer .* in 2 tries/);
    assert.equal(r.hits, 2, 'the request was resent once');
  });

  it('ignores garbage and answers to another transaction, then gives up', async () => {
    const g = await responder('garbage');
    const w = await responder('wrong-txid');
    open.push(g, w);
    const rg = await probeStunServer(`127.0.0.1:${g.port}`, base);
    assert.equal(rg.ok, false);
    assert.match(rg.error ?? '', /ignored: MTE_ERR_STUN_NOT_STUN/);
    const rw = await probeStunServer(`127.0.0.1:${w.port}`, base);
    assert.equal(rw.ok, false);
    assert.match(rw.error ?? '', /ignored: MTE_ERR_STUN_TXID/);
  });

  it('reports malformed entries and ones with no usable family', async () => {
    const bad = await probeStunServer('not a server:x', base);
    assert.equal(bad.ok, false);
    assert.match(bad.error ?? '', /host:port/);
    // Only literal loopback addresses here: a name would reach the system resolver.
    const v6only = await probeStunServer('[::1]:3478', base);
    assert.equal(v6only.ok, false);
    assert.match(v6only.error ?? '', /no address of an enabled family/);
  });

  it('falls back to TCP when UDP gets nothing', async () => {
    const tcp = net.createServer((c) => {
      c.on('error', () => undefined);
      c.once('data', (d: Buffer) => c.write(encodeStunBindingResponse(d.subarray(8, 20), { family: 4, ip: '198.51.100.77', port: 7 })));
    });
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    open.push({ close: () => new Promise<void>((r) => tcp.close(() => r())) });
    const port = (tcp.address() as net.AddressInfo).port;
    const noFallback = await probeStunServer(`127.0.0.1:${port}`, base);
    assert.equal(noFallback.ok, false);
    const res = await probeStunServer(`127.0.0.1:${port}`, { ...base, tcpFallback: true });
    assert.equal(res.ok, true, res.error);
    assert.equal(res.transport, 'tcp');
    assert.equal(res.v4?.ip, '198.51.100.77');
  });

  it('a list with one dead entry: the live one is used, the dead one recorded', async () => {
    const r = await responder('answer');
    open.push(r);
    const dead = `127.0.0.1:${await deadPort()}`;
    const live = `127.0.0.1:${r.port}`;
    const changes: (string | undefined)[] = [];
    const events: string[] = [];
    const p = new StunProber({ settings: () => ({ ...base, servers: [dead, live] }), onChange: (ip) => changes.push(ip), event: (t) => events.push(t) });
    await p.start();
    p.stop();
    assert.equal(p.natIp, '203.0.113.50');
    assert.deepEqual(changes, ['203.0.113.50']);
    const st = p.state();
    assert.deepEqual(st.live, [live]);
    assert.equal(st.servers.find((s) => s.server === dead)?.ok, false);
    assert.ok(st.servers.find((s) => s.server === dead)?.error);
    assert.deepEqual({ ip: st.v4?.ip, port: st.v4?.port, server: st.v4?.server }, { ip: '203.0.113.50', port: 40001, server: live });
    assert.equal(st.backoffRemainingMs, undefined);
    assert.equal(st.rounds, 1);
    assert.ok(events.includes('stun_reflection'));
  });

  it('keeps the cached reflection through a failed round and backs off', async () => {
    const r = await responder('answer');
    open.push(r);
    const p = new StunProber({ settings: () => ({ ...base, servers: [`127.0.0.1:${r.port}`] }), onChange: () => undefined, event: () => undefined });
    await p.start();
    r.mode = 'silent';
    await p.round();
    const st = p.state();
    assert.equal(p.natIp, '203.0.113.50', 'last good answer kept');
    assert.equal(st.consecutiveFailures, 1);
    assert.deepEqual(st.live, []);
    // The next scheduled try is the back-off (5 s first), not the full refresh interval.
    const b = st.backoffRemainingMs;
    p.stop();
    assert.ok(b !== undefined && b > 0 && b <= 5000, String(b));
  });

  it('stays idle when disabled and reports no NAT IP', async () => {
    const r = await responder('answer');
    open.push(r);
    const p = new StunProber({ settings: () => ({ ...base, enabled: false, servers: [`127.0.0.1:${r.port}`] }), onChange: () => undefined, event: () => undefined });
    await p.start();
    p.stop();
    assert.equal(r.hits, 0);
    assert.equal(p.natIp, undefined);
    assert.equal(p.state().rounds, 0);
  });

  it('reads the gate from the config: ME on, stun_use, no middle_proxy_nat_ip', () => {
    const cfg = (general: string, network: string): ReturnType<typeof parseConfigText> =>
      parseConfigText(`[general]\n${general}\n\n[network]\n${network}\n\n[censorship]\ntls_domain = "example.com"\n`, '/tmp/x.toml');
    assert.equal(stunProbeSettings(cfg('use_middle_proxy = true', 'stun_use = true')).enabled, true);
    assert.equal(stunProbeSettings(cfg('use_middle_proxy = false', 'stun_use = true')).enabled, false);
    assert.equal(stunProbeSettings(cfg('use_middle_proxy = true', 'stun_use = false')).enabled, false);
    assert.equal(stunProbeSettings(cfg('use_middle_proxy = true\nmiddle_proxy_nat_ip = "198.51.100.1"', 'stun_use = true')).enabled, false);
    const s = stunProbeSettings(cfg('use_middle_proxy = true\nupdate_every = 30', 'stun_use = true\nstun_servers = ["127.0.0.1:1"]\nstun_tcp_fallback = false'));
    assert.deepEqual(s.servers, ['127.0.0.1:1']);
    assert.equal(s.tcpFallback, false);
    assert.equal(s.refreshMs, 30_000);
  });
});
