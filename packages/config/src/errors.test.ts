import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as api from './index.js';
import { CONFIG_ERROR_CODES, CONFIG_WARNING_CODES, ConfigError, parseConfigText } from './index.js';

function fails(text: string): ConfigError {
  try {
    parseConfigText(text, 'config.toml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`no error for:\n${text}`);
}

describe('config errors', () => {
  it('unfilled template placeholder -> parse error with line and column', () => {
    const e = fails('# header\r\n[server]\r\nport = TELEMT_PORT_PLACEHOLDER\r\n');
    assert.equal(e.code, 'MTE_ERR_CONFIG_PARSE');
    assert.equal(e.line, 3);
    assert.equal(e.column, 8);
    assert.equal(e.file, 'config.toml');
    assert.match(e.message, /^config\.toml:3:8: invalid TOML/);
  });

  it('duplicate key -> parse error', () => {
    const e = fails('[server]\nport = 1\nport = 2\n');
    assert.equal(e.code, 'MTE_ERR_CONFIG_PARSE');
    assert.equal(e.line, 3);
  });

  it('port out of range -> range error naming server.port at its line', () => {
    const e = fails('[general]\nfast_mode = true\n\n[server]\nport = 70000\n');
    assert.equal(e.code, 'MTE_ERR_CONFIG_RANGE');
    assert.equal(e.key, 'server.port');
    assert.equal(e.line, 5);
    assert.equal(e.column, 8);
    assert.equal(e.message, 'config.toml:5:8: server.port: must be within [0, 65535] (got 70000)');
  });

  it("ME hardswap warm-up keys are held to telemt's ranges", () => {
    const e = fails('[general]\nme_hardswap_warmup_extra_passes = 11\n');
    assert.equal(e.code, 'MTE_ERR_CONFIG_RANGE');
    assert.equal(e.message, 'config.toml:2:35: general.me_hardswap_warmup_extra_passes: must be within [0, 10] (got 11)');
    assert.equal(fails('[general]\nme_hardswap_warmup_pass_backoff_base_ms = 0\n').key, 'general.me_hardswap_warmup_pass_backoff_base_ms');
    assert.equal(fails('[general]\nme_hardswap_warmup_delay_max_ms = 0\n').key, 'general.me_hardswap_warmup_delay_max_ms');
  });

  it('wrong type -> type error', () => {
    const e = fails('[server]\nport = "443"\n');
    assert.equal(e.code, 'MTE_ERR_CONFIG_TYPE');
    assert.equal(e.key, 'server.port');
  });

  for (const [name, text, key] of [
    ['api listen not IP:PORT', '[server.api]\nlisten = "localhost:9091"\n', 'server.api.listen'],
    ['secret not 32 hex', '[access.users]\nbob = "abc"\n', 'access.users.bob'],
    ['bad user name', '[access.users]\n"bad name" = "0123456789abcdef0123456789abcdef"\n', 'access.users."bad name"'],
    ['ad tag not hex', '[general]\nad_tag = "zz"\n', 'general.ad_tag'],
    ['expiration not RFC 3339', '[access.user_expirations]\nbob = "next week"\n', 'access.user_expirations.bob'],
    ['whitelist not CIDR', '[server.api]\nwhitelist = ["10.0.0.0/33"]\n', 'server.api.whitelist[0]'],
    ['dc override without port', '[dc_overrides]\n"2" = "127.0.0.1"\n', 'dc_overrides.2'],
    ['unknown enum', '[censorship]\nunknown_sni_action = "explode"\n', 'censorship.unknown_sni_action'],
    ['bad listener ip', '[[server.listeners]]\nip = "1.2.3"\n', 'server.listeners[0].ip'],
  ] as const) {
    it(`${name} -> value error`, () => {
      const e = fails(text);
      assert.equal(e.code, 'MTE_ERR_CONFIG_VALUE', e.message);
      assert.equal(e.key, key);
      assert.equal(typeof e.line, 'number');
    });
  }

  for (const [key, text] of [
    ['server.api.request_body_limit_bytes', '[server.api]\nrequest_body_limit_bytes = 0\n'],
    ['server.api.request_body_limit_bytes', '[server.api]\nrequest_body_limit_bytes = 1048577\n'],
    ['server.api.minimal_runtime_cache_ttl_ms', '[server.api]\nminimal_runtime_cache_ttl_ms = 60001\n'],
    ['server.api.runtime_edge_cache_ttl_ms', '[server.api]\nruntime_edge_cache_ttl_ms = 60001\n'],
    ['server.api.runtime_edge_top_n', '[server.api]\nruntime_edge_top_n = 0\n'],
    ['server.api.runtime_edge_top_n', '[server.api]\nruntime_edge_top_n = 1001\n'],
    ['server.api.runtime_edge_events_capacity', '[server.api]\nruntime_edge_events_capacity = 15\n'],
    ['server.api.runtime_edge_events_capacity', '[server.api]\nruntime_edge_events_capacity = 4097\n'],
    ['censorship.mask_port', '[censorship]\nmask_port = 0\n'],
    ['general.tg_connect', '[general]\ntg_connect = 0\n'],
    ['censorship.mask_proxy_protocol', '[censorship]\nmask_proxy_protocol = 3\n'],
  ] as const) {
    it(`${key} out of range -> range error (${text.split('=')[1]?.trim()})`, () => {
      const e = fails(text);
      assert.equal(e.code, 'MTE_ERR_CONFIG_RANGE', e.message);
      assert.equal(e.key, key);
      assert.equal(e.line, 2);
    });
  }

  it('server.admin_api is checked with the same ranges', () => {
    assert.equal(fails('[server.admin_api]\nruntime_edge_top_n = 0\n').key, 'server.admin_api.runtime_edge_top_n');
  });

  it('integers beyond 2^53 are refused, not rounded', () => {
    const e = fails('[access.user_data_quota]\nbob = 99999999999999999999\n');
    assert.ok(e.code === 'MTE_ERR_CONFIG_RANGE' || e.code === 'MTE_ERR_CONFIG_PARSE');
  });

  it('RevisionConflictError and ConfigWriteError carry their fields', () => {
    const c = new api.RevisionConflictError('a', 'b');
    assert.equal(c.code, 'MTE_ERR_REVISION_CONFLICT');
    assert.equal(c.expected, 'a');
    assert.equal(c.actual, 'b');
    const cause = new Error('disk full');
    const w = new api.ConfigWriteError('/x/config.toml', 'disk full', cause);
    assert.equal(w.code, 'MTE_ERR_CONFIG_WRITE');
    assert.equal(w.cause, cause);
    assert.ok(w instanceof api.MtedgeConfigPackageError);
  });

  it('every error and warning code is documented in docs/CONFIG.md', () => {
    const doc = readFileSync(new URL('../../../docs/CONFIG.md', import.meta.url), 'utf8');
    for (const code of [...CONFIG_ERROR_CODES, ...CONFIG_WARNING_CODES]) {
      assert.ok(doc.includes(`\`${code}\``), `${code} missing from docs/CONFIG.md`);
    }
  });
});
