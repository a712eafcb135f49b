import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createCbc, crc32, crc32c, rpcCrc, useCbcAccelerator, useCrcAccelerator } from '@mtedge/protocol';
import { installMeAccelerators } from './accelerators.js';

test('accelerated CRC32 and CRC32-C equal the table code on random ranges and chains', () => {
  useCrcAccelerator({});
  const samples = Array.from({ length: 300 }, () => {
    const buf = randomBytes(1 + Math.floor(Math.random() * (Math.random() < 0.5 ? 5000 : 40000)));
    const start = Math.floor(Math.random() * buf.length);
    const end = start + Math.floor(Math.random() * (buf.length - start + 1));
    const prev = Math.floor(Math.random() * 2 ** 32);
    return { buf, start, end, prev, c: crc32(buf, start, end, prev), cc: crc32c(buf, start, end, prev), r: rpcCrc('crc32c', buf, start, end) };
  });
  const used = installMeAccelerators();
  try {
    assert.equal(used.crc32c, 'native', 'the native CRC32-C is available on this machine');
    for (const s of samples) {
      assert.equal(crc32(s.buf, s.start, s.end, s.prev), s.c);
      assert.equal(crc32c(s.buf, s.start, s.end, s.prev), s.cc);
      assert.equal(rpcCrc('crc32c', s.buf, s.start, s.end), s.r);
    }
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  } finally {
    useCrcAccelerator({});
  }
});

test('the native in-place AES-256-CBC equals node:crypto for the same key stream, both directions', () => {
  useCbcAccelerator(undefined);
  const key = randomBytes(32);
  const iv = randomBytes(16);
  const plain = randomBytes(16 * 700);
  const viaNode = Buffer.from(plain);
  const e1 = createCbc(key, iv, false);
  for (let o = 0; o < viaNode.length; o += 16 * 70) e1.apply(viaNode.subarray(o, o + 16 * 70));
  const used = installMeAccelerators();
  try {
    assert.equal(used.cbc, 'native-lanes');
    const viaNative = Buffer.from(plain);
    const e2 = createCbc(key, iv, false);
    for (let o = 0; o < viaNative.length; o += 16 * 35) e2.apply(viaNative.subarray(o, o + 16 * 35));
    assert.ok(viaNative.equals(viaNode));
    const d = createCbc(key, iv, true);
    d.apply(viaNative);
    assert.ok(viaNative.equals(plain));
  } finally {
    useCbcAccelerator(undefined);
    useCrcAccelerator({});
  }
});
