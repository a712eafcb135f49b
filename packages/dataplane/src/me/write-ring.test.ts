import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WriteRing } from './write-ring.js';

test('regions in flight never overlap, are handed back in order, and the slab is reused', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.integer({ min: 1, max: 700 }), fc.constant(0)), { minLength: 1, maxLength: 300 }), (ops) => {
      const ring = new WriteRing(2048);
      const live: { buf: Buffer; mark: number }[] = [];
      let mark = 0;
      for (const op of ops) {
        if (op === 0) {
          // 0 = the oldest write completes.
          if (live.length > 0) {
            const oldest = live.shift()!;
            assert.ok(oldest.buf.every((b) => b === oldest.mark % 256), 'a region was overwritten while in flight');
            ring.release();
          }
          continue;
        }
        const b = ring.take(op);
        if (b === undefined) continue;
        assert.equal(b.length, op);
        mark++;
        b.fill(mark % 256);
        live.push({ buf: b, mark });
      }
      for (const l of live) assert.ok(l.buf.every((b) => b === l.mark % 256), 'a region was overwritten while in flight');
      assert.equal(ring.inFlight, live.length);
    }),
    { numRuns: 300 },
  );
});

test('an empty ring starts over at offset 0; a request over half the slab is refused', () => {
  const ring = new WriteRing(1000);
  const a = ring.take(400)!;
  ring.release();
  const b = ring.take(400)!;
  assert.equal(a.byteOffset, b.byteOffset);
  assert.equal(ring.take(501), undefined);
});
