/**
 * The worker's ME pool and ME upstream against the testkit's fake middle proxy, in-process:
 * multiplexing, ad tags, framing both ways, quick-acks, close in both directions, unknown conn
 * ids, stalled and wrong-secret MEs.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MePool, MeUpstream, MeUnavailableError, type CompiledUser, type MeWorkerSettings, type UpstreamLegEvents, type UpstreamLeg } from '@mtedge/dataplane';
import { createFrameDecoder, encodeFrame, type ProtoTag } from '@mtedge/protocol';
import { buildReqPqMulti, RES_PQ, startFakeMe, type FakeMe, type FakeMeOptions } from '@mtedge/testkit';
import { DEAD_PORT, waitUntil } from './helpers/edge.js';

const AD_TAG = '0123456789abcdef0123456789abcdef';

function settings(me: FakeMe, over: Partial<MeWorkerSettings> = {}): MeWorkerSettings {
  return {
    enabled: true,
    generation: 'g1',
    endpoints: { '2': [{ host: me.host, port: me.port }], '1': [{ host: me.host, port: me.port }] },
    defaultDc: 2,
    secretHex: me.secret.toString('hex'),
    poolSize: 2,
    keepaliveEnabled: true,
    keepaliveIntervalMs: 400,
    keepaliveJitterMs: 50,
    reconnectBaseMs: 200,
    reconnectCapMs: 2000,
    connectTimeoutMs: 1500,
    stallTimeoutMs: 1200,
    noWriterWaitMs: 1500,
    fallbackToDirect: true,
    natIp: undefined,
    publicPort: 443,
    drainTtlMs: 2000,
    hardswap: true,
    ...over,
  };
}

/** Waits for `n` ready writers of the pool's generation `gen`. */
function readyWriters(pool: MePool, n: number, gen: number, timeoutMs = 4000): Promise<void> {
  return waitUntil(() => pool.snapshot().filter((w) => w.generation === gen && w.state === 'ready').length >= n, timeoutMs, `${n} ready writers of generation ${gen}`);
}

const user = { name: 'alice', slot: 0, secretHex: '00'.repeat(16), enabled: true, expiresAtMs: undefined, quotaBytes: 0, maxTcpConns: 0, maxUniqueIps: 0, sourceDeny: [], adTag: AD_TAG, secret: Buffer.alloc(16), denyNets: [] } as unknown as CompiledUser;

interface Probe {
  events: UpstreamLegEvents;
  data: Buffer[];
  closed: { err: Error | undefined } | undefined;
}

function probe(): Probe {
  const p: Probe = {
    data: [],
    closed: undefined,
    events: {
      data: (b) => p.data.push(Buffer.from(b)),
      drain: () => undefined,
      end: () => undefined,
      close: (err) => (p.closed = { err }),
    },
  };
  return p;
}

/** One client's round trip: an 8-byte frame out, the fake ME's echo back. */
async function echoes(leg: UpstreamLeg, p: Probe, fill: number): Promise<void> {
  const before = frames('intermediate', p).length;
  leg.write(encodeFrame('intermediate', Buffer.alloc(8, fill)));
  await waitUntil(() => frames('intermediate', p).length > before, 3000, 'an echo');
}

const sentTo = (me: FakeMe, fill: number): boolean => me.requests().some((r) => r.payload.length === 8 && r.payload[0] === fill);

function frames(tag: ProtoTag, p: Probe): Buffer[] {
  const dec = createFrameDecoder(tag);
  let buf = Buffer.concat(p.data);
  const out: Buffer[] = [];
  for (let f = dec.decode(buf); f; f = dec.decode(buf)) {
    out.push(Buffer.from(f.payload));
    buf = buf.subarray(f.consumed);
  }
  return out;
}

