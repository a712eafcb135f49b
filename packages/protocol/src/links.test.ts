import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PROXY_LINK_RE, buildProxyLink, buildUserLinks } from './links.js';
import { LinkFormatError, SecretFormatError } from './errors.js';
import { parseClientSecret } from './secrets.js';

const SECRET = '0123456789abcdef0123456789abcdef';
const hex = (s: string): string => Buffer.from(s).toString('hex');

describe('buildProxyLink', () => {
  it('builds the tg:// form', () => {
    assert.equal(buildProxyLink('1.2.3.4', 443, SECRET), `tg://proxy?server=1.2.3.4&port=443&secret=${SECRET}`);
  });

  it('percent-encodes IPv6 hosts so the QR regex still matches', () => {
    const l = buildProxyLink('2001:db8::1', 8443, `dd${SECRET}`);
    assert.equal(l, `tg://proxy?server=2001%3Adb8%3A%3A1&port=8443&secret=dd${SECRET}`);
    assert.match(l, PROXY_LINK_RE);
    assert.match(buildProxyLink('[::1]', 1, SECRET), PROXY_LINK_RE);
  });

  it('always matches the QR regex for arbitrary hosts', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 65535 }), (host, port) => {
        assert.match(buildProxyLink(host, port, SECRET), PROXY_LINK_RE);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects bad ports and empty hosts', () => {
    assert.throws(() => buildProxyLink('h', 0, SECRET), LinkFormatError);
    assert.throws(() => buildProxyLink('h', 65536, SECRET), LinkFormatError);
    assert.throws(() => buildProxyLink('h', 1.5, SECRET), LinkFormatError);
    assert.throws(() => buildProxyLink('', 1, SECRET), LinkFormatError);
  });
});

describe('buildUserLinks', () => {
  const base = {
    hosts: ['proxy.example.net'],
    port: 443,
    secretHex: SECRET,
    modes: { classic: true, secure: true, tls: true },
    tlsDomain: 'front-a.example.com',
    extraTlsDomains: [] as string[],
  };

  it('emits one link per host per enabled mode', () => {
    const l = buildUserLinks({ ...base, hosts: ['1.2.3.4', 'proxy.example.net', '1.2.3.4'] });
    assert.deepEqual(l.classic, [
      `tg://proxy?server=1.2.3.4&port=443&secret=${SECRET}`,
      `tg://proxy?server=proxy.example.net&port=443&secret=${SECRET}`,
    ]);
    assert.equal(l.secure[0], `tg://proxy?server=1.2.3.4&port=443&secret=dd${SECRET}`);
    assert.equal(l.tls[0], `tg://proxy?server=1.2.3.4&port=443&secret=ee${SECRET}${hex('front-a.example.com')}`);
    assert.equal(l.tls.length, 2);
    assert.deepEqual(l.tls_domains, []);
    for (const link of [...l.classic, ...l.secure, ...l.tls]) assert.match(link, PROXY_LINK_RE);
  });

  it('keeps arrays present and empty for disabled modes', () => {
    const l = buildUserLinks({ ...base, modes: { classic: false, secure: false, tls: false } });
    assert.deepEqual(l, { classic: [], secure: [], tls: [], tls_domains: [] });
  });

  it('follows telemt for extra TLS domains: tls has every domain, tls_domains only the extras', () => {
    const l = buildUserLinks({
      ...base,
      modes: { classic: false, secure: false, tls: true },
      extraTlsDomains: ['front-b.example.com', 'front-c.example.com', 'front-b.example.com', 'front-a.example.com'],
    });
    assert.equal(l.tls.length, 3);
    assert.ok(l.tls[0]?.endsWith(hex('front-a.example.com')), 'primary first');
    assert.deepEqual(
      l.tls_domains.map((r) => r.domain),
      ['front-b.example.com', 'front-c.example.com'],
    );
    for (const r of l.tls_domains) {
      assert.ok(r.link.endsWith(hex(r.domain)));
      const secret = r.link.split('secret=')[1] ?? '';
      assert.equal(parseClientSecret(secret).domain, r.domain);
    }
  });

  it('rejects a malformed user secret', () => {
    assert.throws(() => buildUserLinks({ ...base, secretHex: 'nope' }), SecretFormatError);
  });
});
