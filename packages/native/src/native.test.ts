import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import net from 'node:net';
import { nativeAddon } from './index.js';

test('in-place AES-256-CTR equals node:crypto over arbitrary splits, and chains two contexts', () => {
  const n = nativeAddon();
  for (let round = 0; round < 50; round++) {
    const key = randomBytes(32);
    const iv = randomBytes(16);
    const data = randomBytes(1 + Math.floor(Math.random() * 70_000));
    const ref = createCipheriv('aes-256-ctr', key, iv).update(data);
    const ctx = n.ctrCreate(key, iv);
    const out = Buffer.from(data);
    let off = 0;
    while (off < out.length) {
      const len = Math.min(out.length - off, 1 + Math.floor(Math.random() * 5000));
      n.ctrApply(ctx, out.subarray(off, off + len));
      off += len;
    }
    assert.ok(out.equals(ref), `round ${round}`);
  }
  const k1 = randomBytes(32), i1 = randomBytes(16), k2 = randomBytes(32), i2 = randomBytes(16);
  const data = randomBytes(4096);
  const ref = createCipheriv('aes-256-ctr', k2, i2).update(createCipheriv('aes-256-ctr', k1, i1).update(data));
  const both = Buffer.from(data);
  n.ctrApply(n.ctrCreate(k1, i1), both, n.ctrCreate(k2, i2));
  assert.ok(both.equals(ref));
  assert.throws(() => n.ctrCreate(randomBytes(16), i1), /32 bytes/);
});

test('in-place AES-256-CBC (no padding) equals node:crypto both ways over block-aligned splits', () => {
  const n = nativeAddon();
  for (let round = 0; round < 30; round++) {
    const key = randomBytes(32);
    const iv = randomBytes(16);
    const data = randomBytes(16 * (1 + Math.floor(Math.random() * 4000)));
    const ref = createCipheriv('aes-256-cbc', key, iv).setAutoPadding(false).update(data);
    const enc = n.cbcCreate(key, iv, false);
    const dec = n.cbcCreate(key, iv, true);
    const out = Buffer.from(data);
    for (let off = 0; off < out.length; ) {
      const len = Math.min(out.length - off, 16 * (1 + Math.floor(Math.random() * 300)));
      n.cipherApply(enc, out.subarray(off, off + len));
      off += len;
    }
    assert.ok(out.equals(ref), `encrypt round ${round}`);
    for (let off = 0; off < out.length; ) {
      const len = Math.min(out.length - off, 16 * (1 + Math.floor(Math.random() * 300)));
      n.cipherApply(dec, out.subarray(off, off + len));
      off += len;
    }
    assert.ok(out.equals(data), `decrypt round ${round}`);
  }
  const ctx = n.cbcCreate(randomBytes(32), randomBytes(16), false);
  assert.throws(() => n.cipherApply(ctx, Buffer.alloc(17)), RangeError);
  assert.throws(() => n.cbcCreate(randomBytes(32), randomBytes(16), 'yes' as unknown as boolean), TypeError);
});

test('CBC lanes: several streams encrypted interleaved equal OpenSSL stream by stream, across calls', () => {
  const n = nativeAddon();
  assert.ok(n.cbcLaneCreate && n.cbcLaneEncrypt, 'AES-NI lanes on this machine');
  for (let round = 0; round < 20; round++) {
    const streams = Array.from({ length: 1 + Math.floor(Math.random() * 7) }, () => ({ key: randomBytes(32), iv: randomBytes(16), sent: [] as Buffer[] }));
    const lanes = streams.map((s) => n.cbcLaneCreate!(s.key, s.iv));
    for (let call = 0; call < 4; call++) {
      const pick = streams.map((_, i) => i).filter(() => Math.random() < 0.8);
      const bufs = pick.map(() => randomBytes(16 * Math.floor(Math.random() * 300)));
      pick.forEach((i, k) => streams[i]!.sent.push(Buffer.from(bufs[k]!)));
      const out = bufs.map((b) => Buffer.from(b));
      n.cbcLaneEncrypt!(pick.map((i) => lanes[i]!), out);
      pick.forEach((i, k) => streams[i]!.sent.push(out[k]!));
    }
    streams.forEach((s, i) => {
      const plain = Buffer.concat(s.sent.filter((_, k) => k % 2 === 0));
      const got = Buffer.concat(s.sent.filter((_, k) => k % 2 === 1));
      const want = createCipheriv('aes-256-cbc', s.key, s.iv).setAutoPadding(false).update(plain);
      assert.ok(got.equals(want), `round ${round} stream ${i}`);
    });
  }
  const lane = n.cbcLaneCreate!(randomBytes(32), randomBytes(16));
  assert.throws(() => n.cbcLaneEncrypt!([lane], [Buffer.alloc(17)]), RangeError);
  assert.throws(() => n.cbcLaneEncrypt!([lane, lane], [Buffer.alloc(16), Buffer.alloc(16)]), RangeError);
  // Contexts are type-tagged: one kind never passes for another.
  const evp = n.cbcCreate(randomBytes(32), randomBytes(16), false);
  assert.throws(() => n.cbcLaneEncrypt!([evp as unknown as typeof lane], [Buffer.alloc(16)]), TypeError);
  assert.throws(() => n.cipherApply(lane as unknown as typeof evp, Buffer.alloc(16)), TypeError);
});

test('listening socket: dup keeps accepting after the original closes', async () => {
  const n = nativeAddon();
  const fd = n.listenTcp('127.0.0.1', 0, 16, false);
  const port = n.localPort(fd);
  assert.ok(port > 0);
  const dup = n.dupFd(fd);
  n.closeFd(fd);
  const server = net.createServer((s) => s.end('hi'));
  await new Promise<void>((r) => server.listen({ fd: dup }, () => r()));
  const got = await new Promise<string>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let d = '';
    c.on('data', (x) => (d += x));
    c.on('end', () => resolve(d));
    c.on('error', reject);
  });
  assert.equal(got, 'hi');
  await new Promise<void>((r) => server.close(() => r()));
  assert.throws(() => n.listenTcp('not-an-ip', 0, 16, false), /not an IP/);
});
