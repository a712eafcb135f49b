/**
 * End to end, Middle-End mode: the built binary (2 workers) loads proxy-secret and
 * proxy-multi.conf from the fake ME's HTTP server, multiplexes every client over a few RPC links
 * to the fake middle proxy, tags every request with the ad tag, closes conn ids both ways, falls
 * back to direct when the ME stalls (me2dc_fallback = true) or closes clients (false), and does
 * not storm an ME that refuses its secret.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import {
  buildReqPqMulti,
  RES_PQ,
  connectClient,
  frameEncode,
  FrameReader,
  obf2Initiate,
  type FakeDc,
  type FakeMeHttp,
  type ProtoTag,
  type SimClient,
} from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge, waitUntil, type EdgeProcess } from './helpers/edge.js';
import { ME_AD_TAG as AD_TAG, ME_TLS_DOMAIN as DOMAIN, meGeneralToml, useMeRig, withMiddleProxy } from './helpers/me.js';

const alice = { name: 'alice', secretHex: randomSecretHex() };
const WORKERS = 2;
const POOL_SIZE = 4; // per process: 2 writers per worker per DC


async function startMeEdge(dc: FakeDc, http: FakeMeHttp, fallback: boolean): Promise<EdgeProcess> {
  const apiPort = await freePort();
  const toml = withMiddleProxy(
    edgeConfigToml({ users: [alice], dcPort: dc.port, apiPort, tlsDomain: DOMAIN, workers: WORKERS, generalToml: meGeneralToml(http, { adTag: AD_TAG, poolSize: POOL_SIZE, fallback }) }),
  );
  return startEdge(toml, { apiPort });
}

async function client(edge: EdgeProcess, mode: 'classic' | 'secure' | 'tls', tag: ProtoTag): Promise<SimClient> {
  return connectClient({ host: '127.0.0.1', port: edge.port, mode, tag, secret: Buffer.from(alice.secretHex, 'hex'), domain: DOMAIN, dcId: 2 });
}

/** req_pq_multi -> resPQ, then an "encrypted" frame echoed back; returns that frame's body. */
async function roundTrip(c: SimClient): Promise<Buffer> {
  c.sendFrame(buildReqPqMulti());
  const a = await c.nextFrame(5000);
  assert.equal(Buffer.from(a.payload).readUInt32LE(20), RES_PQ, 'resPQ');
  const body = randomBytes(256 + 4 * Math.floor(Math.random() * 64));
  body.writeBigUInt64LE(0x1122334455667788n, 0); // non-zero auth_key_id
  c.sendFrame(body);
  const b = Buffer.from((await c.nextFrame(5000)).payload);
  assert.ok(b.subarray(0, body.length).equals(body), 'echo differs');
  return body;
}

async function events(edge: EdgeProcess, type: string): Promise<{ event_type: string; context: string }[]> {
  const r = await edge.api('/v1/runtime/events/recent?limit=1000');
  const evs = (r.body.data?.data?.events ?? []) as { event_type: string; context: string }[];
  return evs.filter((e) => e.event_type === type);
}

