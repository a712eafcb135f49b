/**
 * A line-level TOML scanner: where each table header and each `key = value` sits in the text,
 * as byte offsets into the original string. It does not build values (that is @iarna/toml's job);
 * it lets the splicer replace one value and the validator point at a line, leaving every other
 * byte untouched. It expects text @iarna/toml has accepted; on anything else it throws ScanError.
 */
export class ScanError extends Error {
  readonly pos: number;
  constructor(message: string, pos: number) {
    super(`${message} at offset ${pos}`);
    this.name = 'ScanError';
    this.pos = pos;
  }
}

export interface HeaderItem {
  readonly kind: 'header';
  readonly path: readonly string[];
  readonly array: boolean;
  readonly lineStart: number;
  /** Offset just past the line's EOL (or end of text). */
  readonly lineEnd: number;
}

export interface KeyValueItem {
  readonly kind: 'kv';
  /** Dotted keys give several parts: `modes.tls = true` -> ['modes', 'tls']. */
  readonly key: readonly string[];
  readonly lineStart: number;
  /** Offset of the key's first character (for line/column reporting). */
  readonly keyStart: number;
  readonly valueStart: number;
  readonly valueEnd: number;
  /** Offset just past the EOL of the line the value ends on (or end of text). */
  readonly lineEnd: number;
}

export type ScanItem = HeaderItem | KeyValueItem;

const BARE_KEY = /[A-Za-z0-9_-]/;

export function scanToml(text: string): ScanItem[] {
  const items: ScanItem[] = [];
  const n = text.length;
  let pos = 0;
  // Bounded: every iteration consumes at least one line.
  while (pos < n) {
    const lineStart = pos;
    pos = skipSpaces(text, pos);
    const c = text[pos];
    if (c === undefined) break;
    if (c === '#' || c === '\n' || c === '\r') {
      pos = restOfLine(text, pos);
      continue;
    }
    if (c === '[') {
      const array = text[pos + 1] === '[';
      pos += array ? 2 : 1;
      const k = parseKey(text, pos);
      pos = skipSpaces(text, k.end);
      if (text[pos] !== ']' || (array && text[pos + 1] !== ']')) throw new ScanError('bad table header', pos);
      pos += array ? 2 : 1;
      pos = restOfLine(text, pos);
      items.push({ kind: 'header', path: k.parts, array, lineStart, lineEnd: pos });
      continue;
    }
    const keyStart = pos;
    const k = parseKey(text, pos);
    pos = skipSpaces(text, k.end);
    if (text[pos] !== '=') throw new ScanError('expected =', pos);
    pos = skipSpaces(text, pos + 1);
    const valueStart = pos;
    const valueEnd = skipValue(text, pos);
    pos = restOfLine(text, valueEnd);
    items.push({ kind: 'kv', key: k.parts, lineStart, keyStart, valueStart, valueEnd, lineEnd: pos });
  }
  return items;
}

function skipSpaces(t: string, p: number): number {
  while (t[p] === ' ' || t[p] === '\t') p++;
  return p;
}

/** From p (after a value or header), past optional spaces and comment, past the EOL. */
function restOfLine(t: string, p: number): number {
  const nl = t.indexOf('\n', p);
  return nl < 0 ? t.length : nl + 1;
}

function parseKey(t: string, p: number): { parts: string[]; end: number } {
  const parts: string[] = [];
  for (;;) {
    p = skipSpaces(t, p);
    const c = t[p];
    if (c === '"') {
      const end = skipBasic(t, p);
      parts.push(decodeBasic(t.slice(p, end)));
      p = end;
    } else if (c === "'") {
      const end = t.indexOf("'", p + 1);
      if (end < 0) throw new ScanError('unterminated key', p);
      parts.push(t.slice(p + 1, end));
      p = end + 1;
    } else {
      const s = p;
      while (p < t.length && BARE_KEY.test(t[p] as string)) p++;
      if (p === s) throw new ScanError('expected a key', p);
      parts.push(t.slice(s, p));
    }
    p = skipSpaces(t, p);
    if (t[p] !== '.') return { parts, end: p };
    p++;
  }
}

function decodeBasic(quoted: string): string {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return quoted.slice(1, -1);
  }
}

function skipBasic(t: string, p: number): number {
  for (let i = p + 1; i < t.length; i++) {
    const c = t[i];
    if (c === '\\') i++;
    else if (c === '"') return i + 1;
    else if (c === '\n') break;
  }
  throw new ScanError('unterminated string', p);
}

function skipMultiline(t: string, p: number, q: '"""' | "'''"): number {
  let i = p + 3;
  for (;;) {
    const j = t.indexOf(q, i);
    if (j < 0) throw new ScanError('unterminated multi-line string', p);
    if (q === '"""') {
      // Count the backslashes right before: an odd number escapes the first quote.
      let b = 0;
      while (t[j - 1 - b] === '\\') b++;
      if (b % 2 === 1) {
        i = j + 1;
        continue;
      }
    }
    let end = j + 3;
    // Up to two quotes may sit right before the closing delimiter (TOML 1.0).
    for (let extra = 0; extra < 2 && t[end] === q[0]; extra++) end++;
    return end;
  }
}

/** Whitespace, newlines and comments inside arrays. */
function skipFiller(t: string, p: number): number {
  for (;;) {
    const c = t[p];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') p++;
    else if (c === '#') {
      const nl = t.indexOf('\n', p);
      p = nl < 0 ? t.length : nl;
    } else return p;
  }
}

const DATE_PREFIX = /^\d{4}-\d{2}-\d{2}$/;
const TIME_AFTER_SPACE = /^ \d{2}:/;

export function skipValue(t: string, p: number): number {
  const c = t[p];
  if (c === undefined) throw new ScanError('expected a value', p);
  if (c === '"') return t.startsWith('"""', p) ? skipMultiline(t, p, '"""') : skipBasic(t, p);
  if (c === "'") {
    if (t.startsWith("'''", p)) return skipMultiline(t, p, "'''");
    const end = t.indexOf("'", p + 1);
    if (end < 0) throw new ScanError('unterminated string', p);
    return end + 1;
  }
  if (c === '[' || c === '{') {
    const close = c === '[' ? ']' : '}';
    p++;
    for (;;) {
      p = skipFiller(t, p);
      const d = t[p];
      if (d === undefined) throw new ScanError('unterminated ' + (c === '[' ? 'array' : 'inline table'), p);
      if (d === close) return p + 1;
      if (d === ',') {
        p++;
        continue;
      }
      if (c === '{') {
        p = parseKey(t, p).end;
        p = skipSpaces(t, p);
        if (t[p] !== '=') throw new ScanError('expected =', p);
        p = skipSpaces(t, p + 1);
      }
      p = skipValue(t, p);
    }
  }
  const s = p;
  while (p < t.length && !/[\s,\]}#]/.test(t[p] as string)) p++;
  if (p === s) throw new ScanError('expected a value', p);
  // Offset date-times may use a space instead of 'T' (RFC 3339 section 5.6 note).
  if (DATE_PREFIX.test(t.slice(s, p)) && TIME_AFTER_SPACE.test(t.slice(p, p + 4))) {
    p++;
    while (p < t.length && !/[\s,\]}#]/.test(t[p] as string)) p++;
  }
  return p;
}

/** 1-based line and column of an offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    last = i;
  }
  return { line, column: offset - last };
}
