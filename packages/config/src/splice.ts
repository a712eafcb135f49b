import TOML from '@iarna/toml';
import { ConfigError } from './errors.js';
import { scanToml, ScanError, type KeyValueItem, type ScanItem } from './scan.js';

export type TomlScalar = string | number | boolean | readonly string[];

export type ConfigEdit =
  | { readonly table: readonly string[]; readonly key: string; readonly value: TomlScalar }
  | { readonly table: readonly string[]; readonly key: string; readonly remove: true };

const BARE = /^[A-Za-z0-9_-]+$/;

/**
 * Applies key edits to the text of a config file, touching only the lines of the keys edited:
 * comments, blank lines, key order and every other table stay byte-identical. A missing table is
 * appended at the end; a missing key goes after the table's last key; removing a missing key is
 * a no-op. The result is checked by re-parsing it; anything that would not round-trip throws
 * ConfigError MTE_ERR_CONFIG_SPLICE and the caller keeps the original text.
 */
export function spliceConfig(text: string, edits: readonly ConfigEdit[]): string {
  let out = text;
  const applied: ConfigEdit[] = [];
  for (const e of edits) {
    const r = applyEdit(out, e);
    out = r.text;
    applied.push(r.edit);
  }
  verify(out, applied);
  return out;
}

/**
 * PATCH /v1/config deep-merge: `values` is a JSON object whose scalar and array members are set in
 * `[section]`, whose object members recurse into `[section.member]`, and whose nulls remove the
 * key (JSON Merge Patch, RFC 7396).
 */
export function replaceSectionValues(
  text: string,
  section: readonly string[],
  values: Record<string, unknown>,
): string {
  const edits: ConfigEdit[] = [];
  collectEdits(section, values, edits);
  return spliceConfig(text, edits);
}

function collectEdits(table: readonly string[], values: Record<string, unknown>, out: ConfigEdit[]): void {
  for (const [key, v] of Object.entries(values)) {
    if (v === null) out.push({ table, key, remove: true });
    else if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') out.push({ table, key, value: v });
    else if (Array.isArray(v)) {
      if (!v.every((x) => typeof x === 'string')) {
        throw spliceError([...table, key], 'only arrays of strings can be written');
      }
      out.push({ table, key, value: v as string[] });
    } else if (typeof v === 'object') collectEdits([...table, key], v as Record<string, unknown>, out);
    else throw spliceError([...table, key], `cannot write a value of type ${typeof v}`);
  }
}

function spliceError(path: readonly string[], detail: string, cause?: unknown): ConfigError {
  return new ConfigError('MTE_ERR_CONFIG_SPLICE', detail, { key: path.join('.'), cause });
}

