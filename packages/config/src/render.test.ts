import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText, renderDefaultConfig } from './index.js';

describe('renderDefaultConfig', () => {
  it('renders a commented file that parses to the intended first-start config', () => {
    const text = renderDefaultConfig({
      username: 'default',
      secretHex: '00112233445566778899aabbccddeeff',
      port: 8443,
      apiListen: '127.0.0.1:9091',
      tlsDomain: 'www.example.com',
    });
    assert.match(text, /^# /);
    const s = parseConfigText(text, 'config.toml');
    const c = s.config;
    assert.deepEqual(c.general.modes, { classic: false, secure: true, tls: true });
    assert.deepEqual(c.access.users, { default: '00112233445566778899aabbccddeeff' });
    assert.equal(c.server.port, 8443);
    assert.equal(c.server.api.enabled, true);
    assert.equal(c.server.api.listen, '127.0.0.1:9091');
    assert.deepEqual(c.server.api.whitelist, ['127.0.0.0/8', '::1/128']);
    assert.equal(c.general.use_middle_proxy, false);
    assert.equal(c.censorship.tls_domain, 'www.example.com');
    assert.equal(c.censorship.mask_host, 'www.example.com');
    assert.deepEqual(s.warnings, []);
  });

  it('quotes a user name that is not a bare key', () => {
    const text = renderDefaultConfig({ username: 'a.b', secretHex: 'ff'.repeat(16), port: 443, apiListen: '[::1]:9091', tlsDomain: 'x.y' });
    assert.deepEqual(Object.keys(parseConfigText(text, 'c').config.access.users), ['a.b']);
  });
});
