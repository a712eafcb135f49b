import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  MAX_TLS_RECORD_PAYLOAD,
  TLS_HEADER_LEN,
  TlsRecordReader,
  buildFakeTlsClientHello,
  buildFakeTlsServerHello,
  encodeTlsAppData,
  fakeTlsServerReplyLength,
  parseClientHello,
  validateFakeTlsHello,
  verifyFakeTlsServerHello,
  writeTlsRecordHeader,
} from './faketls.js';
import { TlsParseError } from './errors.js';

const NOW = 1_764_000_000;

// A reply produced independently by the mtprotoproxy algorithm (Python, fixed inputs):
// secret 00..0f, client digest (i*7+3), session id a0..bf, key share 40..5f, 64-byte "certificate".
const MTPROTOPROXY_REPLY_HEX =
  '160303007a020000760303d99dd02602fabe03de9b4c0ddee7c4dadb73c304eb958738355b4dc4e5c75f2c20a0a1a2a3' +
  'a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf130100002e00330024001d002040414243444546' +
  '4748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f002b000203041403030001011703030040000d1a273441' +
  '4e5b6875828f9ca9b6c3d0ddeaf704111e2b3845525f6c798693a0adbac7d4e1eefb0815222f3c495663707d8a97a4b1' +
  'becbd8e5f2ff0c192633';
const FIXTURE_SECRET = Buffer.from(Array.from({ length: 16 }, (_, i) => i));
const FIXTURE_DIGEST = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff));
const FIXTURE_SID = Buffer.from(Array.from({ length: 32 }, (_, i) => 0xa0 + i));

function handshake(secret: Buffer, domain = 'www.example.com') {
  return buildFakeTlsClientHello({ secret, domain, nowSec: NOW });
}

