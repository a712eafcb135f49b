import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { validateFakeTlsHello, parseClientHello } from '@mtedge/protocol';
import { MASK_HOST_HTTP_RESPONSE, startMaskHost } from './mask-host.js';
import { garbageProbe, httpGetProbe, replayBytes, sendRawProbe, slowLoris, wrongSecretTlsProbe } from './probes.js';

const host = '127.0.0.1';

test('http mask host: the prober gets the fixed response, the host gets the probe bytes unchanged', async () => {
  const mask = await startMaskHost();
  try {
    const probes = [httpGetProbe('example.com'), garbageProbe(300), wrongSecretTlsProbe('www.example.com')];
    for (const bytes of probes) {
      const r = await sendRawProbe({ host, port: mask.port, bytes, readMs: 2000 });
      assert.deepEqual(r.received, MASK_HOST_HTTP_RESPONSE);
      assert.equal(r.closed, true);
    }
    await mask.waitFor((m) => m.activeConnections() === 0, 2000);
    assert.deepEqual(mask.received(), probes);
    assert.deepEqual(mask.records().map((r) => r.bytesIn), probes.map((p) => p.length));
    assert.equal(mask.connections(), 3);
  } finally {
    await mask.close();
  }
});

test('the wrong-secret TLS probe is a well-formed browser-like hello that no real secret accepts', () => {
  const probe = wrongSecretTlsProbe('www.example.com');
  const parsed = parseClientHello(probe);
  assert.equal(parsed.sni, 'www.example.com');
  assert.equal(validateFakeTlsHello(probe, [randomBytes(16)], Math.floor(Date.now() / 1000), 600), null);
});

test('echo mask host returns each byte; silent mask host stays quiet until readMs', async () => {
  const echo = await startMaskHost({ reply: 'echo' });
  const silent = await startMaskHost({ reply: 'silent' });
  try {
    const bytes = randomBytes(5000);
    const r = await sendRawProbe({ host, port: echo.port, bytes, readMs: 5000, untilBytes: bytes.length });
    assert.deepEqual(r.received, bytes);
    const q = await sendRawProbe({ host, port: silent.port, bytes, readMs: 100 });
    assert.equal(q.received.length, 0);
    assert.equal(q.closed, false);
    await silent.waitFor((m) => m.received()[0]?.length === bytes.length, 2000);
    assert.deepEqual(silent.received()[0], bytes);
  } finally {
    await echo.close();
    await silent.close();
  }
});

test('recording is capped per connection but bytesIn counts everything', async () => {
  const mask = await startMaskHost({ reply: 'silent', maxRecordedBytes: 100 });
  try {
    await sendRawProbe({ host, port: mask.port, bytes: randomBytes(1000), readMs: 100, endAfterWrite: true });
    await mask.waitFor((m) => m.records()[0]?.bytesIn === 1000, 2000);
    assert.equal(mask.received()[0]?.length, 100);
  } finally {
    await mask.close();
  }
});

test('replayBytes sends the same bytes on fresh connections', async () => {
  const mask = await startMaskHost();
  try {
    const bytes = randomBytes(64);
    const rs = await replayBytes({ host, port: mask.port, bytes, readMs: 1000, times: 3 });
    assert.equal(rs.length, 3);
    await mask.waitFor((m) => m.received().length === 3 && m.activeConnections() === 0, 2000);
    assert.deepEqual(mask.received(), [bytes, bytes, bytes]);
  } finally {
    await mask.close();
  }
});

test('slowLoris: a server with a 200 ms deadline closes it; a patient one runs to maxMs', async () => {
  const server = createServer((s) => {
    s.on('error', () => undefined);
    const t = setTimeout(() => s.destroy(), 200);
    s.on('close', () => clearTimeout(t));
  });
  server.listen(0, host);
  await once(server, 'listening');
  const addr = server.address();
  assert.ok(addr !== null && typeof addr !== 'string');
  const mask = await startMaskHost({ reply: 'silent' });
  try {
    const cut = await slowLoris({ host, port: addr.port, bytesPerSec: 50, maxMs: 3000 });
    assert.equal(cut.closedByPeer, true);
    const patient = await slowLoris({ host, port: mask.port, bytesPerSec: 100, maxMs: 150 });
    assert.equal(patient.closedByPeer, false);
    assert.ok(patient.bytesWritten > 0);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await mask.close();
  }
});