describe('Middle-End mode, me2dc_fallback = true', () => {
  const rig = useMeRig({ edge: (dc, http) => startMeEdge(dc, http, true) });

  test('loads both inputs over HTTP and writes the caches', () => {
    assert.ok(rig.http.requests() >= 2);
    assert.ok(existsSync(join(rig.edge.dir, 'proxy-secret')));
    assert.deepEqual(readFileSync(join(rig.edge.dir, 'proxy-secret')), rig.me.secret);
    assert.match(readFileSync(join(rig.edge.dir, 'cache/proxy-config-v4.txt'), 'utf8'), /proxy_for 2 127\.0\.0\.1:/);
  });

  for (const [mode, tag] of [['classic', 'intermediate'], ['classic', 'abridged'], ['secure', 'padded'], ['tls', 'padded']] as const) {
    test(`${mode}/${tag} round-trips through the ME`, async () => {
      const c = await client(rig.edge, mode, tag);
      await roundTrip(c);
      c.destroy();
    });
  }

  test('30 clients share a few ME links; the ad tag rides on every request', async () => {
    const clients = await Promise.all(Array.from({ length: 30 }, (_, i) => client(rig.edge, i % 3 === 0 ? 'tls' : i % 3 === 1 ? 'secure' : 'classic', i % 3 === 2 ? 'abridged' : i % 3 === 1 ? 'padded' : 'padded')));
    await Promise.all(clients.map((c) => roundTrip(c)));
    const links = new Set(rig.me.requests().map((r) => r.link));
    assert.ok(links.size <= POOL_SIZE, `${links.size} ME links for 30+ clients`);
    assert.ok(rig.me.handshakes() <= POOL_SIZE, `${rig.me.handshakes()} ME handshakes`);
    assert.equal(rig.dc.connections(), 0, 'nothing went direct');
    assert.ok(rig.me.requests().length >= 60);
    assert.ok(rig.me.requests().every((r) => r.adTag?.toString('hex') === AD_TAG), 'ad tag on every request');
    assert.ok(rig.me.requests().every((r) => (r.flags & 0x1000) !== 0 && (r.flags & 0x8) !== 0));
    for (const c of clients) c.destroy();
  });

  test('a client that leaves produces RPC_CLOSE_CONN; RPC_CLOSE_EXT closes that client', async () => {
    const c1 = await client(rig.edge, 'classic', 'intermediate');
    const b1 = await roundTrip(c1);
    const id1 = rig.me.requests().find((r) => r.payload.subarray(0, b1.length).equals(b1))!.connId;
    c1.destroy();
    await rig.me.waitFor((m) => m.closeConns().includes(id1), 5000);

    const c2 = await client(rig.edge, 'secure', 'padded');
    const b2 = await roundTrip(c2);
    const id2 = rig.me.requests().find((r) => r.payload.subarray(0, b2.length).equals(b2))!.connId;
    assert.ok(rig.me.closeExt(id2));
    await c2.closed;
    assert.ok(c2.isClosed);
  });

  test('a client that stops reading is held, not cut: its requests stop, others flow, and it gets every answer once it reads', async () => {
    const { init, streams } = obf2Initiate({ tag: 'intermediate', dcId: 2, secret: Buffer.from(alice.secretHex, 'hex') });
    const sock = net.connect(rig.edge.port, '127.0.0.1');
    await new Promise<void>((r, j) => sock.once('connect', () => r()).once('error', j));
    sock.pause(); // not reading: the ME's answers pile up toward us
    let closedByEdge = false;
    sock.once('close', () => (closedByEdge = true));
    sock.on('error', () => undefined);
    sock.write(init);
    const body = randomBytes(256 * 1024);
    body.writeBigUInt64LE(0x1122334455667788n, 0);
    let frames = 0;
    let stalled = false;
    // Bounded: 64 MiB at most. Kernel buffers on both paths absorb some MiB; then the edge must stop
    // reading us, and our writes stop draining.
    while (frames * body.length < 64 * 1024 * 1024 && !closedByEdge) {
      const ok = sock.write(streams.encrypt.update(frameEncode('intermediate', body)));
      frames++;
      if (!ok) {
        const drained = await Promise.race([new Promise<boolean>((r) => sock.once('drain', () => r(true))), new Promise<boolean>((r) => setTimeout(() => r(false), 1500))]);
        if (!drained) {
          stalled = true;
          break;
        }
      }
    }
    assert.ok(stalled, `the edge kept reading a client that reads nothing (${frames} frames of 256 KiB sent)`);
    assert.equal(closedByEdge, false, 'the held client was cut');
    // The shared ME links still serve everyone else.
    const other = await client(rig.edge, 'secure', 'padded');
    await roundTrip(other);
    other.destroy();
    // Reading again: every request is answered, in order, byte for byte.
    const reader = new FrameReader('intermediate');
    let echoed = 0;
    let bad = 0;
    const all = new Promise<void>((resolve) => {
      sock.on('data', (chunk: Buffer) => {
        reader.push(streams.decrypt.update(chunk));
        for (let f = reader.next(); f !== null; f = reader.next()) {
          if (f.payload.length !== body.length || !Buffer.from(f.payload.subarray(0, 64)).equals(body.subarray(0, 64))) bad++;
          if (++echoed === frames) resolve();
        }
      });
    });
    sock.resume();
    await Promise.race([all, new Promise((_, j) => setTimeout(() => j(new Error(`${echoed} of ${frames} answers after resuming`)), 30_000))]);
    assert.equal(bad, 0);
    assert.equal((await events(rig.edge, 'client_too_slow')).length, 0);
    sock.destroy();
  });

  test('an ME that keeps pushing answers to a client that does not read: that client is cut at the cap, the others are not', async () => {
    const { init, streams } = obf2Initiate({ tag: 'intermediate', dcId: 2, secret: Buffer.from(alice.secretHex, 'hex') });
    const sock = net.connect(rig.edge.port, '127.0.0.1');
    await new Promise<void>((r, j) => sock.once('connect', () => r()).once('error', j));
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.on('error', () => undefined);
    sock.write(init);
    const marker = randomBytes(64);
    marker.writeBigUInt64LE(0x1122334455667788n, 0);
    sock.write(streams.encrypt.update(frameEncode('intermediate', marker)));
    await rig.me.waitFor((m) => m.requests().some((r) => r.payload.subarray(0, 64).equals(marker)), 5000);
    const connId = rig.me.requests().find((r) => r.payload.subarray(0, 64).equals(marker))!.connId;
    sock.pause();
    // Far past the cap plus every kernel buffer on the way.
    assert.ok(rig.me.flood(connId, 48 * 1024 * 1024));
    // A paused socket does not see the edge hang up: the event says it did, then reading shows it.
    await waitUntil(async () => (await events(rig.edge, 'client_too_slow')).length > 0, 20_000, 'client_too_slow event');
    sock.resume();
    await Promise.race([closed, new Promise((_, j) => setTimeout(() => j(new Error('the flooded client was not closed')), 10_000))]);
    const c = await client(rig.edge, 'secure', 'padded');
    await roundTrip(c);
    c.destroy();
  });

  test('a stalled ME: clients are not left hanging and new ones go direct (counted, event)', async () => {
    const held = await client(rig.edge, 'classic', 'intermediate');
    await roundTrip(held);
    rig.me.stall = true;
    held.sendFrame(randomBytes(64));
    // Stall watchdog: 2 missed keepalives (1 s) + 1 s.
    await Promise.race([held.closed, new Promise((_, j) => setTimeout(() => j(new Error('client hangs on a stalled ME')), 10_000))]);
    // Every worker's writers notice the silence (the other worker's may notice a bit later).
    await rig.me.waitFor((m) => m.links().every((l) => !l.handshaked || !l.open), 10_000);
    const dcBefore = rig.dc.connections();
    const c = await client(rig.edge, 'secure', 'padded');
    await roundTrip(c);
    assert.ok(rig.dc.connections() > dcBefore, 'fake DC saw the fallback client');
    await waitUntil(async () => (await events(rig.edge, 'me_fallback_direct')).length > 0, 5000, 'me_fallback_direct event');
    c.destroy();
    rig.me.stall = false;
  });
});

