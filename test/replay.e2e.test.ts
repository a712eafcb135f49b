/**
 * End to end, replay protection across workers: the exact handshake bytes of a real client,
 * replayed on fresh connections, are refused (masked, class `replay`) by whichever worker takes
 * them, for obfuscated2 (classic, dd) and fake-TLS; the original client keeps relaying.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, sendRawProbe, startFakeDc, startMaskHost, type ClientMode, type FakeDc, type MaskHost } from '@mtedge/testkit';
import { edgeConfigToml, freePort, randomSecretHex, startEdge, type EdgeProcess } from './helpers/edge.js';
import { counters, echoes, grew, lastSeq, recentEvents, workersOf } from './helpers/observe.js';

const DOMAIN = 'front.example.com';
const alice = { name: 'alice', secretHex: randomSecretHex() };
/** Enough tries that the kernel hands some to each of the 2 workers (asserted below). */
const MIN_TRIES = 12;
const MAX_TRIES = 150;
let dc: FakeDc;
let mask: MaskHost;
let edge: EdgeProcess;

before(async () => {
  dc = await startFakeDc({ mode: 'echo' });
  mask = await startMaskHost({ reply: 'http' });
  const apiPort = await freePort();
  edge = await startEdge(edgeConfigToml({ users: [alice], dcPort: dc.port, maskPort: mask.port, apiPort, tlsDomain: DOMAIN, workers: 2 }), { apiPort });
});

after(async () => {
  await edge?.stop();
  await dc?.close();
  await mask?.close();
});

const modes: { mode: ClientMode; stage: string }[] = [
  { mode: 'classic', stage: 'direct_mtproto' },
  { mode: 'secure', stage: 'direct_mtproto' },
  { mode: 'tls', stage: 'tls_core' },
];

for (const m of modes) {
  test(`${m.mode}: a replayed handshake is masked by every worker; the original client keeps working`, async () => {
    const original = await connectClient({ host: '127.0.0.1', port: edge.port, mode: m.mode, secret: Buffer.from(alice.secretHex, 'hex'), domain: DOMAIN });
    await echoes(original, 2048);
    const captured = original.capturedHandshake;
    // For fake-TLS the replay check keys on the ClientHello; the captured bytes carry the whole
    // handshake (hello, CCS, init record), as a recording censor would resend it.
    const seq = await lastSeq(edge);
    const c0 = await counters(edge);
    const dcConns = dc.connections();
    let tries = 0;
    let workers = new Set<number>();
    while (tries < MAX_TRIES && (tries < MIN_TRIES || workers.size < 2)) {
      const idx = mask.connections();
      const r = await sendRawProbe({ host: '127.0.0.1', port: edge.port, bytes: captured, readMs: 8000 });
      tries++;
      assert.ok(r.received.equals(mask.response), `replay #${tries} was not masked: got ${r.received.length} bytes`);
      assert.ok(r.closed);
      await mask.waitFor((mh) => (mh.received()[idx]?.length ?? 0) >= captured.length, 5000);
      assert.ok(mask.received()[idx]!.equals(captured), 'the mask host saw the replayed bytes verbatim');
      if (tries >= MIN_TRIES) workers = workersOf(await recentEvents(edge), 'handshake_replay', seq);
    }
    assert.deepEqual([...workers].sort(), [0, 1], `replays were refused by workers ${[...workers].join(',')} after ${tries} tries`);
    const c1 = await counters(edge);
    assert.equal(grew(c0.byClass, c1.byClass, 'replay'), tries, 'connections_bad_by_class replay');
    assert.equal(grew(c0.byStage, c1.byStage, m.stage), tries, `handshake_failures_by_stage ${m.stage}`);
    assert.equal(dc.connections(), dcConns, 'no replay reached a DC');
    // The original session is untouched by all of this.
    await echoes(original, 50_000);
    assert.ok(!original.isClosed);
    original.end();
    await original.closed;
  });
}

test('a fresh client with the same secret is still served (only the exact handshake is refused)', async () => {
  for (const mode of ['classic', 'secure', 'tls'] as const) {
    const c = await connectClient({ host: '127.0.0.1', port: edge.port, mode, secret: Buffer.from(alice.secretHex, 'hex'), domain: DOMAIN });
    await echoes(c, 1024);
    c.end();
    await c.closed;
  }
});
