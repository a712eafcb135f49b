import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { crc32, crc32c } from './me-crc.js';
import {
  ME_ERROR_CODES,
  MeProtocolError,
  RPC_CRYPTO_AES,
  RpcPacketReader,
  RPC_PACKET_BODY_AT,
  decodeMeMessage,
  decodeProxyReq,
  decodeRpcHandshake,
  decodeRpcNonce,
  encodeCloseConn,
  encodeCloseExt,
  encodePing,
  encodePong,
  encodeProxyAns,
  encodeProxyReq,
  encodeRpcHandshake,
  encodeRpcHandshakeError,
  encodeRpcNonce,
  encodeRpcPacket,
  encodeSimpleAck,
  ipv4Mapped,
  proxyReqFlags,
  proxySecretKeySelect,
  quickAckBytes,
} from './me-rpc.js';
import { meKdfString, meSessionKeys, validateProxySecret } from './me-kdf.js';
import { parseProxyMultiConf, renderProxyMultiConf } from './me-config.js';
import * as api from './index.js';

describe('ME CRCs', () => {
  it('match the standard check values', () => {
    const b = Buffer.from('123456789');
    assert.equal(crc32(b), 0xcbf43926);
    assert.equal(crc32c(b), 0xe3069283);
    assert.equal(crc32(Buffer.alloc(0)), 0);
    assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
  });
  it('chain and agree with a bytewise reference on random input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (a, cut) => {
        const b = Buffer.from(a);
        const k = cut % (b.length + 1);
        assert.equal(crc32(b, k, b.length, crc32(b, 0, k)), crc32(b));
        assert.equal(crc32c(b, k, b.length, crc32c(b, 0, k)), crc32c(b));
        let ref = 0xffffffff;
        for (const x of b) {
          ref ^= x;
          for (let i = 0; i < 8; i++) ref = ref & 1 ? (ref >>> 1) ^ 0x82f63b78 : ref >>> 1;
        }
        assert.equal(crc32c(b), ~ref >>> 0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('RPC packets', () => {
  it('round-trip with padding words skipped and seq checked, split anywhere', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(60).map((n) => n * 4 + 4), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(2000), { maxLength: 8 }),
        fc.constantFrom<'crc32' | 'crc32c'>('crc32', 'crc32c'),
        (sizes, cuts, crc) => {
          const bodies = sizes.map((n) => randomBytes(n));
          const wire = Buffer.concat(bodies.map((b, i) => encodeRpcPacket(i, b, crc, i % 2 === 0)));
          const r = new RpcPacketReader(0);
          r.crc = crc;
          const got: Buffer[] = [];
          let prev = 0;
          for (const p of [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b).concat(wire.length)) {
            r.push(wire.subarray(prev, p));
            prev = p;
            for (let pk = r.next(); pk; pk = r.next()) got.push(Buffer.from(pk.body));
          }
          assert.deepEqual(got, bodies);
          assert.equal(r.buffered, 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('nextPacket: whole packets as views, seq in lastSeq, intact even when the caller overwrites earlier ones; 1-byte and large pieces', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ words: fc.oneof(fc.nat(12), fc.nat(3000)), pads: fc.nat(2) }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.oneof(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 8, max: 6000 })), { minLength: 1, maxLength: 40 }),
        (specs, pieces) => {
          const bodies = specs.map((x) => randomBytes(4 * (x.words + 1)));
          const pad = Buffer.alloc(4);
          pad.writeUInt32LE(4);
          const wire = Buffer.concat(specs.flatMap((x, i) => [...Array<Buffer>(x.pads).fill(pad), encodeRpcPacket(i - 2, bodies[i]!, 'crc32c')]));
          const r = new RpcPacketReader(-2, 1 << 20);
          r.crc = 'crc32c';
          const got: { seq: number; body: Buffer }[] = [];
          let off = 0;
          for (let k = 0; off < wire.length; k++) {
            const n = Math.min(wire.length - off, pieces[k % pieces.length]!);
            r.push(Buffer.from(wire.subarray(off, off + n)));
            off += n;
            for (let p = r.nextPacket(); p !== null; p = r.nextPacket()) {
              assert.equal(p.readUInt32LE(0), p.length, 'a whole packet');
              got.push({ seq: r.lastSeq, body: Buffer.from(p.subarray(RPC_PACKET_BODY_AT, p.length - 4)) });
              p.fill(0xee); // what framing in place and encryption do to an answer's packet
            }
          }
          assert.deepEqual(got.map((g) => g.seq), bodies.map((_, i) => i - 2));
          got.forEach((g, i) => assert.ok(g.body.equals(bodies[i]!), `packet ${i}`));
          assert.equal(r.buffered, 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('pads to whole AES blocks with 04 00 00 00 words', () => {
    const p = encodeRpcPacket(0, Buffer.alloc(8), 'crc32', true);
    assert.equal(p.length, 32);
    assert.equal(p.readUInt32LE(0), 20);
    assert.deepEqual(p.subarray(20), Buffer.from('040000000400000004000000', 'hex'));
  });

  it('refuses bad lengths, CRCs and sequence numbers with typed errors', () => {
    const decodeRpcPacket = (b: Buffer, crc: 'crc32' | 'crc32c'): Buffer | null => {
      const r = new RpcPacketReader(-2);
      r.crc = crc;
      r.push(Buffer.from(b));
      return r.nextPacket();
    };
    const ok = encodeRpcPacket(-2, Buffer.alloc(32), 'crc32');
    const badLen = Buffer.from(ok);
    badLen.writeUInt32LE(8, 0);
    assert.throws(() => decodeRpcPacket(badLen, 'crc32'), (e: MeProtocolError) => e.code === 'MTE_ERR_ME_PACKET_LENGTH');
    const huge = Buffer.from(ok);
    huge.writeUInt32LE(0x7ffffff0, 0);
    assert.throws(() => decodeRpcPacket(huge, 'crc32'), (e: MeProtocolError) => e.code === 'MTE_ERR_ME_PACKET_LENGTH');
    const badCrc = Buffer.from(ok);
    badCrc[10] = badCrc[10]! ^ 1;
    assert.throws(() => decodeRpcPacket(badCrc, 'crc32'), (e: MeProtocolError) => e.code === 'MTE_ERR_ME_PACKET_CRC');
    assert.throws(() => decodeRpcPacket(ok, 'crc32c'), (e: MeProtocolError) => e.code === 'MTE_ERR_ME_PACKET_CRC');
    const r = new RpcPacketReader(-1);
    r.push(ok);
    assert.throws(() => r.next(), (e: MeProtocolError) => e.code === 'MTE_ERR_ME_PACKET_SEQ');
  });

  it('random bytes never crash the reader with anything but MeProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (a) => {
        const r = new RpcPacketReader(-2, 4096);
        r.push(Buffer.from(a));
        try {
          for (let i = 0; i < 200 && r.next(); i++);
        } catch (e) {
          assert.ok(e instanceof MeProtocolError, String(e));
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('RPC messages', () => {
  it('nonce and handshake round-trip', () => {
    const secret = randomBytes(128);
    const n = { keySelect: proxySecretKeySelect(secret), schema: RPC_CRYPTO_AES, ts: 1_700_000_000, nonce: randomBytes(16) };
    assert.deepEqual(decodeRpcNonce(encodeRpcNonce(n)), n);
    assert.equal(n.keySelect, secret.readInt32LE(0));
    const pid = { ip: 0x7f000001, port: 443, pid: 77, utime: 1_700_000_000 };
    const hs = { flags: 0x800, senderPid: pid, peerPid: { ...pid, port: 8888 } };
    assert.deepEqual(decodeRpcHandshake(encodeRpcHandshake(hs)), { type: 'handshake', hs });
    assert.deepEqual(decodeRpcHandshake(encodeRpcHandshakeError({ errorCode: -6, senderPid: pid })), { type: 'error', err: { errorCode: -6, senderPid: pid } });
    assert.throws(() => decodeRpcHandshake(Buffer.alloc(32)), MeProtocolError);
    assert.throws(() => decodeRpcNonce(Buffer.alloc(31)), MeProtocolError);
  });

  it('flags follow the client transport (mtproto-proxy.c / net-tcp-rpc-ext-server.c)', () => {
    const base = { hasAdTag: false, quickAck: false, notEncrypted: false };
    assert.equal(proxyReqFlags('intermediate', base), 0x20021000);
    assert.equal(proxyReqFlags('padded', base), 0x20021000);
    assert.equal(proxyReqFlags('padded', { ...base, padFlag: true }), 0x28021000);
    assert.equal(proxyReqFlags('abridged', base), 0x40021000);
    assert.equal(proxyReqFlags('abridged', { hasAdTag: true, quickAck: true, notEncrypted: true }), (0x40021000 | 0x8 | 0x2 | 0x80000000) >>> 0);
  });

  it('RPC_PROXY_REQ round-trips with the ad tag as 0xdb1e26ae + TL string', () => {
    const adTag = randomBytes(16);
    const frame = randomBytes(43);
    const h = {
      flags: proxyReqFlags('padded', { hasAdTag: true, quickAck: false, notEncrypted: true }),
      connId: 0x1122334455667788n,
      clientIp: ipv4Mapped(Buffer.from([10, 1, 2, 3])),
      clientPort: 51000,
      proxyIp: ipv4Mapped(Buffer.from([127, 0, 0, 1])),
      proxyPort: 443,
      adTag,
    };
    const body = encodeProxyReq(h, frame);
    assert.equal(body.length % 4, 0);
    assert.equal(body.subarray(28, 32).toString('hex'), '0a010203');
    assert.equal(body.readUInt32LE(56), 24);
    assert.equal(body.readUInt32LE(60), 0xdb1e26ae);
    assert.equal(body[64], 16);
    const d = decodeProxyReq(body);
    assert.equal(d.connId, h.connId);
    assert.equal(d.flags, h.flags);
    assert.deepEqual(d.adTag, adTag);
    assert.deepEqual(d.payload, frame.subarray(0, 40));
    assert.equal(d.clientPort, 51000);
    assert.equal(decodeMeMessage(body).type, 'proxy_req');
    const noTag = decodeProxyReq(encodeProxyReq({ ...h, flags: 0x20021000, adTag: undefined }, frame.subarray(0, 8)));
    assert.equal(noTag.adTag, undefined);
    assert.equal(noTag.payload.length, 8);
  });

  it('ME -> proxy messages decode', () => {
    const id = 0xfedcba9876543210n;
    assert.deepEqual(decodeMeMessage(encodeProxyAns(0, id, Buffer.from('abcd'))), { type: 'proxy_ans', flags: 0, connId: id, payload: Buffer.from('abcd') });
    assert.deepEqual(decodeMeMessage(encodeSimpleAck(id, 0x81020304)), { type: 'simple_ack', connId: id, confirm: 0x81020304 });
    assert.deepEqual(decodeMeMessage(encodeCloseExt(id)), { type: 'close_ext', connId: id });
    assert.deepEqual(decodeMeMessage(encodeCloseConn(id)), { type: 'close_conn', connId: id });
    assert.deepEqual(decodeMeMessage(encodePing(5n)), { type: 'ping', pingId: 5n });
    assert.deepEqual(decodeMeMessage(encodePong(5n)), { type: 'pong', pingId: 5n });
    assert.deepEqual(decodeMeMessage(Buffer.from('01020304', 'hex')), { type: 'unknown', op: 0x04030201 });
    assert.throws(() => decodeMeMessage(encodeSimpleAck(id, 1).subarray(0, 12)), MeProtocolError);
    assert.deepEqual(quickAckBytes('abridged', 0x81020304), Buffer.from('81020304', 'hex'));
    assert.deepEqual(quickAckBytes('intermediate', 0x81020304), Buffer.from('04030281', 'hex'));
  });

  it('decoders only throw MeProtocolError on random bodies', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(0x36cef1ee, 0x4403da0d, 0x3bac409b, 0x5eb634a2, 0x5730a2df, 0x7682eef5), (a, op) => {
        const b = Buffer.from(a);
        if (b.length >= 4) b.writeUInt32LE(op, 0);
        for (const f of [decodeMeMessage, decodeProxyReq, decodeRpcHandshake, decodeRpcNonce]) {
          try {
            f(b);
          } catch (e) {
            assert.ok(e instanceof MeProtocolError, String(e));
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('error codes are documented and exported', () => {
    assert.equal(typeof (api as Record<string, unknown>)['MeProtocolError'], 'function');
    for (const c of ME_ERROR_CODES) assert.match(c, /^MTE_ERR_ME_[A-Z_]+$/);
  });
});

describe('ME KDF', () => {
  const base = {
    nonceSrv: Buffer.alloc(16, 0xaa),
    nonceClt: Buffer.alloc(16, 0xbb),
    cltTs: 0x01020304,
    srvIp4: Buffer.from([149, 154, 175, 50]),
    cltIp4: Buffer.from([10, 0, 0, 1]),
    srvPort: 8888,
    cltPort: 0x1234,
    secret: Buffer.alloc(32, 0xcc),
  };

  it('lays out the input string as aes_create_keys does (IPv4 reversed, ports LE)', () => {
    const s = meKdfString(base, 'CLIENT');
    assert.equal(s.length, 16 + 16 + 4 + 4 + 2 + 6 + 4 + 2 + 32 + 16 + 16);
    assert.equal(s.subarray(32, 36).toString('hex'), '04030201');
    assert.equal(s.subarray(36, 40).toString('hex'), '32af9a95');
    assert.equal(s.subarray(40, 42).toString('hex'), '3412');
    assert.equal(s.subarray(42, 48).toString(), 'CLIENT');
    assert.equal(s.subarray(48, 52).toString('hex'), '0100000a');
    assert.equal(s.subarray(52, 54).toString('hex'), 'b822');
    assert.deepEqual(s.subarray(86, 102), base.nonceSrv);
    assert.deepEqual(s.subarray(102), base.nonceClt);
    const v6 = meKdfString({ ...base, srvIp4: undefined, cltIp4: undefined, srvIp6: Buffer.alloc(16, 1), cltIp6: Buffer.alloc(16, 2) }, 'SERVER');
    assert.equal(v6.length, s.length + 32);
    assert.deepEqual(v6.subarray(36, 40), Buffer.alloc(4));
    assert.deepEqual(v6.subarray(102, 118), Buffer.alloc(16, 2));
    assert.deepEqual(v6.subarray(118, 134), Buffer.alloc(16, 1));
  });

  it('client and server keys pair up and an AES-CBC stream crosses the link', () => {
    const c = meSessionKeys(base, 'client');
    const s = meSessionKeys(base, 'server');
    assert.equal(c.encrypt.key.length, 32);
    assert.equal(c.encrypt.iv.length, 16);
    assert.deepEqual(c.encrypt, s.decrypt);
    assert.deepEqual(c.decrypt, s.encrypt);
    assert.notDeepEqual(c.encrypt.key, c.decrypt.key);
    const enc = createCipheriv('aes-256-cbc', c.encrypt.key, c.encrypt.iv).setAutoPadding(false);
    const dec = createDecipheriv('aes-256-cbc', s.decrypt.key, s.decrypt.iv).setAutoPadding(false);
    const p1 = encodeRpcPacket(0, Buffer.alloc(20, 7), 'crc32c', true);
    const p2 = encodeRpcPacket(1, Buffer.alloc(4, 9), 'crc32c', true);
    const wire = Buffer.concat([enc.update(p1), enc.update(p2)]);
    const plain = Buffer.concat([dec.update(wire.subarray(0, 5)), dec.update(wire.subarray(5))]);
    assert.deepEqual(plain, Buffer.concat([p1, p2]));
  });

  it('validates the proxy-secret length', () => {
    assert.throws(() => validateProxySecret(Buffer.alloc(31)), (e: MeProtocolError) => e.code === 'MTE_ERR_ME_SECRET');
    assert.throws(() => validateProxySecret(Buffer.alloc(257)), MeProtocolError);
    validateProxySecret(Buffer.alloc(32));
    validateProxySecret(Buffer.alloc(256));
  });
});

describe('proxy-multi.conf', () => {
  it('parses proxy_for/default, comments, IPv6, negative DCs, junk', () => {
    const c = parseProxyMultiConf(
      '# force_probability 10 10\ndefault 2;\nproxy_for 1 192.0.2.50:8888;\nproxy_for -1 192.0.2.50:8888;\n' +
        'proxy_for 2 192.0.2.144:8888;\nproxy_for 2 192.0.2.145:8888; # second\nproxy_for 2 192.0.2.145:8888;\n' +
        'proxy_for 4 [2001:67c:4e8:f004::d]:8888;\ngarbage here\nproxy_for 3 999.1.1.1:8888;\nproxy_for 3 1.2.3.4:0;\r\n',
    );
    assert.equal(c.defaultDc, 2);
    assert.deepEqual(c.dcs['1'], [{ host: '192.0.2.50', port: 8888 }]);
    assert.deepEqual(c.dcs['-1'], [{ host: '192.0.2.50', port: 8888 }]);
    assert.equal(c.dcs['2']!.length, 2);
    assert.deepEqual(c.dcs['4'], [{ host: '2001:67c:4e8:f004::d', port: 8888 }]);
    assert.equal(c.dcs['3'], undefined);
    assert.equal(c.skippedLines, 3);
    assert.deepEqual(parseProxyMultiConf(renderProxyMultiConf(c)).dcs, c.dcs);
  });

  it('refuses a file without endpoints, never throws anything else', () => {
    assert.throws(() => parseProxyMultiConf(''), (e: MeProtocolError) => e.code === 'MTE_ERR_ME_CONFIG');
    assert.throws(() => parseProxyMultiConf('<html>502 Bad Gateway</html>'), MeProtocolError);
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        try {
          parseProxyMultiConf(s);
        } catch (e) {
          assert.ok(e instanceof MeProtocolError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('MeRpcStream', () => {
  it('runs the nonce/handshake/data sequence both ways, each packet readable as soon as it is in', async () => {
    const { MeRpcStream } = await import('./me-stream.js');
    const secret = randomBytes(64);
    const c = new MeRpcStream();
    const s = new MeRpcStream();
    const nc = { keySelect: proxySecretKeySelect(secret), schema: RPC_CRYPTO_AES, ts: 100, nonce: randomBytes(16) };
    s.push(c.encode(encodeRpcNonce(nc)));
    assert.deepEqual(decodeRpcNonce(s.next()!.body), nc);
    const ns = { ...nc, nonce: randomBytes(16) };
    c.push(Buffer.concat([s.encode(encodeRpcNonce(ns)), Buffer.from('04000000', 'hex')]));
    assert.deepEqual(decodeRpcNonce(c.next()!.body), ns);
    const kdf = {
      nonceSrv: ns.nonce, nonceClt: nc.nonce, cltTs: 100, srvIp4: Buffer.from([127, 0, 0, 1]), cltIp4: Buffer.from([127, 0, 0, 1]),
      srvPort: 8888, cltPort: 40000, secret,
    };
    c.startCrypto(meSessionKeys(kdf, 'client'));
    s.startCrypto(meSessionKeys(kdf, 'server'));
    const pid = { ip: 0, port: 0, pid: 1, utime: 2 };
    s.push(c.encode(encodeRpcHandshake({ flags: 0x800, senderPid: pid, peerPid: pid })));
    assert.equal(s.next()!.seq, -1);
    c.push(s.encode(encodeRpcHandshake({ flags: 0x800, senderPid: pid, peerPid: pid })));
    assert.equal(c.next()!.seq, -1);
    c.setCrc('crc32c');
    s.setCrc('crc32c');
    for (let i = 0; i < 5; i++) {
      s.push(c.encode(encodePing(BigInt(i))));
      const p = s.next()!;
      assert.equal(p.seq, i);
      assert.deepEqual(decodeMeMessage(p.body), { type: 'ping', pingId: BigInt(i) });
    }
    c.push(s.encodeBatch([encodePong(1n), encodeCloseExt(2n)]));
    assert.equal(decodeMeMessage(c.next()!.body).type, 'pong');
    assert.equal(decodeMeMessage(c.next()!.body).type, 'close_ext');
    assert.equal(c.next(), null);
  });

  it('delivers every packet intact over random batches and random chunk splits (encrypted, CRC32-C)', async () => {
    const { MeRpcStream } = await import('./me-stream.js');
    const keys = { encrypt: { key: randomBytes(32), iv: randomBytes(16) }, decrypt: { key: randomBytes(32), iv: randomBytes(16) } };
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
        (batches, cuts) => {
          const tx = new MeRpcStream();
          const rx = new MeRpcStream();
          tx.startCrypto(keys);
          rx.startCrypto({ encrypt: keys.decrypt, decrypt: keys.encrypt });
          tx.setCrc('crc32c');
          rx.setCrc('crc32c');
          const sent: Buffer[] = [];
          const wire: Buffer[] = [];
          for (const words of batches) {
            const bodies = words.map((w) => randomBytes(w * 4 + 4));
            sent.push(...bodies);
            // Mix the three encoders: one packet, a batch of parts, encodeMany.
            if (bodies.length === 1) wire.push(tx.encode(bodies[0]!));
            else if (words[0]! % 2 === 0) wire.push(tx.encodeBatch(bodies.map((b) => [b.subarray(0, 4), b.subarray(4)])));
            else wire.push(tx.encodeMany(bodies.map((b) => b.length), (i, out, at) => void bodies[i]!.copy(out, at)));
          }
          const all = Buffer.concat(wire);
          assert.equal(all.length % 16, 0, 'encrypted output fills whole AES blocks');
          const got: Buffer[] = [];
          let off = 0;
          for (let k = 0; off < all.length; k++) {
            const n = Math.min(all.length - off, cuts[k % cuts.length]!);
            rx.push(Buffer.from(all.subarray(off, off + n)));
            off += n;
            for (let p = rx.next(); p !== null; p = rx.next()) got.push(Buffer.from(p.body));
          }
          assert.equal(got.length, sent.length);
          for (let i = 0; i < sent.length; i++) assert.ok(got[i]!.equals(sent[i]!), `packet ${i}`);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a reader fed byte by byte sees the same packets and refuses a corrupted CRC wherever it lands', () => {
    const bodies = Array.from({ length: 5 }, (_, i) => randomBytes(8 + i * 12));
    const wire = Buffer.concat(bodies.map((b, i) => encodeRpcPacket(i, b, 'crc32c')));
    const r = new RpcPacketReader(0);
    r.crc = 'crc32c';
    const got: Buffer[] = [];
    for (const byte of wire) {
      r.push(Buffer.from([byte]));
      for (let p = r.next(); p !== null; p = r.next()) got.push(Buffer.from(p.body));
    }
    assert.deepEqual(got, bodies);
    assert.equal(r.buffered, 0);
    const bad = Buffer.from(wire);
    bad[wire.length - 1]! ^= 1;
    const r2 = new RpcPacketReader(0);
    r2.crc = 'crc32c';
    r2.push(bad.subarray(0, 100));
    r2.push(bad.subarray(100));
    assert.throws(() => {
      for (let p = r2.next(); p !== null; p = r2.next());
    }, (e: unknown) => e instanceof MeProtocolError && e.code === 'MTE_ERR_ME_PACKET_CRC');
  });
});
