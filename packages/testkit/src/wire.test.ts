// The testkit's own codecs against @mtedge/protocol's: two independent implementations must agree,
// or one of them is wrong (this is how a reverse-stream counter bug would be caught).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import * as P from '@mtedge/protocol';
import { obf2Accept, obf2Initiate, isAcceptableInit, type ProtoTag } from './wire/obf2.js';
import { FrameReader, frameEncode } from './wire/framing.js';
import { buildClientHello, buildServerReply, encodeAppData, parseClientHello, serverReplyLength, verifyServerReply, TlsRecordSplitter } from './wire/fake-tls.js';
import { TESTKIT_ERROR_CODES, TestkitError } from './errors.js';
import * as index from './index.js';

const TAGS: ProtoTag[] = ['abridged', 'intermediate', 'padded'];

test('testkit obf2 client ↔ protocol acceptObfuscated2, both directions, with and without secret', () => {
  for (const secret of [undefined, randomBytes(16)]) {
    for (const tag of TAGS) {
      const { init, streams: c } = obf2Initiate({ tag, dcId: -3, ...(secret ? { secret } : {}) });
      assert.ok(isAcceptableInit(init));
      const s = P.acceptObfuscated2(init, secret);
      assert.ok(s);
      assert.equal(s.tag, tag);
      assert.equal(s.dcId, -3);
      const up = randomBytes(1000);
      assert.deepEqual(s.decrypt.update(c.encrypt.update(up)), up);
      const down = randomBytes(777);
      assert.deepEqual(c.decrypt.update(s.encrypt.update(down)), down);
    }
  }
});

test('protocol initiateObfuscated2 ↔ testkit obf2Accept (the fake DC side)', () => {
  for (const tag of TAGS) {
    const { init, session } = P.initiateObfuscated2({ tag, dcId: 4 });
    const s = obf2Accept(init);
    assert.ok(s);
    assert.equal(s.tag, tag);
    assert.equal(s.dcId, 4);
    const up = randomBytes(300);
    assert.deepEqual(s.decrypt.update(session.encrypt.update(up)), up);
    const down = randomBytes(300);
    assert.deepEqual(session.decrypt.update(s.encrypt.update(down)), down);
  }
});

test('obf2Accept rejects inits whose tag is not one of the three', () => {
  let rejected = 0;
  for (let i = 0; i < 50; i++) if (obf2Accept(randomBytes(64)) === null) rejected++;
  assert.equal(rejected, 50);
  assert.equal(obf2Accept(randomBytes(63)), null);
});

test('frames: testkit encode ↔ protocol decode and protocol encode ↔ testkit FrameReader, split anywhere', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...TAGS),
      fc.array(fc.integer({ min: 0, max: 700 }), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 97 }),
      (tag, sizes, step) => {
        const payloads = sizes.map((n) => randomBytes(tag === 'abridged' ? n & ~3 : n));
        const mine = Buffer.concat(payloads.map((p) => frameEncode(tag, p, 0)));
        const dec = P.createFrameDecoder(tag);
        let off = 0;
        for (const p of payloads) {
          const f = dec.decode(mine.subarray(off));
          assert.ok(f);
          assert.deepEqual(f.payload, p);
          off += f.consumed;
        }
        const theirs = Buffer.concat(payloads.map((p) => P.encodeFrame(tag, p, 0)));
        const reader = new FrameReader(tag);
        const got: Buffer[] = [];
        for (let i = 0; i < theirs.length; i += step) {
          reader.push(theirs.subarray(i, i + step));
          for (let f = reader.next(); f; f = reader.next()) got.push(Buffer.from(f.payload));
        }
        assert.deepEqual(got, payloads);
      },
    ),
    { numRuns: 200 },
  );
});

test('FrameReader caps the length field and reports quick-ack', () => {
  const r = new FrameReader('intermediate', 1024);
  r.push(Buffer.from([0x01, 0x08, 0x00, 0x00]));
  assert.throws(() => r.next(), (e: unknown) => e instanceof TestkitError && e.code === 'MTE_ERR_TESTKIT_PROTOCOL');
  const a = new FrameReader('abridged');
  a.push(Buffer.from([0x81, 1, 2, 3, 4]));
  const f = a.next();
  assert.ok(f?.quickAck);
  assert.deepEqual(f.payload, Buffer.from([1, 2, 3, 4]));
  const big = frameEncode('abridged', Buffer.alloc(4 * 200));
  assert.equal(big[0], 0x7f);
  assert.throws(() => frameEncode('abridged', Buffer.alloc(3)));
  const padded = frameEncode('padded', Buffer.alloc(8));
  assert.ok(padded.length >= 12 && padded.length <= 27);
});

