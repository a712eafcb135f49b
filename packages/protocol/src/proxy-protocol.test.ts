import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeProxyV1, encodeProxyV2, parseProxyHeader, type ProxyAddress } from './proxy-protocol.js';
import { formatIpv6, parseIpv6 } from './ip.js';
import { ProxyProtocolError } from './errors.js';

const v4Arb = fc.ipV4();
const v6Arb = fc.ipV6().map((s) => formatIpv6(parseIpv6(s) as Buffer));
const portArb = fc.integer({ min: 0, max: 65535 });
const pairArb = fc.oneof(
  fc.tuple(v4Arb, v4Arb),
  fc.tuple(v6Arb, v6Arb),
).chain(([a, b]) => fc.tuple(portArb, portArb).map(([p, q]): [ProxyAddress, ProxyAddress] => [{ address: a, port: p }, { address: b, port: q }]));

describe('ipv6 text', () => {
  it('normalises per RFC 5952', () => {
    const n = (s: string): string => formatIpv6(parseIpv6(s) as Buffer);
    assert.equal(n('2001:0DB8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
    assert.equal(n('::'), '::');
    assert.equal(n('::1'), '::1');
    assert.equal(n('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
    assert.equal(n('2001:0:0:1:0:0:0:1'), '2001:0:0:1::1');
    assert.equal(n('::ffff:1.2.3.4'), '::ffff:1.2.3.4');
    for (const bad of ['', ':::', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', 'g::1', '::1.2.3']) {
      assert.equal(parseIpv6(bad), undefined, bad);
    }
  });
});

describe('PROXY protocol', () => {
  it('parses v1 TCP4/TCP6/UNKNOWN', () => {
    const r = parseProxyHeader(Buffer.from('PROXY TCP4 192.168.0.1 10.0.0.1 56324 443\r\nrest'));
    assert.deepEqual(r, {
      status: 'ok',
      consumed: 43,
      version: 1,
      source: { address: '192.168.0.1', port: 56324 },
      destination: { address: '10.0.0.1', port: 443 },
    });
    const r6 = parseProxyHeader(Buffer.from('PROXY TCP6 2001:DB8:0:0::1 ::1 1 2\r\n'));
    assert.ok(r6.status === 'ok');
    assert.equal(r6.source?.address, '2001:db8::1');
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff::1 whatever\r\n')), {
      status: 'ok',
      consumed: 32,
      version: 1,
      source: undefined,
      destination: undefined,
    });
  });

  it('parses v2 PROXY and LOCAL', () => {
    const src = { address: '203.0.113.7', port: 40000 };
    const dst = { address: '198.51.100.1', port: 443 };
    const v2 = encodeProxyV2(src, dst);
    assert.deepEqual(parseProxyHeader(Buffer.concat([v2, Buffer.from([0x16, 0x03])])), {
      status: 'ok',
      consumed: 28,
      version: 2,
      source: src,
      destination: dst,
    });
    const local = encodeProxyV2(undefined, undefined);
    assert.deepEqual(parseProxyHeader(local), { status: 'ok', consumed: 16, version: 2, source: undefined, destination: undefined });
  });

  it('skips v2 TLVs', () => {
    const v2 = encodeProxyV2({ address: '::1', port: 1 }, { address: '::2', port: 2 });
    const tlv = Buffer.from([0x04, 0x00, 0x02, 0xaa, 0xbb]);
    const withTlv = Buffer.concat([v2, tlv]);
    withTlv.writeUInt16BE(36 + tlv.length, 14);
    const r = parseProxyHeader(withTlv);
    assert.ok(r.status === 'ok');
    assert.equal(r.consumed, withTlv.length);
    assert.equal(r.destination?.address, '::2');
  });

  it('says incomplete for every proper prefix, not_proxy for other protocols', () => {
    const samples = [
      encodeProxyV1({ address: '1.2.3.4', port: 5 }, { address: '5.6.7.8', port: 9 }),
      encodeProxyV2({ address: '2001:db8::5', port: 5 }, { address: '2001:db8::6', port: 6 }),
    ];
    for (const s of samples) {
      for (let n = 0; n < s.length; n++) assert.deepEqual(parseProxyHeader(s.subarray(0, n)), { status: 'incomplete' }, `n=${n}`);
      assert.equal(parseProxyHeader(s).status, 'ok');
    }
    assert.deepEqual(parseProxyHeader(Buffer.from([0x16, 0x03, 0x01])), { status: 'not_proxy' });
    assert.deepEqual(parseProxyHeader(Buffer.from('GET / HTTP/1.1')), { status: 'not_proxy' });
    assert.deepEqual(parseProxyHeader(Buffer.from([0x0d, 0x0a, 0x0d, 0x0b])), { status: 'not_proxy' });
  });

  it('throws ProxyProtocolError on malformed headers', () => {
    const bad = [
      'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n',
      'PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n',
      'PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n',
      `PROXY TCP4 ${'1'.repeat(120)}`,
      'PROXY TCP4 1.2.3.4\x00',
    ];
    for (const b of bad) assert.throws(() => parseProxyHeader(Buffer.from(b, 'latin1')), ProxyProtocolError, JSON.stringify(b));
    const v2 = encodeProxyV2({ address: '1.2.3.4', port: 1 }, { address: '1.2.3.5', port: 2 });
    const wrongVer = Buffer.from(v2);
    wrongVer[12] = 0x11;
    assert.throws(() => parseProxyHeader(wrongVer), ProxyProtocolError);
    const huge = Buffer.from(v2);
    huge.writeUInt16BE(0xffff, 14);
    assert.throws(() => parseProxyHeader(huge), ProxyProtocolError);
    const short = Buffer.from(v2.subarray(0, 16 + 8));
    short.writeUInt16BE(8, 14);
    assert.throws(() => parseProxyHeader(short), ProxyProtocolError);
  });

  it('round-trips v1 and v2 for random addresses', () => {
    fc.assert(
      fc.property(pairArb, ([src, dst]) => {
        for (const enc of [encodeProxyV1(src, dst), encodeProxyV2(src, dst)]) {
          assert.ok(enc.length <= 107 || enc[0] === 0x0d);
          const r = parseProxyHeader(Buffer.concat([enc, Buffer.from('xyz')]));
          assert.ok(r.status === 'ok');
          assert.equal(r.consumed, enc.length);
          assert.deepEqual(r.source, src);
          assert.deepEqual(r.destination, dst);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('fuzz: only ever returns a status or throws ProxyProtocolError', () => {
    const seeds = [Buffer.from('PROXY '), encodeProxyV2(undefined, undefined).subarray(0, 12)];
    fc.assert(
      fc.property(fc.nat(2), fc.uint8Array({ maxLength: 150 }), (k, tail) => {
        const buf = k < 2 ? Buffer.concat([seeds[k] as Buffer, tail]) : Buffer.from(tail);
        try {
          const r = parseProxyHeader(buf);
          if (r.status === 'ok') assert.ok(r.consumed <= buf.length);
        } catch (e) {
          assert.ok(e instanceof ProxyProtocolError, String(e));
        }
      }),
      { numRuns: 500 },
    );
  });
});
