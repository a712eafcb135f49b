import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { createCtrStream } from './ctr.js';

test('native and node:crypto streams produce identical bytes, with a skipped prefix', () => {
  for (let round = 0; round < 30; round++) {
    const key = randomBytes(32);
    const iv = randomBytes(16);
    const skip = round % 2 === 0 ? 64 : 0;
    const data = randomBytes(1 + Math.floor(Math.random() * 100_000));
    const ref = createCipheriv('aes-256-ctr', key, iv).update(Buffer.concat([Buffer.alloc(skip), data])).subarray(skip);
    const a = createCtrStream(key, iv, skip, true);
    const b = createCtrStream(key, iv, skip, false);
    assert.equal(a.kind, 'native');
    assert.equal(b.kind, 'node');
    const x = Buffer.from(data);
    const y = Buffer.from(data);
    let off = 0;
    while (off < data.length) {
      const len = Math.min(data.length - off, 1 + Math.floor(Math.random() * 9000));
      a.apply(x.subarray(off, off + len));
      b.apply(y.subarray(off, off + len));
      off += len;
    }
    assert.ok(x.equals(ref), 'native');
    assert.ok(y.equals(ref), 'node');
  }
});