describe('ME pool', () => {
  const cleanup: (() => unknown)[] = [];
  after(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  /** A fake ME (`o`) and a pool on it with the default test settings, both closed when the suite ends. */
  async function poolOnFakeMe(o: FakeMeOptions = {}): Promise<{ me: FakeMe; pool: MePool; up: MeUpstream }> {
    const me = await startFakeMe(o);
    cleanup.push(() => me.close());
    const pool = new MePool(settings(me), () => undefined);
    cleanup.push(() => pool.close());
    return { me, pool, up: new MeUpstream(pool) };
  }

  it('multiplexes 30 clients over the pool, frames both ways, ad tag on every request', async () => {
    const me = await startFakeMe();
    cleanup.push(() => me.close());
    const events: string[] = [];
    const pool = new MePool(settings(me), (t, c) => events.push(`${t} ${c}`));
    cleanup.push(() => pool.close());
    const up = new MeUpstream(pool);
    const tags: ProtoTag[] = ['intermediate', 'abridged', 'padded'];
    const legs: { leg: UpstreamLeg; p: Probe; tag: ProtoTag; body: Buffer }[] = [];
    // The first client is served by whichever writer is ready first; let both come up.
    await pool.acquire(2);
    await waitUntil(() => pool.snapshot().filter((w) => w.state === 'ready').length === 2, 3000, 'both writers ready');
    for (let i = 0; i < 30; i++) {
      const p = probe();
      const tag = tags[i % 3]!;
      const leg = await up.connect({ dcId: i % 2 === 0 ? 2 : -2, tag, user, clientIp: '10.0.0.1', clientPort: 1000 + i }, p.events);
      assert.equal(leg.route, 'me');
      const body = randomBytes(64 + 4 * i);
      // First an auth-key request, then "encrypted" data, sent in odd pieces.
      const wire = Buffer.concat([encodeFrame(tag, buildReqPqMulti(undefined, 7n << 32n), 0), encodeFrame(tag, body, 3)]);
      leg.write(wire.subarray(0, 5));
      leg.write(wire.subarray(5));
      legs.push({ leg, p, tag, body });
    }
    for (const l of legs) {
      await waitUntil(() => frames(l.tag, l.p).length >= 2, 5000, 'two answers');
      const [a, b] = frames(l.tag, l.p);
      assert.equal(a!.readUInt32LE(20), RES_PQ);
      // Padded clients get 0..15 random padding bytes after the payload.
      assert.ok(l.tag === 'padded' ? b!.subarray(0, l.body.length).equals(l.body) && b!.length - l.body.length < 16 : b!.equals(l.body), 'echo differs');
    }
    assert.equal(me.handshakes(), 2, 'one DC (2 and -2 resolve to it), pool size 2');
    assert.equal(me.requests().length, 60);
    assert.ok(me.requests().every((r) => r.adTag?.toString('hex') === AD_TAG));
    assert.ok(me.requests().filter((r) => r.answeredReqPq).every((r) => (r.flags & 0x2) !== 0));
    assert.ok(me.requests().filter((r) => !r.answeredReqPq).every((r) => (r.flags & 0x2) === 0));
    const r0 = me.requests()[0]!;
    assert.equal(r0.clientIp.toString('hex'), '00000000000000000000ffff0a000001');
    assert.equal(r0.proxyIp.toString('hex'), '00000000000000000000ffff7f000001');
    assert.equal(r0.proxyPort, 443);
    assert.ok(me.requests().every((r) => (r.flags & 0x08000000) === 0 || (r.flags & 0x20000000) !== 0));
    assert.ok(me.requests().some((r) => (r.flags & 0x08000000) !== 0), 'padded clients carry the PAD flag');
    const links = new Set(me.requests().map((r) => r.link));
    assert.equal(links.size, 2, 'load spread over both writers');

    // Client leaves -> RPC_CLOSE_CONN; ME closes another -> the leg closes.
    const gone = me.requests().find((r) => r.payload.equals(legs[0]!.body))!.connId;
    legs[0]!.leg.destroy();
    await me.waitFor((m) => m.closeConns().includes(gone), 3000);
    const victim = me.requests().find((r) => r.payload.equals(legs[1]!.body))!.connId;
    assert.ok(me.closeExt(victim));
    await waitUntil(() => legs[1]!.p.closed !== undefined, 3000, 'CLOSE_EXT closes the leg');
    // An answer for an unknown conn id is refused with RPC_CLOSE_CONN.
    me.answerUnknown(0xdeadbeefn);
    await me.waitFor((m) => m.closeConns().includes(0xdeadbeefn), 3000);
    // Keepalive: the fake answers our pings; our writers answer its pings.
    me.ping();
    await me.waitFor((m) => m.pongs() >= 2 && m.pingsAnswered() >= 1, 3000);
    // Quick-ack: 4 raw bytes in the client's form.
    me.quickAcks = true;
    const qa = legs[3]!;
    qa.p.data.length = 0;
    const fr = encodeFrame('intermediate', Buffer.alloc(16, 1), 0);
    fr.writeUInt32LE((fr.readUInt32LE(0) | 0x80000000) >>> 0, 0);
    qa.leg.write(fr);
    await waitUntil(() => Buffer.concat(qa.p.data).length >= 4 + 4 + 16, 3000, 'quick ack + answer');
    assert.equal(Buffer.concat(qa.p.data).readUInt32LE(0), (0x80000000 | 16) >>> 0);
    assert.ok(pool.snapshot().length === 2);
  });

  it('hardswap = false: a new generation drains the old writers at once, old clients stay, new ones go to new writers', async () => {
    const me = await startFakeMe();
    cleanup.push(() => me.close());
    const s1 = settings(me, { poolSize: 1, hardswap: false });
    const pool = new MePool(s1, () => undefined);
    cleanup.push(() => pool.close());
    const up = new MeUpstream(pool);
    const p1 = probe();
    const old = await up.connect({ dcId: 2, tag: 'intermediate', user, clientIp: '10.0.0.1', clientPort: 1 }, p1.events);
    pool.update({ ...s1, generation: 'g2' });
    assert.deepEqual(pool.snapshot().map((w) => w.draining), [true]);
    const p2 = probe();
    const fresh = await up.connect({ dcId: 2, tag: 'intermediate', user, clientIp: '10.0.0.1', clientPort: 2 }, p2.events);
    old.write(encodeFrame('intermediate', Buffer.alloc(8, 1)));
    fresh.write(encodeFrame('intermediate', Buffer.alloc(8, 2)));
    await waitUntil(() => frames('intermediate', p1).length === 1 && frames('intermediate', p2).length === 1, 3000, 'both answered');
    assert.equal(new Set(me.requests().map((r) => r.link)).size, 2, 'old and new writer');
    old.destroy();
    await me.waitFor((m) => m.links().filter((l) => l.open).length === 1, 3000);
    assert.equal(p2.closed, undefined);
  });

  it('hardswap: new clients stay on the old generation until the new one is warm, then move; old clients drain', async () => {
    const oldMe = await startFakeMe();
    const newMe = await startFakeMe();
    cleanup.push(() => oldMe.close(), () => newMe.close());
    // The new ME refuses handshakes until we let it: the new generation cannot get warm.
    newMe.wrongSecret = true;
    const s1 = settings(oldMe, { poolSize: 1, endpoints: { '2': [{ host: oldMe.host, port: oldMe.port }] } });
    const s2 = settings(newMe, { poolSize: 1, generation: 'g2', endpoints: { '2': [{ host: newMe.host, port: newMe.port }] } });
    const events: string[] = [];
    const pool = new MePool(s1, (t, c) => events.push(`${t} ${c}`));
    cleanup.push(() => pool.close());
    const up = new MeUpstream(pool);
    const conn = (port: number, p: Probe): Promise<UpstreamLeg> => up.connect({ dcId: 2, tag: 'intermediate', user, clientIp: '10.0.0.1', clientPort: port }, p.events);
    const p1 = probe();
    const c1 = await conn(1, p1);
    await echoes(c1, p1, 1);

    pool.update(s2);
    assert.ok(events.some((e) => e.startsWith('me_generation_warming generation=2')));
    let g = pool.status().generations;
    assert.equal(g.active.seq, 1);
    assert.equal(g.warm?.seq, 2);
    await newMe.waitFor((m) => m.connections() >= 1, 3000);
    // Warming: a new client still binds to the old generation, which serves it.
    const p2 = probe();
    const c2 = await conn(2, p2);
    await echoes(c2, p2, 2);
    assert.ok(sentTo(oldMe, 2) && !sentTo(newMe, 2));
    assert.ok(pool.snapshot().some((w) => w.generation === 1 && !w.draining && w.state === 'ready'));
    assert.ok(!events.some((e) => e.startsWith('me_generation_applied')));

    // The new ME comes up: the swap happens, new clients go to the new generation.
    newMe.wrongSecret = false;
    await waitUntil(() => pool.status().generations.warm === undefined, 8000, 'the swap');
    g = pool.status().generations;
    assert.equal(g.active.seq, 2);
    assert.deepEqual(g.draining.map((d) => d.seq), [1]);
    assert.ok(events.some((e) => e.startsWith('me_generation_applied generation=2')));
    const p3 = probe();
    const c3 = await conn(3, p3);
    await echoes(c3, p3, 3);
    assert.ok(sentTo(newMe, 3) && !sentTo(oldMe, 3));
    // Old clients keep working on the draining writer; it closes once they are gone.
    assert.deepEqual(pool.snapshot().filter((w) => w.generation === 1).map((w) => w.draining), [true]);
    await echoes(c1, p1, 4);
    await echoes(c2, p2, 5);
    assert.ok(sentTo(oldMe, 4) && sentTo(oldMe, 5));
    c1.destroy();
    c2.destroy();
    await oldMe.waitFor((m) => m.links().every((l) => !l.open), 3000);
    assert.equal(p1.closed, undefined);
    assert.equal(p3.closed, undefined);
    assert.deepEqual(pool.status().generations.draining, []);
  });

  it('hardswap: a dead new endpoint never takes service away; the pending swap is reported', async () => {
    const me = await startFakeMe();
    cleanup.push(() => me.close());
    const dead = DEAD_PORT;
    // No default DC: a DC the table does not list is not served by this generation.
    const s1 = settings(me, { poolSize: 1, defaultDc: undefined });
    const pool = new MePool(s1, () => undefined);
    cleanup.push(() => pool.close());
    const up = new MeUpstream(pool);
    pool.warmUp();
    await waitUntil(() => pool.snapshot().filter((w) => w.state === 'ready').length === 2, 3000, 'DC 1 and 2 ready');
    const before = Date.now();
    pool.update({ ...s1, generation: 'g2', endpoints: { ...s1.endpoints, '2': [{ host: '127.0.0.1', port: dead }] } });
    // DC 1 gets warm in the new generation, DC 2 cannot: the swap waits, quarantining the dead endpoint.
    await waitUntil(() => pool.status().dcs.some((d) => d.quarantined.some((q) => q.endpoint === `127.0.0.1:${dead}`)), 3000, 'the dead endpoint quarantined');
    await waitUntil(() => pool.snapshot().some((w) => w.warm && w.dc === 1 && w.state === 'ready'), 3000, 'new DC 1 writer');
    const g = pool.status().generations;
    assert.equal(g.active.seq, 1);
    assert.equal(g.warm?.seq, 2);
    assert.ok(g.warmSinceMs !== undefined && g.warmSinceMs >= before && g.warmSinceMs <= Date.now());
    assert.ok(pool.hasReadyWriter(2));
    const p = probe();
    const leg = await up.connect({ dcId: 2, tag: 'intermediate', user, clientIp: '10.0.0.1', clientPort: 1 }, p.events);
    await echoes(leg, p, 7);
    leg.destroy();
    // A DC only the new table lists is served by the warming generation meanwhile.
    pool.update({ ...s1, generation: 'g3', defaultDc: undefined, endpoints: { ...s1.endpoints, '2': [{ host: '127.0.0.1', port: dead }], '4': [{ host: me.host, port: me.port }] } });
    const p4 = probe();
    const leg4 = await up.connect({ dcId: 4, tag: 'intermediate', user, clientIp: '10.0.0.1', clientPort: 4 }, p4.events);
    await echoes(leg4, p4, 9);
    assert.ok(pool.snapshot().some((w) => w.warm && w.dc === 4 && w.clients === 1), 'DC 4 client on a warming writer');
    leg4.destroy();
    // The config goes back to the generation in force: the pending one is dropped.
    pool.update(s1);
    assert.equal(pool.status().generations.warm, undefined);
    assert.ok(pool.snapshot().every((w) => !w.warm && w.generation === 1));
  });

  it('hardswap warm-up pacing: the new writers dial one at a time, every DC first, then the rest', async () => {
    const oldMe = await startFakeMe();
    const newMe = await startFakeMe();
    cleanup.push(() => oldMe.close(), () => newMe.close());
    const both = (me: FakeMe) => ({ '1': [{ host: me.host, port: me.port }], '2': [{ host: me.host, port: me.port }] });
    const s1 = settings(oldMe, { poolSize: 2, endpoints: both(oldMe) });
    const pool = new MePool(s1, () => undefined);
    cleanup.push(() => pool.close());
    pool.warmUp();
    await readyWriters(pool, 4, 1, 3000);
    const spacing = 150;
    const t0 = Date.now();
    pool.update(settings(newMe, { poolSize: 2, generation: 'g2', endpoints: both(newMe), warmup: { delayMinMs: spacing, delayMaxMs: spacing, extraPasses: 0, passBackoffBaseMs: 50 } }));
    // When each of the new ME's connections arrived, and which DC's slot it was.
    const seen: { at: number; dc: number; slot: number }[] = [];
    await waitUntil(() => {
      for (const w of pool.snapshot()) {
        if (w.warm || w.generation === 2) {
          const key = `${w.dc}/${w.slot}`;
          if (!seen.some((x) => `${x.dc}/${x.slot}` === key)) seen.push({ at: Date.now() - t0, dc: w.dc, slot: w.slot });
        }
      }
      return seen.length === 4;
    }, 8000, 'four new writers');
    // Timers never fire early: dial k goes at least k spacings after the update.
    seen.forEach((x, k) => assert.ok(x.at >= (k + 1) * spacing - 5, `dial ${k + 1} at ${x.at} ms, expected >= ${(k + 1) * spacing}`));
    assert.deepEqual(seen.slice(0, 2).map((x) => x.slot), [0, 0], 'every DC has its first writer dialed before any second one');
    assert.deepEqual(new Set(seen.slice(0, 2).map((x) => x.dc)), new Set([1, 2]));
    await waitUntil(() => pool.status().generations.active.seq === 2, 3000, 'the swap');
  });

  it('hardswap warm-up pacing: a client for a DC only the warming table lists does not wait its turn', async () => {
    const me = await startFakeMe();
    cleanup.push(() => me.close());
    const s1 = settings(me, { poolSize: 1, defaultDc: undefined, endpoints: { '2': [{ host: me.host, port: me.port }] } });
    const pool = new MePool(s1, () => undefined);
    cleanup.push(() => pool.close());
    const up = new MeUpstream(pool);
    pool.warmUp();
    await readyWriters(pool, 1, 1, 3000);
    // Ten seconds between paced dials: only the client's own DC may jump the queue.
    const slow = { delayMinMs: 10_000, delayMaxMs: 10_000, extraPasses: 0, passBackoffBaseMs: 50 };
    pool.update(settings(me, { poolSize: 1, generation: 'g2', defaultDc: undefined, endpoints: { ...s1.endpoints, '4': [{ host: me.host, port: me.port }] }, warmup: slow }));
    const p = probe();
    const t0 = Date.now();
    const leg = await up.connect({ dcId: 4, tag: 'intermediate', user, clientIp: '10.0.0.1', clientPort: 4 }, p.events);
    await echoes(leg, p, 11);
    assert.ok(Date.now() - t0 < 5000);
    assert.deepEqual(pool.snapshot().filter((w) => w.warm).map((w) => w.dc), [4], "DC 2's new writer still waits its turn");
    leg.destroy();
  });

  it('hardswap warm-up pacing gives way where it would only delay service: a DC the old generation cannot serve, a swap with nothing to protect, new knobs', async () => {
    const me = await startFakeMe();
    cleanup.push(() => me.close());
    const at = { host: me.host, port: me.port };
    const dead = { host: '127.0.0.1', port: DEAD_PORT };
    const slow = { delayMinMs: 10_000, delayMaxMs: 10_000, extraPasses: 0, passBackoffBaseMs: 50 };

    // 1. The old table's DC 4 endpoint is dead, the new one fixes it: a client for DC 4 gets the
    //    warming generation's writer now, not after DC 2's turn.
    const a = new MePool(settings(me, { poolSize: 1, defaultDc: undefined, endpoints: { '2': [at], '4': [dead] } }), () => undefined);
    cleanup.push(() => a.close());
    a.warmUp();
    await readyWriters(a, 1, 1);
    a.update(settings(me, { poolSize: 1, generation: 'g2', defaultDc: undefined, endpoints: { '2': [at], '4': [at] }, warmup: slow }));
    const w = await a.acquire(4);
    assert.ok(w, 'DC 4 served by the warming generation');
    assert.equal(a.status().generations.warm?.seq, 2, 'still warming: DC 2 waits its turn');

    // 2. Nothing to protect: the generation in force has no ready writer at all, so the swap is
    //    immediate and every queued writer dials at once.
    const b = new MePool(settings(me, { poolSize: 2, endpoints: { '1': [dead], '2': [dead] } }), () => undefined);
    cleanup.push(() => b.close());
    b.warmUp();
    b.update(settings(me, { poolSize: 2, generation: 'g2', endpoints: { '1': [at], '2': [at] }, warmup: slow }));
    assert.equal(b.status().generations.active.seq, 2);
    await readyWriters(b, 4, 2);

    // 3. The knobs change during a warm-up (hot reload): the queued writers take the new pacing.
    const c = new MePool(settings(me, { poolSize: 2, endpoints: { '1': [at], '2': [at] } }), () => undefined);
    cleanup.push(() => c.close());
    c.warmUp();
    await readyWriters(c, 4, 1);
    const s2 = settings(me, { poolSize: 2, generation: 'g2', endpoints: { '1': [at], '2': [at] }, warmup: slow });
    c.update(s2);
    c.update({ ...s2, warmup: { ...slow, delayMinMs: 20, delayMaxMs: 20 } });
    await readyWriters(c, 4, 2);
  });

  it('hardswap warm-up retries: a failing new writer retries passBackoffBaseMs * 2^n apart, then reports it and backs off as usual', async () => {
    const me = await startFakeMe();
    cleanup.push(() => me.close());
    const s1 = settings(me, { poolSize: 1, endpoints: { '2': [{ host: me.host, port: me.port }] } });
    const events: { at: number; text: string }[] = [];
    const t0 = Date.now();
    const pool = new MePool(s1, (t, c) => events.push({ at: Date.now() - t0, text: `${t} ${c}` }));
    cleanup.push(() => pool.close());
    pool.warmUp();
    await readyWriters(pool, 1, 1, 3000);
    const base = 120;
    const t1 = Date.now() - t0;
    pool.update(settings(me, { poolSize: 1, generation: 'g2', endpoints: { '2': [{ host: '127.0.0.1', port: DEAD_PORT }] }, warmup: { delayMinMs: 0, delayMaxMs: 0, extraPasses: 2, passBackoffBaseMs: base } }));
    await waitUntil(() => events.some((e) => e.text.startsWith('me_warmup_passes_spent dc=2 generation=2')), 8000, 'the warm-up retries spent');
    const spent = events.find((e) => e.text.startsWith('me_warmup_passes_spent'))!;
    // Two retries, at least half of base and of 2 * base apart (jitter is 0.5-1x), then the third failure reports.
    assert.ok(spent.at - t1 >= 0.5 * base + base - 5, `reported ${spent.at - t1} ms after the update`);
    assert.equal(events.filter((e) => e.text.startsWith('me_writer_down') && e.at > t1 && e.at <= spent.at).length, 3, 'three failed dials: the first and two retries');
    assert.equal(pool.status().generations.active.seq, 1, 'the swap waits; the old generation serves');
    assert.ok(pool.hasReadyWriter(2));
  });

  it('hardswap: a generation whose writers never came up is replaced at once', async () => {
    const me = await startFakeMe();
    cleanup.push(() => me.close());
    const dead = DEAD_PORT;
    const s1 = settings(me, { poolSize: 1, endpoints: { '2': [{ host: '127.0.0.1', port: dead }] } });
    const pool = new MePool(s1, () => undefined);
    cleanup.push(() => pool.close());
    pool.warmUp();
    pool.update(settings(me, { poolSize: 1, generation: 'g2' }));
    assert.equal(pool.status().generations.warm, undefined, 'nothing to lose: no warm-up wait');
    assert.equal(pool.status().generations.active.seq, 2);
    assert.ok(await pool.acquire(2), 'the new generation serves');
  });

  it('a stalled ME closes its clients promptly and new clients find no writer', async () => {
    const { me, pool, up } = await poolOnFakeMe();
    const p = probe();
    const leg = await up.connect({ dcId: 2, tag: 'intermediate', user, clientIp: '10.0.0.1', clientPort: 1 }, p.events);
    me.stall = true;
    leg.write(encodeFrame('intermediate', Buffer.alloc(32, 2)));
    await waitUntil(() => p.closed !== undefined, 6000, 'stalled writer closes the client');
    assert.ok(p.closed!.err, 'closed with an error');
    assert.ok(pool.counters.writerStalls >= 1);
    await assert.rejects(up.connect({ dcId: 2, tag: 'intermediate', user, clientIp: '10.0.0.1', clientPort: 2 }, probe().events), MeUnavailableError);
  });

  for (const fault of ['bad CRC', 'a wrong seq', 'a link closed mid-stream'] as const) {
    it(`${fault} from the ME: its clients are closed promptly and counted, the pool recovers`, async () => {
      const { me, pool, up } = await poolOnFakeMe();
      const p = probe();
      const leg = await up.connect({ dcId: 2, tag: 'intermediate', user, clientIp: '10.0.0.1', clientPort: 1 }, p.events);
      const failuresBefore = pool.counters.writerFailures;
      const lostBefore = pool.counters.clientsMovedOrClosed;
      if (fault === 'bad CRC') {
        me.badCrc = true;
        leg.write(encodeFrame('intermediate', Buffer.alloc(32, 3)));
      } else if (fault === 'a wrong seq') {
        me.badSeq = true;
        leg.write(encodeFrame('intermediate', Buffer.alloc(32, 5)));
      } else {
        // Half a packet, then the link goes away.
        me.drop = true;
        leg.write(encodeFrame('intermediate', Buffer.alloc(32, 4)));
      }
      await waitUntil(() => p.closed !== undefined, 5000, 'the client to be closed');
      assert.ok(p.closed!.err, 'closed with an error, not a clean end');
      assert.ok(pool.counters.writerFailures > failuresBefore, 'writer failure counted');
      assert.ok(pool.counters.clientsMovedOrClosed > lostBefore, 'lost client counted');
      me.badCrc = false;
      me.badSeq = false;
      me.drop = false;
      // The pool reconnects and serves new clients.
      const p2 = probe();
      let leg2: UpstreamLeg | undefined;
      await waitUntil(async () => {
        leg2 = await up.connect({ dcId: 2, tag: 'intermediate', user, clientIp: '10.0.0.1', clientPort: 2 }, p2.events).catch(() => undefined);
        return leg2 !== undefined;
      }, 8000, 'a new writer');
      leg2!.write(encodeFrame('intermediate', buildReqPqMulti(undefined, 7n << 32n)));
      await waitUntil(() => frames('intermediate', p2).length > 0, 5000, 'an answer through the new writer');
      assert.equal(Buffer.from(frames('intermediate', p2)[0]!).readUInt32LE(20), RES_PQ);
    });
  }

  it('frames split anywhere (1-byte pieces, headers split, frames far larger than a chunk) reach the ME whole and in order', async () => {
    const { me, up } = await poolOnFakeMe({ maxRecordedRequests: 1000 });
    for (const tag of ['abridged', 'intermediate', 'padded'] as const) {
      const p = probe();
      const leg = await up.connect({ dcId: 2, tag, user, clientIp: '10.0.0.1', clientPort: 9 }, p.events);
      const sizes = [8, 4, 600 * 1024, 12, 70_000, 8, 1024 * 1024 - 4096, 16];
      const payloads = sizes.map((n, i) => {
        const b = randomBytes(n);
        b.writeUInt32LE(0x10000 + i, 0); // non-zero auth_key_id, and a marker
        return b;
      });
      const wire = Buffer.concat(payloads.map((b) => encodeFrame(tag, b, 0)));
      const before = me.requests().length;
      // Pieces of 1..3 bytes for the first few hundred bytes, then random up to 64 KiB.
      for (let o = 0; o < wire.length; ) {
        const n = Math.min(wire.length - o, o < 400 ? 1 + (o % 3) : 1 + Math.floor(Math.random() * 65536));
        leg.write(Buffer.from(wire.subarray(o, o + n)));
        o += n;
      }
      await me.waitFor((m) => m.requests().length >= before + payloads.length, 10_000);
      const got = me.requests().slice(before, before + payloads.length);
      assert.deepEqual(got.map((r) => r.payload.length), sizes, tag);
      got.forEach((r, i) => assert.ok(r.payload.equals(payloads[i]!), `${tag} frame ${i}`));
      leg.destroy();
    }
  });

  it('a client that leaves mid-request: no partial request reaches the ME, its conn id is closed, its neighbour is served', async () => {
    const { me, up } = await poolOnFakeMe();
    const pa = probe();
    const pb = probe();
    const a = await up.connect({ dcId: 2, tag: 'intermediate', user, clientIp: '10.0.0.1', clientPort: 1 }, pa.events);
    const b = await up.connect({ dcId: 2, tag: 'intermediate', user, clientIp: '10.0.0.1', clientPort: 2 }, pb.events);
    await echoes(a, pa, 0x61);
    const idA = me.requests().find((r) => sentTo(me, 0x61) && r.payload[0] === 0x61)!.connId;
    const half = encodeFrame('intermediate', Buffer.alloc(4096, 0x62));
    a.write(half.subarray(0, 1000));
    a.write(half.subarray(1000, 3000));
    a.destroy();
    await me.waitFor((m) => m.closeConns().includes(idA), 5000);
    await echoes(b, pb, 0x63);
    assert.ok(!me.requests().some((r) => r.payload[0] === 0x62), 'a partial request reached the ME');
    b.destroy();
  });

  it('a wrong secret does not become a handshake storm', async () => {
    const me = await startFakeMe();
    cleanup.push(() => me.close());
    me.wrongSecret = true;
    const pool = new MePool(settings(me, { reconnectBaseMs: 300, reconnectCapMs: 5000 }), () => undefined);
    cleanup.push(() => pool.close());
    await assert.rejects(new MeUpstream(pool).connect({ dcId: 2, tag: 'padded', user, clientIp: '10.0.0.1', clientPort: 1 }, probe().events), MeUnavailableError);
    const t0 = me.connections();
    await new Promise((r) => setTimeout(r, 3000));
    const n = me.connections() - t0;
    // 2 slots, back-off 300 ms doubling with jitter: a handful each in 3 s, not hundreds.
    assert.ok(n <= 14, `${n} ME connection attempts in 3 s`);
    assert.equal(me.handshakes(), 0);
  });

  it('family fallback: a slot alternates its own family (every endpoint in turn) with the other one, and serves over the other once it works', async () => {
    const me = await startFakeMe();
    cleanup.push(() => me.close());
    const tried: string[] = [];
    const dead = (host: string): { host: string; port: number } => ({ host, port: DEAD_PORT });
    const s = settings(me, {
      endpoints: { '2': [dead('127.0.0.2'), dead('127.0.0.3')] },
      fallbackEndpoints: { '2': [dead('127.0.0.4')] },
      poolSize: 1,
      reconnectBaseMs: 1,
      reconnectCapMs: 10,
    });
    const pool = new MePool(s, (t, c) => {
      if (t === 'me_writer_down') tried.push(/dc=2 ([\d.]+):/.exec(c)![1]!.slice(-1));
    });
    cleanup.push(() => pool.close());
    pool.warmUp();
    await waitUntil(() => tried.length >= 24, 10_000, '24 failed attempts');
    const seq = tried.join('');
    // Two failures on the slot's own family, then every second attempt on the other one; the
    // own family's endpoints still take turns (a fallback failure must not skip one of them).
    assert.match(seq.slice(0, 12), /^23(4[23]){5}$/, seq);
    assert.ok(seq.includes('424') && seq.includes('434'), seq);
    pool.close();

    // The other family works: the slot ends up served by it.
    const events: string[] = [];
    const working = new MePool({ ...s, generation: 'g2', fallbackEndpoints: { '2': [{ host: me.host, port: me.port }] } }, (t, c) => events.push(`${t} ${c}`));
    cleanup.push(() => working.close());
    working.warmUp();
    await waitUntil(() => me.handshakes() > 0, 10_000, 'a writer on the fallback endpoint');
    assert.ok(events.some((e) => e.startsWith(`me_family_fallback dc=2 slot=0 endpoint=${me.host}:${me.port} after 2 failed attempts`)), events.join('\n'));
  });
});