test('fake-TLS: testkit ClientHello passes protocol validateFakeTlsHello (SNI, timestamp, session id)', () => {
  const secret = randomBytes(16);
  const { record, digest } = buildClientHello({ secret, domain: 'cdn.example.org', nowSec: 1_700_000_000 });
  assert.equal(record.length, 517);
  const m = P.validateFakeTlsHello(record, [randomBytes(16), secret], 1_700_000_005, 60);
  assert.ok(m);
  assert.equal(m.index, 1);
  assert.equal(m.timestamp, 1_700_000_000);
  assert.equal(m.sni, 'cdn.example.org');
  assert.deepEqual(m.digest, digest);
  assert.equal(P.validateFakeTlsHello(record, [randomBytes(16)], 1_700_000_000, 60), null);
  const parsed = P.parseClientHello(record);
  assert.ok(parsed.alpn.includes('h2'));
  assert.deepEqual(m.sessionId, parsed.sessionId);
});

test('fake-TLS: protocol server reply verifies in the testkit client, and vice versa', () => {
  const secret = randomBytes(16);
  const hello = buildClientHello({ secret, domain: 'a.example' });
  const mine = parseClientHello(hello.record, secret);
  assert.ok(mine);
  assert.deepEqual(mine.digest, hello.digest);
  const reply = P.buildFakeTlsServerHello({ secret, clientDigest: hello.digest, sessionId: mine.sessionId, appDataLen: 3000 });
  assert.equal(serverReplyLength(reply), reply.length);
  assert.equal(serverReplyLength(reply.subarray(0, reply.length - 1)), null);
  assert.ok(verifyServerReply(reply, hello.digest, secret));
  assert.ok(!verifyServerReply(reply, hello.digest, randomBytes(16)));

  const theirs = P.buildFakeTlsClientHello({ secret, domain: 'b.example', nowSec: 1234 });
  const parsed = parseClientHello(theirs.record, secret);
  assert.ok(parsed);
  assert.equal(parsed.timestamp, 1234);
  assert.equal(parseClientHello(theirs.record, randomBytes(16)), null);
  const myReply = buildServerReply({ secret, clientDigest: theirs.digest, sessionId: parsed.sessionId });
  assert.ok(P.verifyFakeTlsServerHello(myReply, theirs.digest, secret));
  assert.equal(P.fakeTlsServerReplyLength(myReply), myReply.length);
});

test('fake-TLS app-data records: testkit encode ↔ protocol TlsRecordReader', () => {
  const payload = randomBytes(40_000);
  const wire = encodeAppData(payload, 16384);
  const r = new P.TlsRecordReader();
  r.push(wire);
  const parts: Buffer[] = [];
  for (let x = r.next(); x; x = r.next()) parts.push(x.payload);
  assert.equal(parts.length, 3);
  assert.deepEqual(Buffer.concat(parts), payload);
  const s = new TlsRecordSplitter();
  s.push(P.encodeTlsAppData(payload));
  const got: Buffer[] = [];
  for (let x = s.next(); x; x = s.next()) got.push(Buffer.from(x.body));
  assert.deepEqual(Buffer.concat(got), payload);
  assert.equal(encodeAppData(Buffer.alloc(0)).length, 0);
});

test('every testkit error code is exported and prefixed', () => {
  for (const code of TESTKIT_ERROR_CODES) assert.match(code, /^MTE_ERR_TESTKIT_[A-Z_]+$/);
  assert.equal(new Set(TESTKIT_ERROR_CODES).size, TESTKIT_ERROR_CODES.length);
  for (const name of ['startFakeDc', 'startMaskHost', 'connectClient', 'sendRawProbe', 'replayBytes', 'slowLoris', 'runLoad']) {
    assert.equal(typeof (index as Record<string, unknown>)[name], 'function', name);
  }
});
