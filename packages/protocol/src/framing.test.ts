import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createFrameDecoder, encodeFrame, frameInPlace, writeFrameHeader, DEFAULT_MAX_FRAME, FRAME_IN_PLACE_HEADROOM, FRAME_IN_PLACE_TAILROOM } from './framing.js';
import { FrameFormatError, FrameTooLargeError } from './errors.js';
import type { ProtoTag } from './obfuscated2.js';

const tagArb = fc.constantFrom<ProtoTag>('abridged', 'intermediate', 'padded');

/** Feeds `wire` in pieces, keeping unconsumed bytes like a socket reader would. */
function decodeAll(tag: ProtoTag, wire: Buffer, cuts: number[], maxFrame?: number): Buffer[] {
  const dec = createFrameDecoder(tag, maxFrame);
  const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let pending = Buffer.alloc(0);
  let prev = 0;
  for (const p of [...points, wire.length]) {
    pending = Buffer.concat([pending, wire.subarray(prev, p)]);
    prev = p;
    for (let f = dec.decode(pending); f !== null; f = dec.decode(pending)) {
      out.push(Buffer.from(f.payload));
      pending = pending.subarray(f.consumed);
    }
  }
  assert.equal(pending.length, 0);
  return out;
}

describe('framing', () => {
  it('encode/decode round-trips, split at arbitrary points', () => {
    fc.assert(
      fc.property(
        tagArb,
        fc.array(fc.nat(700).map((n) => n * 4), { maxLength: 8 }),
        fc.array(fc.nat(10_000), { maxLength: 12 }),
        (tag, lens, cuts) => {
          const payloads = lens.map((n) => Buffer.alloc(n, n & 0xff));
          const pads: number[] = [];
          const wire = Buffer.concat(
            payloads.map((p, i) => {
              const pad = i % 16;
              pads.push(tag === 'padded' ? pad : 0);
              return encodeFrame(tag, p, pad);
            }),
          );
          const got = decodeAll(tag, wire, cuts);
          assert.equal(got.length, payloads.length);
          got.forEach((g, i) => {
            assert.equal(g.length, (payloads[i] as Buffer).length + (pads[i] as number));
            assert.deepEqual(g.subarray(0, (payloads[i] as Buffer).length), payloads[i]);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('abridged switches to the 4-byte header at 0x7f words', () => {
    assert.equal(encodeFrame('abridged', Buffer.alloc(0x7e * 4)).length, 1 + 0x7e * 4);
    const long = encodeFrame('abridged', Buffer.alloc(0x7f * 4));
    assert.deepEqual([...long.subarray(0, 4)], [0x7f, 0x7f, 0x00, 0x00]);
    assert.throws(() => encodeFrame('abridged', Buffer.alloc(5)), FrameFormatError);
  });

  it('writeFrameHeader matches encodeFrame headers', () => {
    const scratch = Buffer.alloc(8);
    for (const [tag, len] of [['abridged', 8], ['abridged', 4096], ['intermediate', 5], ['padded', 17]] as const) {
      const n = writeFrameHeader(scratch, 2, tag, len);
      assert.deepEqual(scratch.subarray(2, 2 + n), encodeFrame(tag, Buffer.alloc(len), 0).subarray(0, n));
    }
  });

  it('reports quick-ack bits', () => {
    const ab = createFrameDecoder('abridged').decode(Buffer.from([0x81, 1, 2, 3, 4]));
    assert.deepEqual(ab, { payload: Buffer.from([1, 2, 3, 4]), consumed: 5, quickAck: true });
    const im = createFrameDecoder('intermediate').decode(Buffer.from([2, 0, 0, 0x80, 9, 9]));
    assert.deepEqual(im, { payload: Buffer.from([9, 9]), consumed: 6, quickAck: true });
  });

  it('padded frames of any length (not multiples of 4) decode', () => {
    const f = encodeFrame('padded', Buffer.alloc(13, 1), 3);
    assert.equal(f.readUInt32LE(0), 16);
    assert.throws(() => encodeFrame('padded', Buffer.alloc(4), 16), FrameFormatError);
    const r = encodeFrame('padded', Buffer.alloc(4));
    assert.ok(r.length >= 8 && r.length <= 23);
  });

  it('throws FrameTooLargeError before buffering an oversized frame', () => {
    assert.throws(() => createFrameDecoder('intermediate').decode(Buffer.from([1, 0, 0x10, 0x00])), FrameTooLargeError);
    assert.throws(() => createFrameDecoder('abridged', 64).decode(Buffer.from([0x7f, 0x11, 0, 0])), FrameTooLargeError);
    assert.equal(createFrameDecoder('padded', 64).decode(Buffer.from([64, 0, 0, 0])), null);
    assert.throws(() => createFrameDecoder('padded', 64).decode(Buffer.from([65, 0, 0, 0])), FrameTooLargeError);
    assert.equal(DEFAULT_MAX_FRAME, 1 << 20);
  });

  it('fuzz: decoders either need more, return a bounded frame, or throw FrameTooLargeError', () => {
    fc.assert(
      fc.property(tagArb, fc.uint8Array({ maxLength: 300 }), (tag, bytes) => {
        const buf = Buffer.from(bytes);
        try {
          const f = createFrameDecoder(tag, 256).decode(buf);
          if (f !== null) {
            assert.ok(f.consumed > 0 && f.consumed <= buf.length);
            assert.ok(f.payload.length <= 256);
          }
        } catch (e) {
          assert.ok(e instanceof FrameTooLargeError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('frameInPlace', () => {
  it('frames a payload where it lies: decodes back to the payload, touches only the head- and tailroom', () => {
    fc.assert(
      fc.property(fc.constantFrom<ProtoTag>('abridged', 'intermediate', 'padded'), fc.integer({ min: 0, max: 1200 }), (tag, words) => {
        const len = words * 4;
        const mem = Buffer.alloc(FRAME_IN_PLACE_HEADROOM + len + FRAME_IN_PLACE_TAILROOM + 8, 0xee);
        const payload = mem.subarray(FRAME_IN_PLACE_HEADROOM, FRAME_IN_PLACE_HEADROOM + len);
        for (let i = 0; i < len; i++) payload[i] = i & 0xff;
        const want = Buffer.from(payload);
        const frame = frameInPlace(tag, mem, FRAME_IN_PLACE_HEADROOM, len);
        assert.equal(frame.buffer, mem.buffer, 'no copy');
        const d = createFrameDecoder(tag).decode(frame);
        assert.ok(d !== null);
        assert.equal(d.consumed, frame.length);
        assert.ok(d.payload.subarray(0, len).equals(want));
        const pad = d.payload.length - len;
        assert.ok(tag === 'padded' ? pad >= 0 && pad <= 3 : pad === 0, `padding ${pad}`);
        // Nothing past the tailroom was written.
        assert.ok(mem.subarray(FRAME_IN_PLACE_HEADROOM + len + FRAME_IN_PLACE_TAILROOM).every((b) => b === 0xee));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a payload without the room around it', () => {
    const mem = Buffer.alloc(64);
    assert.throws(() => frameInPlace('intermediate', mem, 0, 32), FrameFormatError);
  });

  it('frames bytes at an offset of a packet-like buffer (24 bytes before, a 4-byte CRC after) as a view of it', () => {
    for (const tag of ['abridged', 'intermediate', 'padded'] as const) {
      for (const len of [0, 4, 1020, 4096]) {
        const packet = Buffer.alloc(24 + len + 4, 0xee);
        for (let i = 0; i < len; i++) packet[24 + i] = i & 0xff;
        const want = Buffer.from(packet.subarray(24, 24 + len));
        const frame = frameInPlace(tag, packet, 24, len);
        assert.equal(frame.buffer, packet.buffer, 'no copy');
        const d = createFrameDecoder(tag).decode(frame);
        assert.ok(d !== null && d.consumed === frame.length);
        assert.ok(d.payload.subarray(0, len).equals(want));
        assert.ok(packet.subarray(0, 20).every((b) => b === 0xee), 'nothing before the header was written');
      }
    }
    assert.throws(() => frameInPlace('intermediate', Buffer.alloc(40), 2, 16), FrameFormatError);
    assert.throws(() => frameInPlace('intermediate', Buffer.alloc(40), 24, 20), FrameFormatError);
  });
});