describe('Middle-End mode, me2dc_fallback = false, ME refuses the secret', () => {
  const rig = useMeRig({ prepare: (me) => void (me.wrongSecret = true), edge: (dc, http) => startMeEdge(dc, http, false) });

  test('clients are closed (not sent direct), and reconnects are bounded by back-off', async () => {
    const c = await client(rig.edge, 'classic', 'intermediate');
    c.sendFrame(buildReqPqMulti());
    const closed = await Promise.race([c.closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('hang'), 8000))]);
    assert.equal(closed, 'closed');
    assert.equal(rig.dc.connections(), 0, 'nothing went direct');
    await waitUntil(async () => (await events(rig.edge, 'me_no_writer')).length > 0, 5000, 'me_no_writer event');
    const t0 = rig.me.connections();
    await new Promise((r) => setTimeout(r, 3000));
    const n = rig.me.connections() - t0;
    // 4 slots (2 workers x 2), 300 ms base doubling with jitter: about 4 each in 3 s.
    assert.ok(n <= 30, `${n} ME connection attempts in 3 s`);
    assert.equal(rig.me.handshakes(), 0);
  });

  test('the API says so: not ready, refused clients and handshake rejects counted', async () => {
    const ready = await rig.edge.api('/v1/health/ready');
    assert.equal(ready.status, 503, 'ME is the only upstream without me2dc_fallback');
    assert.equal(ready.body.data.reason, 'no_healthy_upstreams');
    const gates = (await rig.edge.api('/v1/runtime/gates')).body.data;
    assert.equal(gates.me_runtime_ready, false);
    assert.equal(gates.me2dc_fallback_enabled, false);
    assert.equal(gates.reroute_active, false, 'nothing goes direct');
    const mp = (await rig.edge.api('/v1/stats/zero/all')).body.data.middle_proxy;
    assert.ok(mp.me_no_writer_closed_total >= 1, JSON.stringify(mp));
    assert.equal(mp.me_fallback_direct_total, 0);
    assert.ok(mp.handshake_reject_total >= 1);
    const st = (await rig.edge.api('/v1/runtime/me-selftest')).body.data;
    assert.equal(st.enabled, true);
    assert.ok(st.data.kdf.errors_total >= 1);
    const dcs = (await rig.edge.api('/v1/stats/dcs')).body.data;
    const dc2 = dcs.dcs.find((d: { dc: number }) => d.dc === 2);
    assert.equal(dc2.alive_writers, 0);
    assert.equal(dc2.reroute_active, true);
    assert.equal(dc2.reroute_reason, 'no_writer_client_closed');
    assert.match(rig.edge.output(), /client closed \(me2dc_fallback = false\)/);
  });
});

describe('Middle-End mode, an ME that does not take CRC32-C', () => {
  const rig = useMeRig({ me: { crc32c: false }, edge: (dc, http) => startMeEdge(dc, http, false) });

  test('links fall back to plain CRC32 and carry big and small frames both ways', async () => {
    const c = await client(rig.edge, 'secure', 'padded');
    await roundTrip(c);
    // Frames up to 256 KiB, so packets span the links' reads and writes.
    for (const n of [16, 1024, 64 * 1024, 256 * 1024]) {
      const body = randomBytes(n);
      body.writeBigUInt64LE(0x1122334455667788n, 0);
      c.sendFrame(body);
      const back = Buffer.from((await c.nextFrame(10_000)).payload);
      assert.ok(back.subarray(0, n).equals(body), `${n}-byte frame echoed intact`);
    }
    c.destroy();
    const used = rig.me.links().filter((l) => l.handshaked);
    assert.ok(used.length > 0);
    assert.ok(used.every((l) => !l.crc32c), 'no link negotiated CRC32-C');
    assert.ok(used.every((l) => l.failure === undefined), `link failures: ${used.map((l) => l.failure).join(', ')}`);
    assert.equal(rig.dc.connections(), 0, 'nothing went direct');
  });
});
