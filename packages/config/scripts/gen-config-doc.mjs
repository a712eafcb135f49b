// Regenerates the telemt key catalogue table in docs/CONFIG.md from src/catalogue.ts.
// Run after `npx tsc -b packages/config`: node packages/config/scripts/gen-config-doc.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { updateCatalogueBlock } from '../dist/catalogue-doc.js';

const docPath = new URL('../../../docs/CONFIG.md', import.meta.url);
const before = readFileSync(docPath, 'utf8');
const after = updateCatalogueBlock(before);
if (after !== before) writeFileSync(docPath, after);
process.stdout.write(after === before ? 'docs/CONFIG.md catalogue up to date\n' : 'docs/CONFIG.md catalogue regenerated\n');
