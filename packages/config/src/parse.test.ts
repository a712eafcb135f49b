import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeRevision, parseConfigText } from './index.js';
import { FULL, INSTALLER_CRLF, LEGACY, MINIMAL, SECRET_A, SECRET_B } from './test-fixtures.js';

const codes = (w: readonly { code: string }[]): string[] => w.map((x) => x.code);

describe('parseConfigText: valid files', () => {
  it('minimal file gets telemt defaults (except the ME opt-in)', () => {
    const s = parseConfigText(MINIMAL, 'config.toml');
    const c = s.config;
    assert.equal(s.revision, computeRevision(MINIMAL));
    assert.equal(s.path, 'config.toml');
    assert.deepEqual(c.general.modes, { classic: false, secure: false, tls: true });
    assert.equal(c.general.links.show, '*');
    assert.equal(c.general.use_middle_proxy, false, 'ME is opt-in in mtedge (docs/CONFIG.md differences)');
    assert.equal(c.general.tg_connect, 10);
    assert.equal(c.general.workers, 0);
    assert.equal(c.server.port, 443);
    assert.deepEqual(c.server.listeners, [
      { ip: '0.0.0.0', port: 443, announce: undefined, announce_ip: undefined, proxy_protocol: undefined },
    ]);
    assert.equal(c.server.max_connections, 10000);
    assert.equal(c.server.api.listen, '0.0.0.0:9091');
    assert.deepEqual(c.server.api.whitelist, ['127.0.0.0/8']);
    assert.equal(c.server.api.request_body_limit_bytes, 65536);
    assert.equal(c.censorship.tls_domain, 'petrovich.ru');
    assert.equal(c.censorship.mask_host, 'petrovich.ru');
    assert.equal(c.censorship.mask_port, 443);
    assert.equal(c.censorship.unknown_sni_action, 'drop');
    assert.deepEqual(c.access.users, { alice: SECRET_A });
    assert.equal(c.access.replay_check_len, 65536);
    assert.equal(c.network.prefer, 4);
    assert.deepEqual(c.dc_overrides, {});
    assert.equal(c.default_dc, undefined);
    assert.deepEqual(s.warnings, []);
  });

  it('result is deep-frozen', () => {
    const s = parseConfigText(FULL, 'config.toml');
    assert.ok(Object.isFrozen(s));
    assert.ok(Object.isFrozen(s.config.server.listeners[0]));
    assert.ok(Object.isFrozen(s.config.access.users));
    assert.ok(Object.isFrozen(s.raw['server']));
    assert.throws(() => {
      (s.config.server as { port: number }).port = 1;
    }, TypeError);
  });

  it('installer file: CRLF, Cyrillic comments, tables out of order, no final newline', () => {
    const s = parseConfigText(INSTALLER_CRLF, '/etc/telemt/config.toml');
    const c = s.config;
    assert.equal(c.server.port, 8443);
    assert.equal(c.server.max_connections, 0);
    assert.equal(c.server.api.listen, '127.0.0.1:9091');
    assert.deepEqual(c.server.api.whitelist, ['127.0.0.1', '::1', '10.0.0.0/8']);
    assert.equal(c.general.links.public_host, 'proxy.example.net');
    assert.equal(c.censorship.tls_domain, 'www.google.com');
    assert.equal(c.censorship.mask_proxy_protocol, 1);
    assert.deepEqual(c.access.users, { ivan: SECRET_A, maria_2: SECRET_B });
    assert.deepEqual(c.access.user_max_unique_ips, { ivan: 0, maria_2: 3 });
    assert.deepEqual(c.server.listeners.map((l) => `${l.ip}:${l.port}`), ['0.0.0.0:8443']);
    const w = codes(s.warnings);
    assert.ok(w.includes('MTE_WARN_UNKNOWN_KEY'));
    assert.equal(s.warnings.find((x) => x.code === 'MTE_WARN_UNKNOWN_KEY')?.key, 'server.stats_listen');
    const unsupported = s.warnings.filter((x) => x.code === 'MTE_WARN_UNSUPPORTED_KEYS');
    assert.equal(unsupported.length, 1);
    assert.match(unsupported[0]?.message ?? '', /censorship\.tls_front_dir/);
    assert.match(unsupported[0]?.message ?? '', /upstreams\[\]\.type/);
  });

  it('legacy keys are mapped with warnings', () => {
    const s = parseConfigText(LEGACY, 'config.toml');
    const c = s.config;
    assert.equal(c.general.tg_connect, 7);
    assert.equal(c.timeouts.client_handshake, 15);
    assert.deepEqual(c.general.links.show, ['alice']);
    assert.equal(c.network.prefer, 6);
    assert.deepEqual(c.network.stun_servers, ['stun.example.org:3478']);
    assert.equal(c.general.update_every, 3600);
    assert.equal(c.server.api.listen, '[::1]:9091');
    assert.equal(c.server.api.request_body_limit_bytes, 1024);
    assert.deepEqual(c.server.listeners.map((l) => l.ip), ['0.0.0.0', '::']);
    const w = codes(s.warnings);
    assert.ok(w.filter((x) => x === 'MTE_WARN_LEGACY_KEY').length >= 5);
    assert.ok(w.includes('MTE_WARN_AD_TAG_ZERO'));
    assert.ok(!w.includes('MTE_WARN_UNKNOWN_KEY'), JSON.stringify(s.warnings));
    // raw keeps the document as written.
    assert.ok('admin_api' in (s.raw['server'] as object));
  });

  it('[server.api] wins over [server.admin_api]', () => {
    const s = parseConfigText('[server.api]\nlisten = "127.0.0.1:1"\n[server.admin_api]\nlisten = "127.0.0.1:2"\n', 'c');
    assert.equal(s.config.server.api.listen, '127.0.0.1:1');
    assert.ok(codes(s.warnings).includes('MTE_WARN_ALIAS_SHADOWED'));
  });

  it('full file: every supported key is read', () => {
    const c = parseConfigText(FULL, 'config.toml').config;
    assert.deepEqual(c.dc_overrides, { '2': ['127.0.0.1:20443'], '203': ['127.0.0.1:20444', '[::1]:20445'] });
    assert.equal(c.default_dc, 2);
    assert.equal(c.general.ad_tag, '1234567890abcdef1234567890abcdef');
    assert.equal(c.general.log_level, 'debug');
    assert.equal(c.general.workers, 2);
    assert.equal(c.general.update_every, 600);
    assert.deepEqual(c.general.modes, { classic: true, secure: true, tls: false });
    assert.deepEqual(c.general.links, { show: ['alice', 'bob'], public_host: 'proxy.example.com', public_port: 8443 });
    assert.equal(c.network.stun_use, false);
    assert.deepEqual(c.server.listeners, [
      { ip: '127.0.0.1', port: 8443, announce: 'proxy.example.com', announce_ip: undefined, proxy_protocol: undefined },
      { ip: '::1', port: 9443, announce: undefined, announce_ip: undefined, proxy_protocol: false },
    ]);
    assert.equal(c.server.proxy_protocol, true);
    assert.deepEqual(c.server.proxy_protocol_trusted_cidrs, ['10.0.0.0/8']);
    assert.equal(c.server.metrics_port, 9090);
    assert.deepEqual(c.server.api, {
      enabled: true,
      listen: '127.0.0.1:9191',
      whitelist: [],
      auth_header: 'Bearer token',
      request_body_limit_bytes: 1048576,
      minimal_runtime_enabled: false,
      minimal_runtime_cache_ttl_ms: 0,
      runtime_edge_enabled: true,
      runtime_edge_cache_ttl_ms: 60000,
      runtime_edge_top_n: 1000,
      runtime_edge_events_capacity: 16,
      read_only: true,
    });
    assert.deepEqual(c.timeouts, {
      client_handshake: 10,
      client_first_byte_idle_secs: 0,
      client_keepalive: 30,
      client_ack: 60,
      relay_client_idle_hard_secs: 600,
    });
    assert.deepEqual(c.censorship.tls_domains, ['example.com', 'example.org']);
    assert.equal(c.censorship.mask_host, '127.0.0.1');
    assert.equal(c.censorship.mask_proxy_protocol, 2);
    assert.equal(c.access.user_enabled['bob'], false);
    assert.equal(c.access.user_expirations['alice'], '2030-01-01T00:00:00Z');
    assert.equal(c.access.user_data_quota['alice'], 1073741824);
    assert.deepEqual(c.access.user_source_deny['bob'], ['192.0.2.0/24', '2001:db8::/32']);
    assert.deepEqual(c.access.user_rate_limits['alice'], { up_bps: 1000000, down_bps: 2000000 });
    assert.equal(c.access.user_max_unique_ips_mode, 'combined');
  });

  it('a file without [access.users] is valid and says so', () => {
    const s = parseConfigText('[server]\nport = 443\n', 'c');
    assert.deepEqual(s.config.access.users, {});
    assert.ok(codes(s.warnings).includes('MTE_WARN_NO_USERS'));
    assert.deepEqual(parseConfigText('', 'c').config.access.users, {});
  });

  it('integer where a bool is expected: accepted with a warning', () => {
    const s = parseConfigText(`[censorship]\nmask = 0\n[general.modes]\nclassic = 1\n${MINIMAL}`, 'c');
    assert.equal(s.config.censorship.mask, false);
    assert.equal(s.config.general.modes.classic, true);
    const keys = s.warnings.filter((w) => w.code === 'MTE_WARN_INT_AS_BOOL').map((w) => w.key);
    assert.deepEqual(keys.sort(), ['censorship.mask', 'general.modes.classic']);
  });

  it('ad_tag with use_middle_proxy = false warns', () => {
    const s = parseConfigText(`[general]\nuse_middle_proxy = false\nad_tag = "${SECRET_A}"\n${MINIMAL}`, 'c');
    assert.ok(codes(s.warnings).includes('MTE_WARN_AD_TAG_NO_EFFECT'));
  });

  it('dc_overrides may override standard DCs and take IPv6', () => {
    const s = parseConfigText('[dc_overrides]\n"2" = "127.0.0.1:20443"\n"-2" = ["[::1]:443"]\n', 'c');
    assert.deepEqual(s.config.dc_overrides, { '2': ['127.0.0.1:20443'], '-2': ['[::1]:443'] });
  });

  it('unknown keys warn, and fail under config_strict', () => {
    const s = parseConfigText('[general]\nfoo = 1\n[bar]\nx = 1\n', 'c');
    assert.deepEqual(
      s.warnings.filter((w) => w.code === 'MTE_WARN_UNKNOWN_KEY').map((w) => w.key),
      ['general.foo', 'bar'],
    );
    assert.throws(() => parseConfigText('[general]\nconfig_strict = true\nfoo = 1\n', 'c'), {
      code: 'MTE_ERR_CONFIG_VALUE',
      key: 'general.foo',
      line: 3,
    });
  });

  it('include is not expanded, and says so', () => {
    const s = parseConfigText('include = "secrets.toml"\n', 'c');
    assert.ok(codes(s.warnings).includes('MTE_WARN_INCLUDE_IGNORED'));
  });

  it('accepts an unquoted RFC 3339 datetime for an expiration', () => {
    const s = parseConfigText(`${MINIMAL}[access.user_expirations]\nalice = 2030-01-01T00:00:00Z\n`, 'c');
    assert.equal(s.config.access.user_expirations['alice'], '2030-01-01T00:00:00.000Z');
  });

  it('whitelists take bare IPs, CIDRs and the catch-alls', () => {
    const s = parseConfigText('[server.api]\nwhitelist = ["0.0.0.0/0", "::/0", "192.168.1.1", "fe80::1"]\n', 'c');
    assert.equal(s.config.server.api.whitelist.length, 4);
  });

  it('UTF-8 BOM is tolerated', () => {
    const s = parseConfigText(`\ufeff${MINIMAL}`, 'c');
    assert.equal(s.config.server.port, 443);
  });
});