function scan(text: string): ScanItem[] {
  try {
    return scanToml(text);
  } catch (err) {
    const pos = err instanceof ScanError ? err.pos : 0;
    throw new ConfigError('MTE_ERR_CONFIG_SPLICE', 'the file cannot be edited in place (unrecognised TOML)', {
      cause: err,
      line: text.slice(0, pos).split('\n').length,
    });
  }
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

interface Region {
  /** Offset where the table's body starts (after its header line, or 0 for the root). */
  readonly bodyStart: number;
  readonly kvs: KeyValueItem[];
}

/** The items of table `path`; undefined when the file has no `[path]` header. */
function findRegion(items: readonly ScanItem[], path: readonly string[]): Region | undefined {
  let inside = path.length === 0;
  let region: { bodyStart: number; kvs: KeyValueItem[] } | undefined = inside ? { bodyStart: 0, kvs: [] } : undefined;
  for (const it of items) {
    if (it.kind === 'header') {
      if (region !== undefined && inside) {
        inside = false;
        if (path.length === 0) break;
      }
      if (!it.array && samePath(it.path, path)) {
        region = { bodyStart: it.lineEnd, kvs: [] };
        inside = true;
      }
      continue;
    }
    if (inside && region !== undefined) region.kvs.push(it);
  }
  return region;
}

function eolOf(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/**
 * An edit of [server.api] goes to [server.admin_api] when only the alias exists: creating a
 * [server.api] table would shadow the alias and silently drop its other keys (auth_header!).
 */
function withAlias(items: readonly ScanItem[], e: ConfigEdit): ConfigEdit {
  if (e.table[0] !== 'server' || e.table[1] !== 'api') return e;
  const has = (p: string): boolean => items.some((it) => it.kind === 'header' && it.path.slice(0, 2).join('.') === p);
  if (has('server.api') || !has('server.admin_api')) return e;
  return { ...e, table: ['server', 'admin_api', ...e.table.slice(2)] };
}

function applyEdit(text: string, edit: ConfigEdit): { text: string; edit: ConfigEdit } {
  const e = edit.table[0] === 'server' && edit.table[1] === 'api' ? withAlias(scan(text), edit) : edit;
  return { text: applyResolved(text, e), edit: e };
}

function applyResolved(text: string, e: ConfigEdit): string {
  for (const part of [...e.table, e.key]) {
    if (part.length === 0) throw spliceError([...e.table, e.key], 'empty key names cannot be written');
  }
  const items = scan(text);
  if (items.some((it) => it.kind === 'header' && it.array && samePath(it.path, e.table))) {
    throw spliceError([...e.table, e.key], `[[${e.table.join('.')}]] is an array of tables; edit it by hand`);
  }
  const region = findRegion(items, e.table);
  const eol = eolOf(text);
  if (region === undefined) {
    if ('remove' in e) return text;
    assertNotDefinedInline(items, e.table);
    let out = text;
    if (out.length > 0 && !out.endsWith('\n')) out += eol;
    if (out.length > 0) out += eol;
    return `${out}[${e.table.map(quoteKey).join('.')}]${eol}${quoteKey(e.key)} = ${renderValue(e.value, [...e.table, e.key])}${eol}`;
  }
  const existing = region.kvs.find((kv) => kv.key.length === 1 && kv.key[0] === e.key);
  const dotted = region.kvs.find((kv) => kv.key.length > 1 && kv.key[0] === e.key);
  if (dotted !== undefined) {
    throw spliceError([...e.table, e.key], `${e.key} is written as a dotted key (${dotted.key.join('.')}); edit it by hand`);
  }
  if ('remove' in e) {
    if (existing === undefined) return text;
    return text.slice(0, existing.lineStart) + text.slice(existing.lineEnd);
  }
  const rendered = renderValue(e.value, [...e.table, e.key]);
  if (existing !== undefined) {
    return text.slice(0, existing.valueStart) + rendered + text.slice(existing.valueEnd);
  }
  const line = `${quoteKey(e.key)} = ${rendered}${eol}`;
  const last = region.kvs[region.kvs.length - 1];
  let at = last !== undefined ? last.lineEnd : region.bodyStart;
  let prefix = '';
  // The last key's line (or the header) may be the file's last line, with no EOL after it.
  if (at > 0 && text[at - 1] !== '\n') prefix = eol;
  if (last === undefined && e.table.length === 0) at = 0;
  if (at === 0) prefix = '';
  return text.slice(0, at) + prefix + line + text.slice(at);
}

/** `[a.b]` cannot be added when a.b already exists as `b = {...}` or `b.x = ...` inside [a]. */
function assertNotDefinedInline(items: readonly ScanItem[], table: readonly string[]): void {
  for (let i = 0; i < table.length; i++) {
    const parent = table.slice(0, i);
    const region = findRegion(items, parent);
    if (region === undefined) continue;
    const head = table[i] as string;
    const rest = table.slice(i + 1);
    for (const kv of region.kvs) {
      if (kv.key[0] !== head) continue;
      const tail = kv.key.slice(1);
      if (tail.length <= rest.length || rest.every((p, j) => tail[j] === p)) {
        throw spliceError(table, `[${table.join('.')}] is defined inline (${[...parent, ...kv.key].join('.')}); edit it by hand`);
      }
    }
  }
}

export function quoteKey(k: string): string {
  return BARE.test(k) ? k : tomlString(k);
}

/** TOML basic string: JSON escaping is valid TOML, plus DEL which TOML requires escaped. */
function tomlString(s: string): string {
  return JSON.stringify(s).replace(/\u007f/g, '\\u007F');
}

function renderValue(v: TomlScalar, path: readonly string[]): string {
  if (typeof v === 'string') return tomlString(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'nan';
    if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
    if (Number.isInteger(v) && !Number.isSafeInteger(v)) throw spliceError(path, 'integer is too large to write');
    if (Number.isInteger(v)) return String(v);
    const s = String(v);
    return /[.eE]/.test(s) ? s : `${s}.0`;
  }
  if (Array.isArray(v)) return `[${v.map((x) => tomlString(x)).join(', ')}]`;
  throw spliceError(path, 'unsupported value');
}

/** The spliced text must parse, and hold each edited key with its new value. */
function verify(text: string, edits: readonly ConfigEdit[]): void {
  let doc: Record<string, unknown>;
  try {
    doc = TOML.parse(text.replace(/\r\n/g, '\n')) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError('MTE_ERR_CONFIG_SPLICE', 'the edited file would not parse', { cause: err });
  }
  // Only the last edit of each key decides its final value.
  const final = new Map<string, ConfigEdit>();
  for (const e of edits) final.set(JSON.stringify([...e.table, e.key]), e);
  for (const e of final.values()) {
    let t: unknown = doc;
    for (const p of e.table) t = isObj(t) ? t[p] : undefined;
    const got = isObj(t) ? t[e.key] : undefined;
    const want = 'remove' in e ? undefined : e.value;
    if (!sameValue(got, want)) {
      throw spliceError([...e.table, e.key], 'the edited file does not hold the intended value');
    }
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) ? Number.isNaN(b) : a === b;
  if (typeof a === 'bigint' && typeof b === 'number') return Number(a) === b;
  return a === b;
}
