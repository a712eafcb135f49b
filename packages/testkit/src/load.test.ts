import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { once } from 'node:events';
import { startFakeDc } from './fake-dc.js';
import { runLoad, summarize } from './load.js';
import { startEchoProxy } from './internal/echo-proxy.js';
import { obf2Initiate } from './wire/obf2.js';

const host = '127.0.0.1';

test('20 clients x 64 KiB straight to an echo fake DC: every byte verified', async () => {
  const dc = await startFakeDc({ mode: 'echo' });
  try {
    const r = await runLoad({ host, port: dc.port, clients: 20, mode: ['classic', 'secure'], bytesPerClient: 64 * 1024, chunkSize: 4096, concurrencyRampMs: 50 });
    assert.equal(r.ok, true, JSON.stringify(r.clients.find((c) => !c.ok)));
    assert.equal(r.errors, 0);
    assert.equal(r.clients.length, 20);
    for (const c of r.clients) {
      assert.equal(c.bytesReceived, c.bytesSent);
      assert.ok(c.bytesSent >= 64 * 1024);
    }
    assert.equal(r.totalReceived, r.totalSent);
    assert.equal(r.handshakeMs.count, 20);
    assert.equal(r.firstByteMs.count, 20);
    assert.equal(dc.bytesReceived(), r.totalSent);
    assert.equal(dc.records().length, 20);
    await dc.waitFor((d) => d.activeConnections() === 0, 5000);
  } finally {
    await dc.close();
  }
});

test('raw (unframed) abridged load with a small window, bounded by duration', async () => {
  const dc = await startFakeDc({ mode: 'echo' });
  try {
    const r = await runLoad({ host, port: dc.port, clients: 4, mode: 'classic', tag: 'abridged', framed: false, durationMs: 150, chunkSize: 1000, windowBytes: 8192 });
    assert.equal(r.ok, true, JSON.stringify(r.clients.find((c) => !c.ok)));
    assert.ok(r.totalReceived > 0);
    assert.equal(r.totalReceived, r.totalSent);
  } finally {
    await dc.close();
  }
});

test('tls, secure and classic clients with per-user secrets through a stand-in proxy', async () => {
  const secret = randomBytes(16);
  const proxy = await startEchoProxy({ secret });
  try {
    const r = await runLoad({ host, port: proxy.port, clients: 6, mode: ['tls', 'secure', 'classic'], secrets: [secret], domain: 'x.example', bytesPerClient: 40_000 });
    assert.equal(r.ok, true, JSON.stringify(r.clients.find((c) => !c.ok)));
    assert.deepEqual(r.clients.map((c) => c.mode), ['tls', 'secure', 'classic', 'tls', 'secure', 'classic']);
  } finally {
    await proxy.close();
  }
});

test('a corrupted echo byte is reported as MTE_ERR_TESTKIT_MISMATCH with its offset', async () => {
  const secret = randomBytes(16);
  const proxy = await startEchoProxy({ secret, corruptAt: 5000 });
  try {
    const r = await runLoad({ host, port: proxy.port, clients: 1, mode: 'classic', secrets: [secret], bytesPerClient: 20_000, framed: false });
    assert.equal(r.ok, false);
    assert.equal(r.errors, 1);
    assert.equal(r.clients[0]?.error?.code, 'MTE_ERR_TESTKIT_MISMATCH');
    assert.match(r.clients[0]?.error?.message ?? '', /offset 5000/);
    assert.equal(r.clients[0]?.bytesReceived, 5000);
  } finally {
    await proxy.close();
  }
});

test('a dead endpoint fails every client quickly instead of hanging', async () => {
  const dc = await startFakeDc({ mode: 'refuse' });
  try {
    const r = await runLoad({ host, port: dc.port, clients: 3, mode: 'classic', bytesPerClient: 10_000, drainTimeoutMs: 2000 });
    assert.equal(r.ok, false);
    assert.equal(r.errors, 3);
  } finally {
    await dc.close();
  }
});

test('option checks and latency summary', async () => {
  await assert.rejects(runLoad({ host, port: 1, clients: 1, mode: 'classic' }), { code: 'MTE_ERR_TESTKIT_OPTIONS' });
  await assert.rejects(runLoad({ host, port: 1, clients: 0, mode: 'classic', bytesPerClient: 1 }), { code: 'MTE_ERR_TESTKIT_OPTIONS' });
  assert.deepEqual(summarize([3, 1, 2]), { count: 3, min: 1, p50: 2, p95: 3, max: 3, mean: 2 });
  assert.equal(summarize([]).count, 0);
});

test('a classic init whose first byte is 0x16 (but not 16 03 01) is not taken for a TLS hello', async () => {
  const secret = randomBytes(16);
  const proxy = await startEchoProxy({ secret });
  const socket = connect(proxy.port, host);
  try {
    await once(socket, 'connect');
    const rnd = (n: number): Buffer => {
      const b = randomBytes(n);
      b[0] = 0x16;
      b[1] = 0x42;
      return b;
    };
    const { init, streams } = obf2Initiate({ tag: 'intermediate', dcId: 2, secret, randomBytes: rnd });
    assert.equal(init[0], 0x16);
    const payload = randomBytes(1000);
    socket.write(Buffer.concat([init, streams.encrypt.update(payload)]));
    const echoed: Buffer[] = [];
    let got = 0;
    // Bounded: a proxy that took the init for a TLS hello would wait for a record that never comes.
    const guard = setTimeout(() => socket.destroy(), 3000);
    for await (const chunk of socket as AsyncIterable<Buffer>) {
      echoed.push(streams.decrypt.update(chunk));
      got += chunk.length;
      if (got >= payload.length) break;
    }
    clearTimeout(guard);
    assert.deepEqual(Buffer.concat(echoed), payload);
    assert.equal(proxy.rejected, 0);
  } finally {
    socket.destroy();
    await proxy.close();
  }
});
