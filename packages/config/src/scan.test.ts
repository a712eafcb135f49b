import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import TOML from '@iarna/toml';
import fc from 'fast-check';
import { locateKey } from './locate.js';
import { scanToml } from './scan.js';
import { FULL, INSTALLER_CRLF, LEGACY } from './test-fixtures.js';

const TRICKY = `a = 1_000 # c
b = 0x1F
c = +inf
d = 1979-05-27T07:32:00-08:00
e = 1979-05-27 07:32:00Z
f = 1979-05-27
g = '''
[not.a.table]
x = 1 '''
h = """
"quoted" \\""" still inside ""
"""
i = [ [1, 2], ["a", 'b'], { x = [1, { y = "]" }] }, ]
  "quoted key" = "v#not a comment"
'lit.key' = 'v'
j.k.l = true

  [ spaced . "quoted.part" ]   # comment
x = 1
[[arr]]
[[arr]]
y = 2
`;

describe('scanToml', () => {
  it('finds every key of tricky but valid TOML', () => {
    TOML.parse(TRICKY);
    const items = scanToml(TRICKY);
    const kvs = items.flatMap((it) => (it.kind === 'kv' ? [it.key.join('.')] : []));
    assert.deepEqual(kvs, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'quoted key', 'lit.key', 'j.k.l', 'x', 'y']);
    const headers = items.flatMap((it) => (it.kind === 'header' ? [it.path.join('|')] : []));
    assert.deepEqual(headers, ['spaced|quoted.part', 'arr', 'arr']);
    for (const it of items) {
      if (it.kind !== 'kv') continue;
      const v = TRICKY.slice(it.valueStart, it.valueEnd);
      assert.doesNotThrow(() => TOML.parse(`v = ${v}\n`), v);
    }
  });

  it('locates keys, including in arrays of tables', () => {
    assert.deepEqual(locateKey(TRICKY, ['arr', 1, 'y']), { line: TRICKY.split('\n').indexOf('y = 2') + 1, column: 5 });
    assert.deepEqual(locateKey(FULL, ['server', 'listeners', 1, 'port']), {
      line: FULL.split('\n').findIndex((l) => l === 'port = 9443') + 1,
      column: 8,
    });
  });

  it('scans the fixtures', () => {
    for (const t of [FULL, INSTALLER_CRLF, LEGACY]) assert.ok(scanToml(t).length > 10);
  });

  it('scans whatever @iarna/toml stringifies', () => {
    const leaf = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.integer(),
      fc.boolean(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
    );
    const key = fc.string({ minLength: 1, maxLength: 8 });
    const doc = fc.dictionary(key, fc.oneof(leaf, fc.dictionary(key, fc.oneof(leaf, fc.dictionary(key, leaf, { maxKeys: 3 })), { maxKeys: 4 })), {
      maxKeys: 5,
    });
    fc.assert(
      fc.property(doc, (d) => {
        let text: string;
        try {
          text = TOML.stringify(d as TOML.JsonMap);
          TOML.parse(text);
        } catch {
          return; // not representable; not our concern
        }
        const items = scanToml(text);
        for (const it of items) {
          if (it.kind !== 'kv') continue;
          assert.doesNotThrow(() => TOML.parse(`v = ${text.slice(it.valueStart, it.valueEnd)}\n`));
        }
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});
