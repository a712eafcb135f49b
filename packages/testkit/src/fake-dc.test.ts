import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { initiateObfuscated2, createFrameDecoder, encodeFrame, type ProtoTag } from '@mtedge/protocol';
import { startFakeDc } from './fake-dc.js';
import { connectClient } from './client.js';
import { REQ_PQ_MULTI, RES_PQ } from './mtproto-respq.js';

async function dial(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  await once(s, 'connect');
  return s;
}

/** Collects decrypted bytes until `n` are in (bounded by the test timeout via the DC's waitFor). */
function collect(s: Socket, decrypt: (b: Buffer) => Buffer): { bytes: () => Buffer } {
  const parts: Buffer[] = [];
  s.on('data', (c: Buffer) => parts.push(decrypt(c)));
  return { bytes: () => Buffer.concat(parts) };
}

function reqPqMulti(nonce: Buffer): Buffer {
  const m = Buffer.alloc(40);
  m.writeBigUInt64LE(BigInt(Date.now()) << 20n, 8);
  m.writeUInt32LE(20, 16);
  m.writeUInt32LE(REQ_PQ_MULTI, 20);
  nonce.copy(m, 24);
  return m;
}

test('echo: a protocol-built DC-side client gets its plaintext back; counters and records add up', async () => {
  const dc = await startFakeDc();
  try {
    const { init, session } = initiateObfuscated2({ tag: 'intermediate', dcId: 2 });
    const s = await dial(dc.port);
    const got = collect(s, (b) => session.decrypt.update(b));
    const payload = randomBytes(50_000);
    s.write(Buffer.concat([init, session.encrypt.update(payload.subarray(0, 10))]));
    s.write(session.encrypt.update(payload.subarray(10)));
    await dc.waitFor((d) => d.bytesSent() === payload.length, 5000);
    await new Promise<void>((r) => setImmediate(r));
    const deadline = Date.now() + 5000;
    while (got.bytes().length < payload.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(got.bytes(), payload);
    assert.equal(dc.connections(), 1);
    assert.equal(dc.activeConnections(), 1);
    assert.equal(dc.bytesReceived(), payload.length);
    const [rec] = dc.records();
    assert.deepEqual({ dcId: rec?.dcId, tag: rec?.tag, bytesIn: rec?.bytesIn, bytesOut: rec?.bytesOut, open: rec?.open }, { dcId: 2, tag: 'intermediate', bytesIn: 50_000, bytesOut: 50_000, open: true });
    s.destroy();
    await dc.waitFor((d) => d.activeConnections() === 0, 5000);
    assert.equal(rec?.open, false);
  } finally {
    await dc.close();
  }
});

test('echo through the simulator with no secret, every tag and a media DC id', async () => {
  const dc = await startFakeDc({ mode: 'echo' });
  try {
    for (const tag of ['abridged', 'intermediate', 'padded'] as ProtoTag[]) {
      const c = await connectClient({ host: '127.0.0.1', port: dc.port, mode: 'classic', tag, dcId: -5, firstPayload: Buffer.from('hello ') });
      c.send(Buffer.from('world'));
      assert.equal((await c.waitForBytes(11, 5000)).toString(), 'hello world');
      assert.equal(c.bytesSent, 11);
      c.destroy();
      await c.closed;
    }
    assert.deepEqual(dc.records().map((r) => [r.tag, r.dcId]), [['abridged', -5], ['intermediate', -5], ['padded', -5]]);
  } finally {
    await dc.close();
  }
});

test('sink counts bytes and answers nothing', async () => {
  const dc = await startFakeDc({ mode: 'sink' });
  try {
    const c = await connectClient({ host: '127.0.0.1', port: dc.port, mode: 'secure' });
    c.send(randomBytes(12_345));
    await dc.waitFor((d) => d.bytesReceived() === 12_345, 5000);
    assert.equal(dc.bytesSent(), 0);
    assert.equal(c.bytesReceived, 0);
    c.end();
    await c.closed;
  } finally {
    await dc.close();
  }
});

test('mtproto: req_pq_multi gets a resPQ echoing the nonce, other frames echo, every tag', async () => {
  const dc = await startFakeDc({ mode: 'mtproto' });
  try {
    for (const tag of ['abridged', 'intermediate', 'padded'] as ProtoTag[]) {
      const { init, session } = initiateObfuscated2({ tag, dcId: 1 });
      const s = await dial(dc.port);
      const got = collect(s, (b) => session.decrypt.update(b));
      const nonce = randomBytes(16);
      const other = randomBytes(64);
      s.write(Buffer.concat([init, session.encrypt.update(Buffer.concat([encodeFrame(tag, reqPqMulti(nonce)), encodeFrame(tag, other, 0)]))]));
      await dc.waitFor((d) => d.frames().filter((f) => f.tag === tag).length === 2, 5000);
      const deadline = Date.now() + 5000;
      const dec = createFrameDecoder(tag);
      let frames: Buffer[] = [];
      while (Date.now() < deadline) {
        frames = [];
        const buf = got.bytes();
        let off = 0;
        for (let f = dec.decode(buf); f; f = dec.decode(buf.subarray(off))) {
          frames.push(f.payload);
          off += f.consumed;
        }
        if (frames.length === 2) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(frames.length, 2, tag);
      const resPq = frames[0] as Buffer;
      assert.equal(resPq.readBigUInt64LE(0), 0n);
      assert.equal(resPq.readBigUInt64LE(8) % 4n, 1n);
      assert.equal(resPq.readUInt32LE(16), resPq.length - 20);
      assert.equal(resPq.readUInt32LE(20), RES_PQ);
      assert.deepEqual(resPq.subarray(24, 40), nonce);
      assert.deepEqual(frames[1], other);
      s.destroy();
    }
    const answered = dc.frames().filter((f) => f.answeredReqPq);
    assert.equal(answered.length, 3);
  } finally {
    await dc.close();
  }
});

test('mtproto through the simulator: nextFrame() returns the resPQ', async () => {
  const dc = await startFakeDc({ mode: 'mtproto' });
  try {
    const c = await connectClient({ host: '127.0.0.1', port: dc.port, mode: 'secure' });
    const nonce = randomBytes(16);
    c.sendFrame(reqPqMulti(nonce), 7);
    const f = await c.nextFrame(5000);
    assert.equal(f.payload.readUInt32LE(20), RES_PQ);
    assert.deepEqual(f.payload.subarray(24, 40), nonce);
    c.destroy();
    await c.closed;
  } finally {
    await dc.close();
  }
});

test('bad init is counted and closed; refuse mode closes at once; runtime switch back to echo', async () => {
  const dc = await startFakeDc();
  try {
    // With no secret, a random init decrypts to a valid tag only with probability 3/2^32.
    const s = await dial(dc.port);
    s.write(randomBytes(64));
    await once(s, 'close');
    assert.equal(dc.badInits(), 1);
    assert.equal(dc.records().length, 0);

    dc.mode = 'refuse';
    const r = await dial(dc.port);
    r.on('error', () => undefined);
    await once(r, 'close');
    assert.equal(dc.refused(), 1);
    await assert.rejects(async () => {
      const c = await connectClient({ host: '127.0.0.1', port: dc.port, mode: 'classic' });
      await c.waitForBytes(1, 2000);
    });

    dc.mode = 'echo';
    const c = await connectClient({ host: '127.0.0.1', port: dc.port, mode: 'classic' });
    c.send(Buffer.from('back'));
    await c.waitForBytes(4, 5000);
    c.destroy();
    await c.closed;
    assert.equal(dc.connections(), 4);
  } finally {
    await dc.close();
  }
});

test('stall accepts and reads but never answers; close() ends open connections', async () => {
  const dc = await startFakeDc({ stall: true });
  const c = await connectClient({ host: '127.0.0.1', port: dc.port, mode: 'classic' });
  c.send(Buffer.from('anyone there?'));
  await dc.waitFor((d) => d.bytesReceived() === 13, 5000);
  await assert.rejects(c.waitForBytes(1, 150), { code: 'MTE_ERR_TESTKIT_TIMEOUT' });
  assert.equal(dc.bytesSent(), 0);
  await dc.close();
  const closed = await c.closed;
  assert.equal(typeof closed.hadError, 'boolean');
  assert.equal(c.isClosed, true);
});
