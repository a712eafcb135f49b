import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CATALOGUE, catalogueEntry, parseConfigText } from './index.js';
import { updateCatalogueBlock } from './catalogue-doc.js';
import { FULL } from './test-fixtures.js';

/** EdgeConfig fields that are derived rather than read from one key of the same name. */
const DERIVED: Record<string, string> = {
  'server.listeners[].ip': 'server.listeners[].ip',
};

function leaves(v: unknown, path: string, out: string[]): void {
  if (Array.isArray(v) && v.length > 0 && typeof v[0] === 'object') {
    for (const x of v) leaves(x, `${path}[]`, out);
  } else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, path === '' ? k : `${path}.${k}`, out);
  } else out.push(path);
}

describe('catalogue', () => {
  it('has unique paths', () => {
    const paths = CATALOGUE.map((e) => e.path);
    assert.equal(new Set(paths).size, paths.length);
  });

  it('every EdgeConfig field is a supported key', () => {
    const c = parseConfigText(FULL, 'c').config;
    const out: string[] = [];
    for (const top of ['general', 'network', 'server', 'timeouts', 'censorship'] as const) leaves(c[top], top, out);
    const missing = out
      .map((p) => DERIVED[p] ?? p)
      .filter((p) => !p.startsWith('access.') && catalogueEntry(p)?.status !== 'supported');
    assert.deepEqual(missing, []);
    for (const k of Object.keys(c.access)) {
      assert.equal(catalogueEntry(`access.${k}`)?.status, 'supported', `access.${k}`);
    }
    assert.equal(catalogueEntry('dc_overrides')?.status, 'supported');
    assert.equal(catalogueEntry('default_dc')?.status, 'supported');
  });

  it('docs/CONFIG.md holds the current generated table', () => {
    const doc = readFileSync(new URL('../../../docs/CONFIG.md', import.meta.url), 'utf8');
    assert.equal(doc, updateCatalogueBlock(doc), 'run: node packages/config/scripts/gen-config-doc.mjs');
  });
});
