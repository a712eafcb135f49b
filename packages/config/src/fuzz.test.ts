import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ConfigError, parseConfigText } from './index.js';
import { FULL, INSTALLER_CRLF, LEGACY, MINIMAL } from './test-fixtures.js';

/** parseConfigText either returns or throws ConfigError: never TypeError, RangeError, a hang. */
function onlyConfigErrors(text: string): void {
  try {
    parseConfigText(text, 'fuzz.toml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `non-ConfigError thrown: ${String(err)}\n--- input ---\n${text}`);
  }
}

const FIXTURES = [MINIMAL, INSTALLER_CRLF, LEGACY, FULL];
const TOKENS = ['[', ']', '[[', ']]', '=', '"', "'", '"""', '\n', '\r\n', '#', ',', '{', '}', '.', ' ', '0', '1', '-1',
  'true', '1e400', 'nan', '99999999999999999999', '[server]', '[access.users]', '[server.api]', '[[server.listeners]]',
  'port', 'users', 'listen', '__proto__', 'constructor', '2024-01-01T00:00:00Z', '"*"', '\u0000', 'Ж'];

describe('parseConfigText fuzz', () => {
  it('deep nesting is refused, not a stack overflow', () => {
    for (const n of [40, 5000]) {
      onlyConfigErrors(`a = ${'['.repeat(n)}${']'.repeat(n)}`);
      onlyConfigErrors(`a = ${'{b='.repeat(n)}1${'}'.repeat(n)}`);
      onlyConfigErrors(`[${'a.'.repeat(n)}b]\nx = 1`);
    }
  });

  it('random text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300, unit: 'binary' }), onlyConfigErrors), { numRuns: 300, seed: 1 });
  });

  it('token soup', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }), (parts) => onlyConfigErrors(parts.join(''))),
      { numRuns: 400, seed: 2 },
    );
  });

  it('mutated real files', () => {
    const mutation = fc.record({
      fixture: fc.constantFrom(...FIXTURES),
      at: fc.nat(),
      del: fc.nat({ max: 8 }),
      insert: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 6 })),
    });
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (muts) => {
        let text = muts[0]?.fixture ?? MINIMAL;
        for (const m of muts) {
          const at = m.at % (text.length + 1);
          text = text.slice(0, at) + m.insert + text.slice(at + m.del);
        }
        onlyConfigErrors(text);
      }),
      { numRuns: 500, seed: 3 },
    );
  });

  it('well-formed TOML with random values at known keys', () => {
    const value = fc.oneof(
      fc.integer().map(String),
      fc.constantFrom('true', 'false', '""', '"x"', '[]', '["a", 1]', '{}', '{ a = 1 }', '1.5', '-0', 'inf',
        '"127.0.0.1:1"', '"0123456789abcdef0123456789abcdef"', '[[1]]', '1979-05-27', '07:32:00'),
    );
    const key = fc.constantFrom('port', 'listen', 'whitelist', 'users', 'alice', 'tls_domain', 'mask', 'show',
      'ad_tag', 'modes', 'api', 'listeners', 'tg_connect', 'mask_proxy_protocol', '"2"');
    const table = fc.constantFrom('', '[server]', '[server.api]', '[general]', '[general.modes]', '[access.users]',
      '[access.user_expirations]', '[dc_overrides]', '[censorship]', '[[server.listeners]]', '[timeouts]', '[access]');
    fc.assert(
      fc.property(fc.array(fc.tuple(table, key, value), { maxLength: 12 }), (rows) => {
        const seen = new Set<string>();
        let text = '';
        for (const [t, k, v] of rows) {
          if (seen.has(t) && !t.startsWith('[[')) continue;
          seen.add(t);
          text += `${t}\n${k} = ${v}\n`;
        }
        onlyConfigErrors(text);
      }),
      { numRuns: 400, seed: 4 },
    );
  });
});
