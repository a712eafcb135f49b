#!/usr/bin/env node
// Runs every compiled test: unit tests beside their code (packages/*/dist, apps/*/dist) and the
// end-to-end suites in test/dist. Node 20's --test takes files, not globs, so we list them here.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const roots = ['packages', 'apps'].flatMap((d) =>
  readdirSync(join(root, d)).map((p) => join(root, d, p, 'dist')),
);
roots.push(join(root, 'test', 'dist'));

function walk(dir, out) {
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (name.endsWith('.test.js')) out.push(full);
  }
  return out;
}

const filter = process.argv.slice(2);
let files = roots.flatMap((r) => walk(r, []));
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('run-tests: no test files found (did `npm run build` run?)');
  process.exit(1);
}
console.log(`run-tests: ${files.length} files`);
const args = ['--test', '--test-concurrency=2', '--test-timeout=300000', ...files.map((f) => relative(root, f))];
const res = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(res.status ?? 1);
