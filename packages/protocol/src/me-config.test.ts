import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseProxyMultiConf, renderProxyMultiConf, type MeEndpoint } from './me-config.js';
import { MeProtocolError } from './me-rpc.js';
import { formatIpv6, parseIpv4, parseIpv6 } from './ip.js';

/** getProxyConfigV6 as served (the shape Telegram's getProxyConfigV6 serves). */
const V6_BODY = `# force_probability 10 10
default 2;
proxy_for 1 [2001:0b28:f23d:f001:0000:0000:0000:000d]:8888;
proxy_for -1 [2001:b28:f23d:f001::d]:8888;
proxy_for 2 [2001:67c:4e8:f002::d]:80;
proxy_for 2 [2001:67c:4e8:f002::e]:80;
proxy_for 4 [2001:67C:4E8:F004::D]:8888;
`;

const canon = (h: string): string => (h.includes(':') ? formatIpv6(parseIpv6(h)!) : h);

describe('proxy-multi.conf with IPv6 endpoints (getProxyConfigV6)', () => {
  it('parses bracketed [addr]:port lines into RFC 5952 hosts and renders them bracketed', () => {
    const c = parseProxyMultiConf(V6_BODY);
    assert.equal(c.defaultDc, 2);
    assert.equal(c.skippedLines, 0);
    assert.deepEqual(c.dcs['1'], [{ host: '2001:b28:f23d:f001::d', port: 8888 }], 'leading zeros and zero groups folded');
    assert.deepEqual(c.dcs['-1'], [{ host: '2001:b28:f23d:f001::d', port: 8888 }]);
    assert.deepEqual(c.dcs['2'], [
      { host: '2001:67c:4e8:f002::d', port: 80 },
      { host: '2001:67c:4e8:f002::e', port: 80 },
    ]);
    assert.deepEqual(c.dcs['4'], [{ host: '2001:67c:4e8:f004::d', port: 8888 }], 'lower-cased');
    const text = renderProxyMultiConf(c);
    assert.match(text, /^proxy_for 2 \[2001:67c:4e8:f002::d\]:80;$/m);
    assert.deepEqual(parseProxyMultiConf(text), c);
  });

  it('one address spelled two ways is one endpoint', () => {
    const c = parseProxyMultiConf('proxy_for 2 [2001:DB8::1]:80;\nproxy_for 2 [2001:db8:0:0:0:0:0:1]:80;\nproxy_for 2 [2001:db8::1]:81;\n');
    assert.deepEqual(c.dcs['2'], [
      { host: '2001:db8::1', port: 80 },
      { host: '2001:db8::1', port: 81 },
    ]);
  });

  it('skips what is not an endpoint: unbracketed IPv6, bracketed IPv4, zones, bad ports', () => {
    const bad = [
      'proxy_for 2 2001:db8::1:80;',
      'proxy_for 2 [192.0.2.1]:80;',
      'proxy_for 2 [fe80::1%eth0]:80;',
      'proxy_for 2 [::1]:0;',
      'proxy_for 2 [::1]:65536;',
      'proxy_for 2 [::1];',
      'proxy_for 2 [[::1]]:80;',
      'proxy_for 2 [1:2:3:4:5:6:7:8:9]:80;',
      'proxy_for 2 [1::2::3]:80;',
      'proxy_for 2 [::1]:80',
    ];
    const c = parseProxyMultiConf([...bad, 'proxy_for 3 [::1]:443;'].join('\n'));
    assert.equal(c.skippedLines, bad.length);
    assert.deepEqual(c.dcs, { '3': [{ host: '::1', port: 443 }] });
  });

  it('any table of IPv4 and IPv6 endpoints survives render -> parse (canonical hosts, deduplicated)', () => {
    const ep = fc.record({ host: fc.oneof(fc.ipV4(), fc.ipV6()), port: fc.integer({ min: 1, max: 65535 }) });
    const table = fc.dictionary(fc.integer({ min: -999, max: 999 }).map(String), fc.array(ep, { minLength: 1, maxLength: 4 }), { minKeys: 1, maxKeys: 5 });
    fc.assert(
      fc.property(table, fc.option(fc.integer({ min: -5, max: 5 }), { nil: undefined }), (dcs, defaultDc) => {
        const c = parseProxyMultiConf(renderProxyMultiConf({ dcs, defaultDc }));
        assert.equal(c.skippedLines, 0);
        assert.equal(c.defaultDc, defaultDc);
        for (const [dc, eps] of Object.entries(dcs)) {
          const want: MeEndpoint[] = [];
          for (const e of eps) {
            const h = canon(e.host);
            if (!want.some((w) => w.host === h && w.port === e.port)) want.push({ host: h, port: e.port });
          }
          assert.deepEqual(c.dcs[dc], want);
        }
        // Canonical output is a fixed point.
        assert.equal(renderProxyMultiConf(parseProxyMultiConf(renderProxyMultiConf(c))), renderProxyMultiConf(c));
      }),
      { numRuns: 300 },
    );
  });

  it('mangled endpoint text yields valid endpoints or a skipped line, never another error', () => {
    const piece = fc.constantFrom('[', ']', ':', '::', '.', '%', '0', '1', 'f', 'F', 'g', '2001', 'db8', '255', '256', '65535', '65536', ' ', ';');
    const line = fc.oneof(
      fc.array(piece, { maxLength: 16 }).map((p) => `proxy_for 2 ${p.join('')};`),
      fc.tuple(fc.ipV6(), fc.integer({ min: -1, max: 70000 })).map(([h, p]) => `proxy_for 7 [${h}]:${p};`),
      fc.ipV4().map((h) => `proxy_for 5 ${h}:443;`),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
        let c;
        try {
          c = parseProxyMultiConf(lines.join('\n'));
        } catch (e) {
          assert.ok(e instanceof MeProtocolError, String(e));
          return;
        }
        for (const eps of Object.values(c.dcs)) {
          for (const e of eps) {
            assert.ok(e.port > 0 && e.port < 65536);
            if (e.host.includes(':')) assert.equal(e.host, canon(e.host));
            else assert.ok(parseIpv4(e.host));
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
