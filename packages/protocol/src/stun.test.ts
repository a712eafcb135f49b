import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as api from './index.js';
import { formatIpv6, parseIpv6 } from './ip.js';
import {
  STUN_BINDING_ERROR,
  STUN_ERROR_CODES,
  STUN_MAGIC_COOKIE,
  STUN_MAX_MESSAGE,
  StunError,
  decodeStunBindingResponse,
  encodeStunBindingRequest,
  encodeStunBindingResponse,
  stunMessageLength,
  type StunAddress,
} from './stun.js';

const txArb = fc.uint8Array({ minLength: 12, maxLength: 12 });
const v4Arb = fc.ipV4().map((ip): StunAddress['ip'] => ip);
const v6Arb = fc.ipV6().map((s) => formatIpv6(parseIpv6(s)!));
const portArb = fc.integer({ min: 0, max: 65535 });
const addrArb: fc.Arbitrary<StunAddress> = fc.oneof(
  fc.record({ family: fc.constant(4 as const), ip: v4Arb, port: portArb }),
  fc.record({ family: fc.constant(6 as const), ip: v6Arb, port: portArb }),
);

function isStunError(e: unknown): boolean {
  return e instanceof StunError && e instanceof api.ProtocolError && (STUN_ERROR_CODES as readonly string[]).includes(e.code);
}

describe('STUN Binding Request', () => {
  it('is a 20-byte header with the magic cookie and a fresh 96-bit transaction id', () => {
    const a = encodeStunBindingRequest();
    const b = encodeStunBindingRequest();
    assert.equal(a.bytes.length, 20);
    const dv = new DataView(a.bytes.buffer);
    assert.equal(dv.getUint16(0), 0x0001);
    assert.equal(dv.getUint16(2), 0);
    assert.equal(dv.getUint32(4), STUN_MAGIC_COOKIE);
    assert.deepEqual(a.bytes.subarray(8), a.txId);
    assert.equal(a.txId.length, 12);
    assert.notDeepEqual(a.txId, b.txId);
    assert.equal(stunMessageLength(a.bytes), 20);
  });

  it('keeps a given transaction id and refuses a wrong-sized one', () => {
    const t = new Uint8Array(12).fill(7);
    assert.deepEqual(encodeStunBindingRequest(t).txId, t);
    assert.throws(() => encodeStunBindingRequest(new Uint8Array(11)), StunError);
  });
});

