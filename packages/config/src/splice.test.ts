import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ConfigError, parseConfigText, replaceSectionValues, spliceConfig, type ConfigEdit, type TomlScalar } from './index.js';
import { INSTALLER_CRLF, MINIMAL, SECRET_B } from './test-fixtures.js';
import { parseToml } from './toml.js';

const BASE = `# top comment
dc_overrides = { "2" = "127.0.0.1:20443" }

[general] # trailing comment on a header
# comment inside general
use_middle_proxy = false   # keep this comment
log_level = "normal"

[server]
port = 443
# a comment after the last key

[server.api]
whitelist = [
  "127.0.0.0/8", # loopback
  "::1/128",
]

[[upstreams]]
type = "direct"

[access.users]
alice = "0123456789abcdef0123456789abcdef" # Алиса
`;

function getAt(doc: unknown, path: readonly string[]): unknown {
  let t = doc;
  for (const p of path) t = typeof t === 'object' && t !== null ? (t as Record<string, unknown>)[p] : undefined;
  return t;
}

/** Lines of `before` not in `touched` appear in `after` in the same order, byte for byte. */
function assertUntouchedLinesKept(before: string, after: string, touchedKeys: readonly string[]): void {
  const kept = before.split('\n').filter((l) => !touchedKeys.some((k) => l.trimStart().startsWith(`${k} =`)));
  const out = after.split('\n');
  let j = 0;
  for (const line of kept) {
    while (j < out.length && out[j] !== line) j++;
    assert.ok(j < out.length, `line lost: ${JSON.stringify(line)}`);
    j++;
  }
}