describe('ClientHello builder + parser', () => {
  it('builds a realistic hello that parses', () => {
    const secret = randomBytes(16);
    const { record } = handshake(secret, 'cdn.example.org');
    assert.ok(record.length >= 517, `length ${record.length}`);
    assert.deepEqual([...record.subarray(0, 3)], [0x16, 0x03, 0x01]);
    assert.equal(record.readUInt16BE(3), record.length - TLS_HEADER_LEN);
    const p = parseClientHello(record);
    assert.equal(p.sni, 'cdn.example.org');
    assert.deepEqual(p.alpn, ['h2', 'http/1.1']);
    assert.equal(p.sessionId.length, 32);
    for (const e of [0x0000, 0x0010, 0x002b, 0x0033, 0x000a, 0x000d]) assert.ok(p.extensions.includes(e), `ext ${e}`);
    assert.ok(p.cipherSuites.includes(0x1301));
    assert.ok(p.extensions.some((e) => (e & 0x0f0f) === 0x0a0a), 'GREASE present');
  });

  it('grows past 517 for long domains', () => {
    const domain = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    const { record } = handshake(randomBytes(16), domain);
    assert.ok(record.length > 517);
    const p = parseClientHello(record);
    assert.equal(p.sni, domain);
    assert.ok(!p.extensions.includes(0x0015), 'no padding extension needed');
  });

  it('rejects truncations with TlsParseError', () => {
    const { record } = handshake(randomBytes(16));
    for (let n = 0; n < record.length; n += 7) {
      assert.throws(() => parseClientHello(record.subarray(0, n)), TlsParseError);
    }
  });

  it('fuzz: random and mutated records only ever throw TlsParseError', () => {
    const { record } = handshake(randomBytes(16));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 700 }),
          fc.array(fc.tuple(fc.nat(record.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((muts) => {
            const r = Buffer.from(record);
            for (const [i, v] of muts) r[i] = v;
            return new Uint8Array(r);
          }),
        ),
        (buf) => {
          try {
            parseClientHello(buf);
          } catch (e) {
            assert.ok(e instanceof TlsParseError, String(e));
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('fake-TLS handshake', () => {
  it('client -> validate -> server reply -> client verifies', () => {
    const secrets = [randomBytes(16), randomBytes(16), randomBytes(16)];
    const { record, digest } = handshake(secrets[2] as Buffer);
    const m = validateFakeTlsHello(record, secrets, NOW + 5, 120);
    assert.ok(m !== null);
    assert.equal(m.index, 2);
    assert.equal(m.timestamp, NOW);
    assert.deepEqual(m.digest, digest);
    assert.equal(m.sni, 'www.example.com');
    assert.deepEqual(m.sessionId, parseClientHello(record).sessionId);

    const reply = buildFakeTlsServerHello({ secret: secrets[2] as Buffer, clientDigest: m.digest, sessionId: m.sessionId, appDataLen: 2500 });
    assert.equal(fakeTlsServerReplyLength(reply), reply.length);
    assert.ok(verifyFakeTlsServerHello(reply, digest, secrets[2] as Buffer));
    assert.ok(!verifyFakeTlsServerHello(reply, digest, secrets[0] as Buffer));
    const flipped = Buffer.from(reply);
    flipped[reply.length - 1]! ^= 1;
    assert.ok(!verifyFakeTlsServerHello(flipped, digest, secrets[2] as Buffer));
  });

  it('accepts a reply built by an independent implementation, and builds the same bytes', () => {
    const reply = Buffer.from(MTPROTOPROXY_REPLY_HEX, 'hex');
    assert.equal(fakeTlsServerReplyLength(reply), reply.length);
    assert.ok(verifyFakeTlsServerHello(reply, FIXTURE_DIGEST, FIXTURE_SECRET));
    assert.ok(!verifyFakeTlsServerHello(reply, FIXTURE_SID, FIXTURE_SECRET));
    // Our builder, fed the same "random" bytes, must reproduce the fixture byte for byte except the
    // key share, which we derive as a square mod 2^255-19 instead of taking the bytes verbatim.
    const ours = buildFakeTlsServerHello({
      secret: FIXTURE_SECRET,
      clientDigest: FIXTURE_DIGEST,
      sessionId: FIXTURE_SID,
      appDataLen: 64,
      randomBytes: (n) => (n === 64 ? reply.subarray(reply.length - 64) : Buffer.alloc(n, 1)),
    });
    assert.equal(ours.length, reply.length);
    assert.deepEqual(ours.subarray(0, 11), reply.subarray(0, 11));
    assert.deepEqual(ours.subarray(43, 89), reply.subarray(43, 89));
    assert.deepEqual(ours.subarray(121), reply.subarray(121));
    assert.ok(verifyFakeTlsServerHello(ours, FIXTURE_DIGEST, FIXTURE_SECRET));
  });

  it('the fixture verifies when fed split into chunks through the reply-length probe', () => {
    const reply = Buffer.from(MTPROTOPROXY_REPLY_HEX, 'hex');
    let got = Buffer.alloc(0);
    let total: number | null = null;
    for (let i = 0; i < reply.length; i += 13) {
      got = Buffer.concat([got, reply.subarray(i, i + 13)]);
      total ??= fakeTlsServerReplyLength(got);
    }
    assert.equal(total, reply.length);
    assert.ok(verifyFakeTlsServerHello(got, FIXTURE_DIGEST, FIXTURE_SECRET));
  });

  it('server reply has the shape TDLib checks', () => {
    const sid = randomBytes(32);
    const reply = buildFakeTlsServerHello({ secret: randomBytes(16), clientDigest: randomBytes(32), sessionId: sid, appDataLen: 1234 });
    assert.deepEqual([...reply.subarray(0, 3)], [0x16, 0x03, 0x03]);
    const helloLen = reply.readUInt16BE(3);
    assert.equal(reply[5], 0x02);
    assert.equal(reply.readUIntBE(6, 3), helloLen - 4);
    assert.deepEqual([...reply.subarray(9, 11)], [0x03, 0x03]);
    assert.equal(reply[43], 32);
    assert.deepEqual(reply.subarray(44, 76), sid);
    assert.deepEqual([...reply.subarray(76, 79)], [0x13, 0x01, 0x00]);
    const ccs = 5 + helloLen;
    assert.deepEqual([...reply.subarray(ccs, ccs + 9)], [0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x17, 0x03, 0x03]);
    assert.equal(reply.readUInt16BE(ccs + 9), 1234);
    assert.equal(reply.length, ccs + 11 + 1234);
    // Extensions: key_share x25519 then supported_versions 03 04.
    const ext = reply.subarray(81, 5 + helloLen);
    assert.equal(reply.readUInt16BE(79), ext.length);
    assert.deepEqual([...ext.subarray(0, 8)], [0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20]);
    assert.deepEqual([...ext.subarray(40)], [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]);
  });

  it('server random is HMAC(secret, clientDigest || reply with random zeroed)', () => {
    const secret = randomBytes(16);
    const clientDigest = randomBytes(32);
    const reply = buildFakeTlsServerHello({ secret, clientDigest, sessionId: randomBytes(32), appDataLen: 100 });
    const z = Buffer.from(reply);
    z.fill(0, 11, 43);
    assert.deepEqual(reply.subarray(11, 43), createHmac('sha256', secret).update(clientDigest).update(z).digest());
  });

  it('rejects a wrong secret, a stale timestamp and mutated bytes', () => {
    const secret = randomBytes(16);
    const { record } = handshake(secret);
    assert.equal(validateFakeTlsHello(record, [randomBytes(16)], NOW, 120), null);
    assert.equal(validateFakeTlsHello(record, [secret], NOW + 121, 120), null);
    assert.equal(validateFakeTlsHello(record, [secret], NOW - 121, 120), null);
    assert.notEqual(validateFakeTlsHello(record, [secret], NOW + 10_000, undefined), null, 'skew check disabled');
    for (const i of [0, 5, 11, 20, 38, 44, 100, record.length - 1]) {
      const r = Buffer.from(record);
      r[i]! ^= 0x40;
      assert.equal(validateFakeTlsHello(r, [secret], NOW, 120), null, `mutation at ${i}`);
    }
    // The timestamp bytes are the only ones whose change keeps the HMAC prefix valid.
    const r = Buffer.from(record);
    r[42]! ^= 0x01;
    assert.equal(validateFakeTlsHello(r, [secret], NOW, undefined)?.timestamp, (NOW ^ 0x01000000) >>> 0);
  });

  it('fuzz: validate never throws on random or mutated records', () => {
    const secret = randomBytes(16);
    const { record } = handshake(secret);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }),
          fc.tuple(fc.nat(record.length), fc.array(fc.tuple(fc.nat(record.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 })).map(
            ([cut, muts]) => {
              const r = Buffer.from(record);
              for (const [i, v] of muts) r[i] = v;
              return new Uint8Array(r.subarray(0, cut));
            },
          ),
        ),
        (buf) => {
          const m = validateFakeTlsHello(buf, [secret], NOW, 120);
          assert.ok(m === null || m.index === 0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reply length is null until the three headers are in, then exact', () => {
    const reply = buildFakeTlsServerHello({ secret: randomBytes(16), clientDigest: randomBytes(32), sessionId: randomBytes(32), appDataLen: 3000 });
    const ccs = 5 + reply.readUInt16BE(3);
    for (let n = 0; n < ccs + 11; n++) assert.equal(fakeTlsServerReplyLength(reply.subarray(0, n)), null, `n=${n}`);
    assert.equal(fakeTlsServerReplyLength(reply.subarray(0, ccs + 11)), reply.length);
    assert.throws(() => fakeTlsServerReplyLength(Buffer.from('HTTP/1.1 400')), TlsParseError);
    assert.equal(verifyFakeTlsServerHello(reply.subarray(0, reply.length - 1), randomBytes(32), randomBytes(16)), false);
  });

  it('clamps appDataLen to the record cap', () => {
    const r = buildFakeTlsServerHello({ secret: randomBytes(16), clientDigest: randomBytes(32), sessionId: Buffer.alloc(0), appDataLen: 1e9 });
    assert.equal(fakeTlsServerReplyLength(r), r.length);
    assert.equal(r.readUInt16BE(r.length - MAX_TLS_RECORD_PAYLOAD - 2), MAX_TLS_RECORD_PAYLOAD);
  });
});

describe('TLS record stream', () => {
  it('encodeTlsAppData splits into 17 03 03 records', () => {
    const payload = randomBytes(40000);
    const out = encodeTlsAppData(payload);
    assert.equal(out.length, payload.length + 3 * 5);
    const rd = new TlsRecordReader();
    rd.push(out);
    const parts: Buffer[] = [];
    for (let r = rd.next(); r !== null; r = rd.next()) {
      assert.equal(r.type, 0x17);
      assert.ok(r.payload.length <= 16384);
      parts.push(r.payload);
    }
    assert.deepEqual(Buffer.concat(parts), payload);
    assert.equal(encodeTlsAppData(Buffer.alloc(0)).length, 0);
    assert.equal(encodeTlsAppData(randomBytes(10), 3).length, 10 + 4 * 5);
  });

  it('a stream split at random points reproduces the records', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(0x14, 0x15, 0x16, 0x17), fc.uint8Array({ maxLength: 300 })), { maxLength: 12 }),
        fc.array(fc.nat(4000), { maxLength: 10 }),
        (records, cuts) => {
          const wire = Buffer.concat(
            records.map(([t, p]) => {
              const h = Buffer.alloc(5);
              writeTlsRecordHeader(h, 0, t, p.length);
              return Buffer.concat([h, p]);
            }),
          );
          const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
          const rd = new TlsRecordReader();
          const got: [number, Uint8Array][] = [];
          let prev = 0;
          for (const p of [...points, wire.length]) {
            rd.push(wire.subarray(prev, p));
            prev = p;
            for (let r = rd.next(); r !== null; r = rd.next()) got.push([r.type, new Uint8Array(r.payload)]);
          }
          assert.deepEqual(got, records.map(([t, p]) => [t, new Uint8Array(p)]));
          assert.equal(rd.buffered, 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('returns views without copying when a record sits in one chunk', () => {
    const wire = encodeTlsAppData(Buffer.from('abcdef'));
    const rd = new TlsRecordReader();
    rd.push(wire);
    const r = rd.next();
    assert.ok(r !== null);
    assert.equal(r.payload.buffer, wire.buffer);
  });

  it('throws on a bad header or an oversized payload', () => {
    const bad = new TlsRecordReader();
    bad.push(Buffer.from([0x47]));
    assert.throws(() => bad.next(), TlsParseError);
    const ver = new TlsRecordReader();
    ver.push(Buffer.from([0x17, 0x02, 0x00, 0x00, 0x01]));
    assert.throws(() => ver.next(), TlsParseError);
    const big = new TlsRecordReader();
    big.push(Buffer.from([0x17, 0x03, 0x03, 0xff, 0xff]));
    assert.throws(() => big.next(), TlsParseError);
    const capped = new TlsRecordReader(100);
    capped.push(Buffer.from([0x17, 0x03, 0x03, 0x00, 101]));
    assert.throws(() => capped.next(), TlsParseError);
  });
});
