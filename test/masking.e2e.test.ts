/**
 * End to end, masking: whatever is not a client of ours (wrong secret in every mode, an HTTP
 * scanner, random bytes) reaches the mask host byte-for-byte and the prober gets the mask host's
 * answer; with `mask = false` it is just closed. Slow and silent clients are cut at the
 * handshake timeout. The operator sees each case in /v1/stats/zero/all.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  buildClientHello,
  garbageProbe,
  httpGetProbe,
  obf2Initiate,
  sendRawProbe,
  slowLoris,
  startFakeDc,
  startMaskHost,
  wrongSecretTlsProbe,
  type FakeDc,
  type MaskHost,
} from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge, type EdgeProcess } from './helpers/edge.js';
import { counters, grew, served } from './helpers/observe.js';

const DOMAIN = 'front.example.com';
const HANDSHAKE_SECS = 2;
const alice = { name: 'alice', secretHex: randomSecretHex() };
let dc: FakeDc;
let mask: MaskHost;
let edge: EdgeProcess;
let noMask: EdgeProcess;

before(async () => {
  dc = await startFakeDc({ mode: 'echo' });
  mask = await startMaskHost({ reply: 'http' });
  const timeouts = `[timeouts]\nclient_handshake = ${HANDSHAKE_SECS}\n`;
  const apiPort = await freePort();
  edge = await startEdge(edgeConfigToml({ users: [alice], dcPort: dc.port, maskPort: mask.port, apiPort, tlsDomain: DOMAIN, extraToml: timeouts }), { apiPort });
  const apiPort2 = await freePort();
  noMask = await startEdge(edgeConfigToml({ users: [alice], dcPort: dc.port, apiPort: apiPort2, tlsDomain: DOMAIN, extraToml: timeouts }), { apiPort: apiPort2 });
});

after(async () => {
  await edge?.stop();
  await noMask?.stop();
  await dc?.close();
  await mask?.close();
});

function wrongObf2(tag: 'intermediate' | 'padded'): Buffer {
  // 64-byte init plus a little "stream", keyed by a secret the edge does not know.
  return Buffer.concat([obf2Initiate({ tag, dcId: 2, secret: randomBytes(16) }).init, randomBytes(100)]);
}

function garbage(): Buffer {
  // Random, but neither a TLS record nor an HTTP verb, so it exercises the obfuscated2 path.
  const g = garbageProbe(300);
  g[0] = 0x42;
  return g;
}

const probes: { name: string; bytes: () => Buffer; cls: string; stage: string }[] = [
  { name: 'wrong secret, classic', bytes: () => wrongObf2('intermediate'), cls: 'unknown_secret', stage: 'direct_mtproto' },
  { name: 'wrong secret, dd', bytes: () => wrongObf2('padded'), cls: 'unknown_secret', stage: 'direct_mtproto' },
  { name: 'wrong secret, ee (fake-TLS ClientHello)', bytes: () => wrongSecretTlsProbe(DOMAIN), cls: 'unknown_secret', stage: 'tls_core' },
  { name: 'HTTP GET probe', bytes: () => httpGetProbe('front.example.com', '/index.html'), cls: 'http_probe', stage: 'first_packet_prelude' },
  { name: 'random garbage', bytes: garbage, cls: 'unknown_secret', stage: 'direct_mtproto' },
];

for (const p of probes) {
  test(`${p.name}: relayed verbatim to the mask host, the prober gets its reply`, async () => {
    const bytes = p.bytes();
    const idx = mask.connections();
    const c0 = await counters(edge);
    const r = await sendRawProbe({ host: '127.0.0.1', port: edge.port, bytes, readMs: 8000 });
    assert.ok(r.closed, 'the mask host closes after its reply, and so does the edge');
    assert.ok(r.received.equals(mask.response), `prober got ${JSON.stringify(r.received.toString('latin1').slice(0, 80))}`);
    await mask.waitFor((m) => m.connections() > idx && (m.received()[idx]?.length ?? 0) >= bytes.length, 5000);
    assert.equal(mask.connections(), idx + 1, 'exactly one mask connection per probe');
    assert.ok(mask.received()[idx]!.equals(bytes), 'the mask host saw the probe byte-for-byte');
    const c1 = await counters(edge);
    assert.equal(grew(c0.byClass, c1.byClass, p.cls), 1, `connections_bad_by_class ${p.cls}`);
    assert.equal(grew(c0.byStage, c1.byStage, p.stage), 1, `handshake_failures_by_stage ${p.stage}`);
    assert.equal(c1.badTotal - c0.badTotal, 1);
  });
}

for (const p of probes) {
  test(`${p.name}, then a half-close: still relayed verbatim and answered`, async () => {
    const bytes = p.bytes();
    const idx = mask.connections();
    const r = await sendRawProbe({ host: '127.0.0.1', port: edge.port, bytes, readMs: 8000, endAfterWrite: true });
    assert.ok(r.received.equals(mask.response), `prober got ${r.received.length} bytes instead of the mask host's reply`);
    await mask.waitFor((m) => (m.received()[idx]?.length ?? 0) >= bytes.length, 5000);
    assert.ok(mask.received()[idx]!.equals(bytes), 'the mask host saw the probe byte-for-byte');
  });
}

for (const p of probes) {
  test(`mask = false: ${p.name} is closed without a reply and counted`, async () => {
    const idx = mask.connections();
    const c0 = await counters(noMask);
    const r = await sendRawProbe({ host: '127.0.0.1', port: noMask.port, bytes: p.bytes(), readMs: 8000 });
    assert.ok(r.closed, 'closed by the edge');
    assert.equal(r.received.length, 0, 'nothing comes back');
    const c1 = await counters(noMask);
    assert.equal(grew(c0.byClass, c1.byClass, p.cls), 1, `connections_bad_by_class ${p.cls}`);
    assert.equal(grew(c0.byStage, c1.byStage, p.stage), 1, `handshake_failures_by_stage ${p.stage}`);
    assert.equal(mask.connections(), idx, 'no mask connection was made');
  });
}

test('a silent client is closed at the handshake timeout', async () => {
  const c0 = await counters(edge);
  const r = await sendRawProbe({ host: '127.0.0.1', port: edge.port, bytes: Buffer.alloc(0), readMs: (HANDSHAKE_SECS + 6) * 1000 });
  assert.ok(r.closed, 'the edge closed the silent connection');
  assert.equal(r.received.length, 0);
  const c1 = await counters(edge);
  assert.equal(c1.handshakeTimeouts - c0.handshakeTimeouts, 1);
  assert.equal(grew(c0.byClass, c1.byClass, 'timeout'), 1);
});

const lorises: { name: string; bytes: Buffer }[] = [
  { name: 'obfuscated2-looking bytes', bytes: Buffer.alloc(4096, 0x41) },
  { name: 'a TLS record header announcing 512 bytes', bytes: Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]), Buffer.alloc(4096, 0x07)]) },
];

for (const l of lorises) {
  test(`slow-loris (${l.name}) is cut at the handshake timeout`, async () => {
    const c0 = await counters(edge);
    const maxMs = (HANDSHAKE_SECS + 6) * 1000;
    const r = await slowLoris({ host: '127.0.0.1', port: edge.port, bytesPerSec: 10, maxMs, bytes: l.bytes });
    assert.ok(r.closedByPeer, `still open after ${maxMs} ms (${r.bytesWritten} bytes dribbled)`);
    assert.ok(r.bytesWritten < 64 + 10 * 6, `the edge let ${r.bytesWritten} bytes dribble in`);
    const c1 = await counters(edge);
    assert.equal(c1.handshakeTimeouts - c0.handshakeTimeouts, 1, 'handshake_timeouts_total');
    assert.equal(grew(c0.byClass, c1.byClass, 'timeout'), 1);
  });
}

test('a real client is still served after all the probing', async () => {
  const c = await served({ host: '127.0.0.1', port: edge.port, mode: 'tls', secret: Buffer.from(alice.secretHex, 'hex'), domain: DOMAIN });
  c.end();
  await c.closed;
});

test('a fake-TLS client that goes silent after the ServerHello is cut at the handshake timeout', async () => {
  const c0 = await counters(edge);
  const hello = buildClientHello({ secret: Buffer.from(alice.secretHex, 'hex'), domain: DOMAIN }).record;
  const r = await sendRawProbe({ host: '127.0.0.1', port: edge.port, bytes: hello, readMs: (HANDSHAKE_SECS + 6) * 1000 });
  assert.ok(r.closed, 'still open');
  assert.equal(r.received[0], 0x16, 'the edge answered the hello with a ServerHello first');
  const c1 = await counters(edge);
  assert.equal(c1.handshakeTimeouts - c0.handshakeTimeouts, 1);
  assert.equal(grew(c0.byStage, c1.byStage, 'tls_post_serverhello_mtproto'), 1);
});