describe('spliceConfig', () => {
  it('replaces a value in place, keeping the trailing comment', () => {
    const out = spliceConfig(BASE, [{ table: ['general'], key: 'use_middle_proxy', value: true }]);
    assert.equal(out, BASE.replace('use_middle_proxy = false   #', 'use_middle_proxy = true   #'));
  });

  it('replaces a multi-line array', () => {
    const out = spliceConfig(BASE, [{ table: ['server', 'api'], key: 'whitelist', value: ['10.0.0.0/8'] }]);
    assert.match(out, /\[server\.api\]\nwhitelist = \["10\.0\.0\.0\/8"\]\n\n\[\[upstreams\]\]/);
    assert.deepEqual(parseConfigText(out, 'c').config.server.api.whitelist, ['10.0.0.0/8']);
  });

  it('adds a key after the last key of its table', () => {
    const out = spliceConfig(BASE, [{ table: ['access', 'users'], key: 'bob', value: SECRET_B }]);
    assert.ok(out.endsWith(`# Алиса\nbob = "${SECRET_B}"\n`));
    const out2 = spliceConfig(BASE, [{ table: ['server'], key: 'max_connections', value: 0 }]);
    assert.match(out2, /port = 443\nmax_connections = 0\n# a comment after the last key/);
  });

  it('creates a missing table at the end', () => {
    const out = spliceConfig(BASE, [{ table: ['access', 'user_enabled'], key: 'alice', value: false }]);
    assert.ok(out.startsWith(BASE));
    assert.equal(out.slice(BASE.length), '\n[access.user_enabled]\nalice = false\n');
  });

  it('removes a key; removing a missing key is a no-op', () => {
    const out = spliceConfig(BASE, [{ table: ['general'], key: 'log_level', remove: true }]);
    assert.equal(out, BASE.replace('log_level = "normal"\n', ''));
    assert.equal(spliceConfig(BASE, [{ table: ['general'], key: 'nope', remove: true }]), BASE);
    assert.equal(spliceConfig(BASE, [{ table: ['nope'], key: 'nope', remove: true }]), BASE);
  });

  it('quotes keys that need it and escapes values', () => {
    const out = spliceConfig(MINIMAL, [
      { table: ['dc_overrides'], key: '-2', value: '127.0.0.1:1' },
      { table: ['access', 'users'], key: 'a.b', value: SECRET_B },
      { table: ['general', 'links'], key: 'public_host', value: 'x"y\\z\u0001' },
    ]);
    assert.match(out, /^-2 = /m);
    assert.match(out, /^"a\.b" = /m);
    const s = parseConfigText(out, 'c');
    assert.equal(s.config.access.users['a.b'], SECRET_B);
    assert.equal((s.raw['general'] as { links: { public_host: string } }).links.public_host, 'x"y\\z\u0001');
  });

  it('keeps CRLF and handles a file without a final newline', () => {
    const out = spliceConfig(INSTALLER_CRLF, [
      { table: ['server'], key: 'port', value: 9443 },
      { table: ['server'], key: 'listen_backlog', value: 128 },
      { table: ['access', 'user_enabled'], key: 'ivan', value: false },
    ]);
    assert.ok(!/[^\r]\n/.test(out), 'a bare LF was introduced');
    assert.ok(out.startsWith(INSTALLER_CRLF.replace('port = 8443', 'port = 9443')));
    const c = parseConfigText(out, 'c').config;
    assert.equal(c.server.port, 9443);
    assert.equal(c.server.listen_backlog, 128);
    assert.equal(c.access.user_enabled['ivan'], false);
  });

  it('edits the root table', () => {
    const out = spliceConfig(BASE, [{ table: [], key: 'default_dc', value: 2 }]);
    assert.equal(parseConfigText(out, 'c').config.default_dc, 2);
    assert.ok(out.startsWith('# top comment\ndc_overrides'));
  });

  it('refuses arrays of tables and inline definitions instead of corrupting them', () => {
    assert.throws(() => spliceConfig(BASE, [{ table: ['upstreams'], key: 'weight', value: 1 }]), {
      code: 'MTE_ERR_CONFIG_SPLICE',
    });
    assert.throws(() => spliceConfig(BASE, [{ table: ['dc_overrides'], key: '3', value: '127.0.0.1:1' }]), {
      code: 'MTE_ERR_CONFIG_SPLICE',
    });
    const dotted = '[general]\nmodes.tls = true\n';
    assert.throws(() => spliceConfig(dotted, [{ table: ['general', 'modes'], key: 'classic', value: true }]), ConfigError);
    assert.throws(() => spliceConfig(dotted, [{ table: ['general'], key: 'modes', value: true }]), ConfigError);
  });

  it('replaceSectionValues deep-merges a PATCH body', () => {
    const out = replaceSectionValues(BASE, [], {
      general: { log_level: 'debug', links: { show: ['alice'] }, use_middle_proxy: null },
      server: { port: 8443, api: { read_only: true } },
    });
    const s = parseConfigText(out, 'c');
    assert.equal(s.config.general.log_level, 'debug');
    assert.deepEqual(s.config.general.links.show, ['alice']);
    assert.ok(!/^use_middle_proxy\s*=/m.test(out), 'null removed the key');
    assert.equal(s.config.general.use_middle_proxy, false, 'back to the default');
    assert.equal(s.config.server.port, 8443);
    assert.equal(s.config.server.api.read_only, true);
    assertUntouchedLinesKept(BASE, out, ['log_level', 'use_middle_proxy', 'port']);
    assert.throws(() => replaceSectionValues(BASE, ['server'], { x: [{ a: 1 }] }), { code: 'MTE_ERR_CONFIG_SPLICE' });
  });
});

describe('spliceConfig properties', () => {
  const tables: readonly (readonly string[])[] = [[], ['general'], ['server'], ['server', 'api'], ['access', 'users'], ['new', 'table'], ['new']];
  const keyArb = fc.oneof(
    fc.constantFrom('port', 'log_level', 'alice', 'use_middle_proxy', 'whitelist', 'x'),
    fc.stringMatching(/^[A-Za-z0-9_.\- "'#=\u0430-\u044f]{1,12}$/),
  );
  const scalarArb: fc.Arbitrary<TomlScalar> = fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.integer({ min: -1_000_000, max: 1_000_000 }),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
    fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }),
  );
  const editArb: fc.Arbitrary<ConfigEdit> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ table: fc.constantFrom(...tables), key: keyArb, value: scalarArb }) },
    { weight: 1, arbitrary: fc.record({ table: fc.constantFrom(...tables), key: keyArb, remove: fc.constant(true as const) }) },
  );

  it('edited text parses to the intended values; untouched lines survive', () => {
    fc.assert(
      fc.property(fc.array(editArb, { minLength: 1, maxLength: 6 }), fc.boolean(), (edits, crlf) => {
        const base = crlf ? BASE.replace(/\n/g, '\r\n') : BASE;
        let out: string;
        try {
          out = spliceConfig(base, edits);
        } catch (err) {
          // Only the documented refusals: a key that collides with a table or inline value.
          assert.ok(err instanceof ConfigError && err.code === 'MTE_ERR_CONFIG_SPLICE', String(err));
          return;
        }
        const raw = parseToml(out, 'c');
        const final = new Map<string, ConfigEdit>();
        for (const e of edits) final.set(JSON.stringify([...e.table, e.key]), e);
        for (const e of final.values()) {
          const got = getAt(raw, [...e.table, e.key]);
          if ('remove' in e) assert.equal(got, undefined);
          else assert.deepEqual(got, e.value);
        }
        if (crlf) assert.ok(!/[^\r]\n/.test(out));
        const touched = edits.map((e) => e.key);
        const nl = crlf ? '\r\n' : '\n';
        const kept = base
          .split(nl)
          .filter((l) => /^\s*[#[]|^[A-Za-z_]/.test(l) && !touched.some((k) => l.includes(k)));
        const outLines = out.split(nl);
        let j = 0;
        for (const line of kept) {
          while (j < outLines.length && outLines[j] !== line) j++;
          assert.ok(j < outLines.length, `line lost: ${JSON.stringify(line)}`);
          j++;
        }
      }),
      { numRuns: 300, seed: 42 },
    );
  });
});

describe('spliceConfig and the [server.admin_api] alias', () => {
  it('edits [server.admin_api] when only the alias exists, keeping its other keys', () => {
    const text = '[server.admin_api]\nlisten = "127.0.0.1:9091"\nauth_header = "secret"\n';
    const out = replaceSectionValues(text, ['server'], { api: { read_only: true } });
    assert.equal(out, `${text}read_only = true\n`);
    const c = parseConfigText(out, 'c').config;
    assert.equal(c.server.api.read_only, true);
    assert.equal(c.server.api.auth_header, 'secret');
  });
});
