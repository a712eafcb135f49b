import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { API_ERROR_STATUS } from './http/errors.js';
import { ROUTES } from './routes.js';
import { RESPONSE_SCHEMAS } from './schemas/index.js';

const pkgRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = join(pkgRoot, '..', '..');

describe('generated docs', () => {
  it('docs/API.md and docs/openapi.json are what gen-docs renders now', async () => {
    await promisify(execFile)(process.execPath, [join(pkgRoot, 'scripts', 'gen-docs.mjs'), '--check']);
  });

  it('every error code, route and response contract is documented', async () => {
    const md = await readFile(join(repoRoot, 'docs', 'API.md'), 'utf8');
    for (const [code, status] of Object.entries(API_ERROR_STATUS)) assert.ok(md.includes(`| \`${status}\` | \`${code}\` |`), code);
    for (const r of ROUTES) assert.ok(md.includes(`### \`${r.method} ${r.path}\``), r.path);
    const openapi = JSON.parse(await readFile(join(repoRoot, 'docs', 'openapi.json'), 'utf8')) as {
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    };
    for (const r of ROUTES) assert.ok(openapi.paths[r.path]?.[r.method.toLowerCase()] !== undefined, `${r.method} ${r.path}`);
    for (const name of Object.keys(RESPONSE_SCHEMAS)) assert.ok(openapi.components.schemas[name] !== undefined, name);
  });

  it('every response contract is used by a route', () => {
    const used = new Set(ROUTES.map((r) => r.response));
    for (const name of Object.keys(RESPONSE_SCHEMAS)) assert.ok(used.has(name as never), name);
  });
});
