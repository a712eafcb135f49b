import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  OBF2_INIT_LEN,
  PROTO_TAG_ABRIDGED,
  PROTO_TAG_INTERMEDIATE,
  PROTO_TAG_PADDED,
  acceptObfuscated2,
  acceptObfuscated2Any,
  initiateObfuscated2,
  isValidObf2InitPrefix,
  protoTagOf,
  type ProtoTag,
} from './obfuscated2.js';

const tagArb = fc.constantFrom<ProtoTag>('abridged', 'intermediate', 'padded');
const secretArb = fc.option(fc.uint8Array({ minLength: 16, maxLength: 16 }), { nil: undefined });

describe('protoTagOf', () => {
  it('maps the three tags and nothing else', () => {
    assert.equal(protoTagOf(PROTO_TAG_ABRIDGED), 'abridged');
    assert.equal(protoTagOf(PROTO_TAG_INTERMEDIATE), 'intermediate');
    assert.equal(protoTagOf(PROTO_TAG_PADDED), 'padded');
    assert.equal(protoTagOf(0), undefined);
    assert.equal(protoTagOf(-0x10101011), 'abridged'); // same bits as a signed int32
  });
});

describe('obfuscated2 handshake', () => {
  it('initiate -> accept round-trips tag and dc for every tag, dc -1000..1000, with and without secret', () => {
    fc.assert(
      fc.property(tagArb, fc.integer({ min: -1000, max: 1000 }), secretArb, (tag, dcId, secret) => {
        const { init, session: a } = initiateObfuscated2(secret === undefined ? { tag, dcId } : { tag, dcId, secret });
        assert.equal(init.length, OBF2_INIT_LEN);
        assert.ok(isValidObf2InitPrefix(init));
        const b = acceptObfuscated2(init, secret);
        assert.ok(b !== null);
        assert.equal(b.tag, tag);
        assert.equal(b.dcId, dcId);
        // Both directions carry data after the handshake.
        const up = randomBytes(37);
        assert.deepEqual(b.decrypt.update(a.encrypt.update(up)), up);
        const down = randomBytes(53);
        assert.deepEqual(a.decrypt.update(b.encrypt.update(down)), down);
      }),
      { numRuns: 300 },
    );
  });

  it('matches an independent derivation of the key schedule (PROTOCOL-NOTES)', () => {
    const secret = randomBytes(16);
    const { init, session } = initiateObfuscated2({ tag: 'padded', dcId: -2, secret });
    const key = createHash('sha256').update(init.subarray(8, 40)).update(secret).digest();
    const c = createCipheriv('aes-256-ctr', key, init.subarray(40, 56));
    const plain = c.update(init);
    assert.equal(plain.readUInt32LE(56), PROTO_TAG_PADDED);
    assert.equal(plain.readInt16LE(60), -2);
    // Our encrypt stream continues exactly where the init ended.
    const next = Buffer.from('hello world');
    assert.deepEqual(session.encrypt.update(next), c.update(next));

    // The reverse direction: key from reversed init[8:56], counter starting at 0.
    const rev = Buffer.from(init.subarray(8, 56)).reverse();
    const rkey = createHash('sha256').update(rev.subarray(0, 32)).update(secret).digest();
    const r = createCipheriv('aes-256-ctr', rkey, rev.subarray(32, 48));
    const fromPeer = r.update(next);
    assert.deepEqual(session.decrypt.update(fromPeer), next);
  });

  it('without secret uses init[8:40] directly as the key', () => {
    const { init } = initiateObfuscated2({ tag: 'abridged', dcId: 2 });
    const c = createCipheriv('aes-256-ctr', init.subarray(8, 40), init.subarray(40, 56));
    const plain = c.update(init);
    assert.equal(plain.readUInt32LE(56), PROTO_TAG_ABRIDGED);
    assert.equal(plain.readInt16LE(60), 2);
  });

  it('keeps the first 56 bytes as generated and obeys the prefix rules', () => {
    const forbidden = [
      Buffer.from('HEAD'),
      Buffer.from('POST'),
      Buffer.from('GET '),
      Buffer.from('OPTI'),
      Buffer.from([0xdd, 0xdd, 0xdd, 0xdd]),
      Buffer.from([0xee, 0xee, 0xee, 0xee]),
      Buffer.from([0x16, 0x03, 0x01, 0x02]),
    ];
    const queue = [
      ...forbidden.map((f) => Buffer.concat([f, Buffer.alloc(60, 1)])),
      Buffer.concat([Buffer.from([0xef]), Buffer.alloc(63, 1)]),
      Buffer.concat([Buffer.from([1, 2, 3, 4, 0, 0, 0, 0]), Buffer.alloc(56, 1)]),
      Buffer.alloc(64, 7),
    ];
    const { init } = initiateObfuscated2({ tag: 'intermediate', dcId: 1, randomBytes: () => queue.shift() as Buffer });
    assert.equal(queue.length, 0, 'every forbidden prefix was skipped');
    assert.deepEqual(init.subarray(0, 56), Buffer.alloc(56, 7));
  });

  it('a wrong secret practically never accepts', () => {
    let accepted = 0;
    for (let i = 0; i < 500; i++) {
      const { init } = initiateObfuscated2({ tag: 'padded', dcId: 2, secret: randomBytes(16) });
      if (acceptObfuscated2(init, randomBytes(16)) !== null) accepted++;
    }
    assert.ok(accepted <= 1, `accepted ${accepted}/500`);
  });

  it('garbage never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), secretArb, (buf, secret) => {
        const r = acceptObfuscated2(buf, secret);
        if (buf.length < 64) assert.equal(r, null);
      }),
      { numRuns: 500 },
    );
  });

  it('acceptObfuscated2Any reports which secret matched', () => {
    const secrets = [randomBytes(16), randomBytes(16), randomBytes(16)];
    const { init } = initiateObfuscated2({ tag: 'intermediate', dcId: 4, secret: secrets[1] as Buffer });
    const r = acceptObfuscated2Any(init, secrets);
    assert.equal(r?.index, 1);
    assert.equal(r?.session.dcId, 4);
    assert.equal(acceptObfuscated2Any(init, [secrets[0] as Buffer]), null);
  });

  it('rejects out-of-range dc ids', () => {
    assert.throws(() => initiateObfuscated2({ tag: 'abridged', dcId: 40000 }), RangeError);
  });
});
