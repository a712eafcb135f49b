import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  formatClientSecret,
  generateUserSecretHex,
  parseClientSecret,
  parseUserSecretHex,
  type SecretKind,
} from './secrets.js';
import { SecretFormatError } from './errors.js';

const KEY_HEX = '0123456789abcdef0123456789abcdef';

describe('user secrets', () => {
  it('parses exactly 32 hex characters', () => {
    assert.equal(parseUserSecretHex(KEY_HEX).toString('hex'), KEY_HEX);
    assert.equal(parseUserSecretHex(KEY_HEX.toUpperCase()).toString('hex'), KEY_HEX);
  });

  it('rejects every other shape with SecretFormatError', () => {
    for (const bad of ['', KEY_HEX.slice(1), `${KEY_HEX}0`, `${KEY_HEX.slice(2)}zz`, `dd${KEY_HEX}`, ` ${KEY_HEX.slice(1)}`]) {
      assert.throws(() => parseUserSecretHex(bad), SecretFormatError, bad);
    }
  });

  it('generates 32 lowercase hex from the injected RNG', () => {
    const s = generateUserSecretHex((n) => randomBytes(n));
    assert.match(s, /^[0-9a-f]{32}$/);
    assert.equal(generateUserSecretHex((n) => new Uint8Array(n).fill(0xab)), 'ab'.repeat(16));
    assert.throws(() => generateUserSecretHex(() => new Uint8Array(3)), SecretFormatError);
  });
});

describe('client secrets', () => {
  it('parses the three hex forms', () => {
    assert.deepEqual(parseClientSecret(KEY_HEX), { kind: 'classic', key: Buffer.from(KEY_HEX, 'hex'), domain: undefined });
    assert.deepEqual(parseClientSecret(`dd${KEY_HEX}`), { kind: 'secure', key: Buffer.from(KEY_HEX, 'hex'), domain: undefined });
    const tls = parseClientSecret(`ee${KEY_HEX}${Buffer.from('example.com').toString('hex')}`);
    assert.equal(tls.kind, 'tls');
    assert.equal(tls.domain, 'example.com');
    assert.equal(tls.key.toString('hex'), KEY_HEX);
  });

  it('parses base64 and base64url forms of the same bytes', () => {
    const bytes = Buffer.concat([Buffer.from([0xee]), Buffer.from(KEY_HEX, 'hex'), Buffer.from('google.com')]);
    for (const enc of [bytes.toString('base64'), bytes.toString('base64url')]) {
      const p = parseClientSecret(enc);
      assert.equal(p.kind, 'tls');
      assert.equal(p.domain, 'google.com');
    }
    const dd = Buffer.concat([Buffer.from([0xdd]), Buffer.from(KEY_HEX, 'hex')]);
    assert.equal(parseClientSecret(dd.toString('base64url')).kind, 'secure');
  });

  it('rejects malformed secrets', () => {
    for (const bad of ['', 'zz', `ee${KEY_HEX}`, `ee${KEY_HEX}0`, `ee${KEY_HEX}00`, `ab${KEY_HEX}`, `dd${KEY_HEX}00`, '!!!!']) {
      assert.throws(() => parseClientSecret(bad), SecretFormatError, bad);
    }
  });

  it('format -> parse round-trips for every kind', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.constantFrom<SecretKind>('classic', 'secure', 'tls'),
        fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,40}$/),
        (key, kind, domain) => {
          const s = formatClientSecret(kind, key, domain);
          assert.match(s, /^[0-9a-f]+$/);
          const p = parseClientSecret(s);
          assert.equal(p.kind, kind);
          assert.deepEqual(new Uint8Array(p.key), key);
          assert.equal(p.domain, kind === 'tls' ? domain : undefined);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('format rejects a wrong key length or a missing tls domain', () => {
    assert.throws(() => formatClientSecret('classic', new Uint8Array(15)), SecretFormatError);
    assert.throws(() => formatClientSecret('tls', new Uint8Array(16)), SecretFormatError);
    assert.throws(() => formatClientSecret('tls', new Uint8Array(16), 'bad domain'), SecretFormatError);
  });

  it('never throws anything but SecretFormatError on garbage', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        try {
          parseClientSecret(s);
        } catch (e) {
          assert.ok(e instanceof SecretFormatError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
