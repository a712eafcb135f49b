/**
 * End to end, a dead DC: a DC whose port is closed, and a DC that accepts and drops at once
 * (fake DC 'refuse' mode). The client is closed promptly with nothing relayed, the operator sees
 * `dc_connect_failed` naming the DC and `upstream.connect_fail_total`, and the edge keeps serving
 * the healthy DCs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, startFakeDc, startMaskHost, type FakeDc, type MaskHost } from '@mtedge/testkit';
import { DEAD_PORT, edgeConfigToml, freePort, randomSecretHex, startEdge, waitUntil, type EdgeProcess } from './helpers/edge.js';
import { counters, echoes, grew, lastSeq, liveConnections, recentEvents, refused, served, user } from './helpers/observe.js';

const DOMAIN = 'front.example.com';
const alice = { name: 'alice', secretHex: randomSecretHex() };
const secret = Buffer.from(alice.secretHex, 'hex');
const REFUSING_DC = 3;
const DEAD_DC = 4;
let dc: FakeDc;
let refusing: FakeDc;
let deadPort: number;
let mask: MaskHost;
let edge: EdgeProcess;

before(async () => {
  dc = await startFakeDc({ mode: 'echo' });
  refusing = await startFakeDc({ mode: 'refuse' });
  mask = await startMaskHost({ reply: 'http' });
  // A port nobody listens on: connecting gets ECONNREFUSED.
  deadPort = DEAD_PORT;
  const apiPort = await freePort();
  edge = await startEdge(
    edgeConfigToml({ users: [alice], dcPort: dc.port, dcPorts: { [REFUSING_DC]: refusing.port, [DEAD_DC]: deadPort }, maskPort: mask.port, apiPort, tlsDomain: DOMAIN, workers: 2 }),
    { apiPort },
  );
});

after(async () => {
  await edge?.stop();
  await dc?.close();
  await refusing?.close();
  await mask?.close();
});

test('a DC with a closed port: the client is closed, dc_connect_failed names the DC, connect_fail_total counts it', async () => {
  const seq = await lastSeq(edge);
  const c0 = await counters(edge);
  const attempts: { mode: 'secure' | 'tls' | 'classic'; dcId: number }[] = [
    { mode: 'secure', dcId: DEAD_DC },
    { mode: 'tls', dcId: DEAD_DC },
    { mode: 'classic', dcId: -DEAD_DC },
  ];
  for (const a of attempts) {
    const r = await refused({ host: '127.0.0.1', port: edge.port, mode: a.mode, secret, domain: DOMAIN, dcId: a.dcId }, 3000);
    assert.ok(r.closed, `${a.mode} dc ${a.dcId}: the client was not closed promptly`);
    assert.equal(r.relayed, 0);
  }
  const c1 = await counters(edge);
  assert.equal(c1.upstream['connect_fail_total']! - c0.upstream['connect_fail_total']!, attempts.length, 'upstream.connect_fail_total');
  assert.equal(c1.upstream['connect_attempt_total']! - c0.upstream['connect_attempt_total']!, attempts.length);
  assert.equal(grew(c0.byClass, c1.byClass, 'dc_connect_failed'), attempts.length);
  const failed = (await recentEvents(edge)).filter((e) => e.seq > seq && e.event_type === 'dc_connect_failed');
  assert.equal(failed.length, attempts.length);
  for (const e of failed) {
    assert.match(e.context, new RegExp(`\\bDC ${DEAD_DC}\\b`), e.context);
    assert.ok(e.context.includes(`127.0.0.1:${deadPort}`), `the event names the endpoint: ${e.context}`);
    assert.match(e.context, /user=alice/);
  }
  await waitUntil(async () => (await user(edge, 'alice')).current_connections === 0, 5000, 'nothing held');
});

test("a DC that accepts and drops ('refuse' mode): the client is closed promptly, nothing held", async () => {
  const before = refusing.refused();
  for (const mode of ['secure', 'tls'] as const) {
    const r = await refused({ host: '127.0.0.1', port: edge.port, mode, secret, domain: DOMAIN, dcId: REFUSING_DC }, 3000);
    assert.ok(r.closed, `${mode}: the client was not closed promptly`);
    assert.equal(r.relayed, 0);
  }
  assert.equal(refusing.refused() - before, 2, 'the edge did dial the refusing DC');
  await waitUntil(async () => (await user(edge, 'alice')).current_connections === 0, 5000, 'nothing held');
});

test('the edge keeps serving healthy DCs during and after a burst of dead-DC clients', async () => {
  const live = await served({ host: '127.0.0.1', port: edge.port, mode: 'tls', secret, domain: DOMAIN, dcId: 2 });
  const burst = await Promise.all(
    Array.from({ length: 30 }, (_, i) => refused({ host: '127.0.0.1', port: edge.port, mode: 'secure', secret, dcId: i % 2 === 0 ? DEAD_DC : REFUSING_DC }, 5000)),
  );
  assert.ok(burst.every((r) => r.closed && r.relayed === 0), 'every dead-DC client was closed');
  await echoes(live, 100_000);
  for (const dcId of [1, 2, 5, -2]) {
    const c = await connectClient({ host: '127.0.0.1', port: edge.port, mode: 'secure', secret, dcId });
    await echoes(c, 10_000);
    c.end();
    await c.closed;
  }
  live.end();
  await live.closed;
  await waitUntil(async () => (await liveConnections(edge)) === 0, 5000, 'current_connections back to 0');
  assert.equal((await edge.api('/v1/health/ready')).status, 200);
});
