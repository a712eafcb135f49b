/**
 * End to end: the built binary with 2 workers relays every client mode to the fake DC and back,
 * byte-exact, and counts exactly what it relayed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connectClient, startFakeDc, startMaskHost, type FakeDc, type MaskHost, type ProtoTag } from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge, waitUntil, type EdgeProcess } from './helpers/edge.js';

let dc: FakeDc;
let mask: MaskHost;
let edge: EdgeProcess;
const alice = { name: 'alice', secretHex: randomSecretHex() };
const bob = { name: 'bob', secretHex: randomSecretHex() };
const DOMAIN = 'front.example.com';

before(async () => {
  dc = await startFakeDc({ mode: 'echo' });
  mask = await startMaskHost({ reply: 'http' });
  const apiPort = await freePort();
  edge = await startEdge(edgeConfigToml({ users: [alice, bob], dcPort: dc.port, maskPort: mask.port, apiPort, tlsDomain: DOMAIN }), { apiPort });
});

after(async () => {
  await edge?.stop();
  await dc?.close();
  await mask?.close();
});

/** An init that starts 0x16 0x42: only 16 03 01 may be taken for a TLS hello. */
function tlsLookingInit(n: number): Buffer {
  const b = randomBytes(n);
  b[0] = 0x16;
  b[1] = 0x42;
  return b;
}

const cases: { mode: 'classic' | 'secure' | 'tls'; tag: ProtoTag; user: typeof alice; initRandom?: (n: number) => Buffer; note?: string }[] = [
  { mode: 'classic', tag: 'intermediate', user: alice },
  { mode: 'classic', tag: 'intermediate', user: bob, initRandom: tlsLookingInit, note: ' (init begins with 0x16)' },
  { mode: 'classic', tag: 'abridged', user: bob },
  { mode: 'secure', tag: 'padded', user: alice },
  { mode: 'tls', tag: 'padded', user: bob },
];

const sent: Record<string, number> = { alice: 0, bob: 0 };

for (const c of cases) {
  test(`${c.mode}/${c.tag}${c.note ?? ''} relays data both ways intact`, async () => {
    const client = await connectClient({
      host: '127.0.0.1',
      port: edge.port,
      mode: c.mode,
      tag: c.tag,
      secret: Buffer.from(c.user.secretHex, 'hex'),
      domain: DOMAIN,
      dcId: 2,
      ...(c.initRandom !== undefined ? { initRandom: c.initRandom } : {}),
    });
    const payload = randomBytes(200_000);
    for (let off = 0; off < payload.length; off += 7_000) client.send(payload.subarray(off, off + 7_000));
    const got = await client.waitForBytes(payload.length, 10_000);
    assert.equal(got.length, payload.length);
    assert.ok(got.equals(payload), 'echoed bytes differ');
    sent[c.user.name]! += payload.length;
    client.end();
    await client.closed;
  });
}

test('counters equal what the clients sent and the fake DC received, to the byte', async () => {
  const total = sent['alice']! + sent['bob']!;
  await waitUntil(() => dc.bytesReceived() === total && dc.activeConnections() === 0, 5000, 'fake DC to settle');
  assert.equal(dc.bytesSent(), total);
  await waitUntil(async () => (await edge.api('/v1/stats/users')).body.data.every((u: { current_connections: number }) => u.current_connections === 0), 5000, 'connections to drain');
  const users = (await edge.api('/v1/users')).body.data as { username: string; total_octets: number }[];
  for (const u of users) assert.equal(u.total_octets, 2 * sent[u.username]!, `total_octets of ${u.username}`);
  const zero = (await edge.api('/v1/stats/zero/all')).body.data;
  assert.equal(zero.core.connections_total, cases.length);
  assert.equal(zero.core.connections_bad_total, 0);
  assert.equal(zero.upstream.connect_success_total, cases.length);
  assert.equal(dc.records().length, cases.length);
  for (const r of dc.records()) assert.equal(r.dcId, 2);
  const info = (await edge.api('/v1/system/info')).body.data;
  assert.equal(info.workers.configured, 2);
  assert.equal(info.workers.ready, 2);
  assert.equal(info.workers.accepts_by_worker.length, 2);
  assert.equal(info.workers.accepts_by_worker.reduce((a: number, b: number) => a + b, 0), cases.length);
});