describe('STUN Binding Response', () => {
  it('round-trips every address through XOR-MAPPED-ADDRESS, MAPPED-ADDRESS and both', () => {
    fc.assert(
      fc.property(txArb, addrArb, fc.constantFrom('xor-mapped' as const, 'mapped' as const, 'both' as const), (tx, addr, how) => {
        const msg = encodeStunBindingResponse(tx, addr, how);
        assert.equal(stunMessageLength(msg), msg.length);
        const r = decodeStunBindingResponse(msg, tx);
        assert.deepEqual(r.address, { ...addr });
        assert.equal(r.source, how === 'mapped' ? 'mapped' : 'xor-mapped');
      }),
      { numRuns: 300 },
    );
  });

  it('decodes the RFC 5769 IPv4 sample response (section 2.2)', () => {
    const hex =
      '0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220' +
      '002000080001a147e112a643000800144bf1d8bce4bbfcddd2f1f9f3e4ed7a1d6f7a4f5c80280004c07d4c96';
    const msg = Uint8Array.from(Buffer.from(hex, 'hex'));
    const r = decodeStunBindingResponse(msg, msg.slice(8, 20));
    assert.deepEqual(r.address, { family: 4, ip: '192.0.2.1', port: 32853 });
  });

  it('decodes the RFC 5769 IPv6 sample response (section 2.3)', () => {
    const hex =
      '010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220' +
      '002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf1' +
      '1784c97c8292c275bfe3ed4180280004c8fb0b4c';
    const msg = Uint8Array.from(Buffer.from(hex, 'hex'));
    const r = decodeStunBindingResponse(msg, msg.slice(8, 20));
    assert.deepEqual(r.address, { family: 6, ip: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 });
  });

  it('refuses a response to another transaction', () => {
    const tx = new Uint8Array(12).fill(1);
    const msg = encodeStunBindingResponse(tx, { family: 4, ip: '203.0.113.5', port: 4000 });
    assert.throws(() => decodeStunBindingResponse(msg, new Uint8Array(12).fill(2)), (e: unknown) => isStunError(e) && (e as StunError).code === 'MTE_ERR_STUN_TXID');
  });

  it('reports an error response with its code', () => {
    const tx = new Uint8Array(12).fill(3);
    const msg = new Uint8Array(20 + 4 + 8);
    const dv = new DataView(msg.buffer);
    dv.setUint16(0, STUN_BINDING_ERROR);
    dv.setUint16(2, 12);
    dv.setUint32(4, STUN_MAGIC_COOKIE);
    msg.set(tx, 8);
    dv.setUint16(20, 0x0009);
    dv.setUint16(22, 8);
    msg[26] = 4;
    msg[27] = 0;
    msg.set([0x42, 0x61, 0x64, 0x21], 28);
    assert.throws(() => decodeStunBindingResponse(msg, tx), (e: unknown) => isStunError(e) && (e as StunError).code === 'MTE_ERR_STUN_ERROR_RESPONSE' && /400 Bad!/.test((e as Error).message));
  });

  it('refuses non-STUN bytes, truncation, oversize and a success without an address', () => {
    const tx = new Uint8Array(12);
    const ok = encodeStunBindingResponse(tx, { family: 4, ip: '198.51.100.1', port: 1 });
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        assert.ok(isStunError(e), String(e));
        return (e as StunError).code;
      }
      return 'none';
    };
    assert.equal(code(() => decodeStunBindingResponse(ok.subarray(0, 10), tx)), 'MTE_ERR_STUN_TRUNCATED');
    assert.equal(code(() => decodeStunBindingResponse(ok.subarray(0, ok.length - 4), tx)), 'MTE_ERR_STUN_TRUNCATED');
    assert.equal(code(() => decodeStunBindingResponse(new TextEncoder().encode('HTTP/1.1 400 Bad Request\r\n\r\n'), tx)), 'MTE_ERR_STUN_NOT_STUN');
    assert.equal(code(() => decodeStunBindingResponse(new Uint8Array(STUN_MAX_MESSAGE + 1), tx)), 'MTE_ERR_STUN_TOO_LARGE');
    const bare = ok.slice(0, 20);
    new DataView(bare.buffer).setUint16(2, 0);
    assert.equal(code(() => decodeStunBindingResponse(bare, tx)), 'MTE_ERR_STUN_NO_ADDRESS');
    const req = encodeStunBindingRequest(tx).bytes;
    assert.equal(code(() => decodeStunBindingResponse(req, tx)), 'MTE_ERR_STUN_FORMAT');
    const badFam = ok.slice();
    badFam[25] = 9;
    assert.equal(code(() => decodeStunBindingResponse(badFam, tx)), 'MTE_ERR_STUN_FORMAT');
    assert.equal(stunMessageLength(ok.subarray(0, 19)), null);
  });

  it('never throws anything but StunError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), txArb, (bytes, tx) => {
        try {
          decodeStunBindingResponse(bytes, tx);
        } catch (e) {
          assert.ok(isStunError(e), String(e));
        }
        try {
          stunMessageLength(bytes);
        } catch (e) {
          assert.ok(isStunError(e), String(e));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but StunError on a valid response with mutated bytes', () => {
    fc.assert(
      fc.property(txArb, addrArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(64), (tx, addr, muts, cut) => {
        const msg = encodeStunBindingResponse(tx, addr, 'both').slice();
        for (const [i, v] of muts) msg[i % msg.length] = v;
        const m = msg.subarray(0, Math.max(0, msg.length - (cut % 8 === 0 ? cut % msg.length : 0)));
        try {
          const r = decodeStunBindingResponse(m, tx);
          assert.ok(r.address.port >= 0 && r.address.port <= 65535);
        } catch (e) {
          assert.ok(isStunError(e), String(e));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('is exported from the barrel', () => {
    assert.equal(typeof api.decodeStunBindingResponse, 'function');
    assert.equal(typeof api.encodeStunBindingRequest, 'function');
    assert.equal(typeof api.StunError, 'function');
  });
});
