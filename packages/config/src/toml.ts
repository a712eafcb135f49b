import TOML from '@iarna/toml';
import { ConfigError } from './errors.js';

/** A parsed TOML value with dates turned into strings and integers into safe numbers. */
export type PlainValue = string | number | boolean | PlainValue[] | PlainTable;
export interface PlainTable {
  [key: string]: PlainValue;
}

interface TomlErrorLike {
  fromTOML?: boolean;
  line?: number;
  col?: number;
  message?: string;
}

/**
 * Parse TOML the way operators write it: CRLF and lone-LF line ends, a UTF-8 BOM, no final
 * newline. @iarna/toml rejects "\r" inside comments, so CRLF becomes LF first; that keeps
 * every line number and column the same.
 */
export function parseToml(text: string, file: string): PlainTable {
  let src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  src = src.replace(/\r\n/g, '\n');
  let doc: unknown;
  try {
    doc = TOML.parse(src);
  } catch (err) {
    if (err instanceof RangeError) {
      throw new ConfigError('MTE_ERR_CONFIG_PARSE', 'invalid TOML: nested too deep', { file, cause: err });
    }
    const e = err as TomlErrorLike;
    const line = typeof e.line === 'number' ? e.line + 1 : undefined;
    const column = typeof e.col === 'number' ? e.col + 1 : undefined;
    const first = String(e.message ?? err).split('\n')[0] ?? '';
    const detail = first.replace(/ at row \d+, col \d+, pos \d+:?$/, '');
    throw new ConfigError('MTE_ERR_CONFIG_PARSE', `invalid TOML: ${detail}`, { line, column, file, cause: err });
  }
  return plainTable(doc as Record<string, unknown>, [], file);
}

/** A second, independent copy of a parsed document (the validator coerces values in place). */
export function copyTable(t: PlainTable): PlainTable {
  return plainTable(t as Record<string, unknown>, [], '');
}

function plainTable(t: Record<string, unknown>, path: string[], file: string): PlainTable {
  const out: PlainTable = {};
  for (const k of Object.keys(t)) {
    path.push(k);
    const v = plainValue(t[k], path, file);
    path.pop();
    // A key spelled "__proto__" must stay a plain key, not set the prototype.
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

/** No real config nests deeper than a handful of levels; deeper input is hostile or broken. */
const MAX_DEPTH = 32;

/** `path` is shared and mutated while walking; it is copied only into an error. */
function plainValue(v: unknown, path: string[], file: string): PlainValue {
  if (path.length > MAX_DEPTH) {
    throw new ConfigError('MTE_ERR_CONFIG_RANGE', `nested deeper than ${MAX_DEPTH} levels`, {
      key: path.slice(0, 4).join('.'),
      file,
    });
  }
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'number':
      return v;
    case 'bigint':
      if (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)) return Number(v);
      throw new ConfigError('MTE_ERR_CONFIG_RANGE', `integer is too large (limit ${Number.MAX_SAFE_INTEGER})`, {
        key: path.join('.'),
        file,
      });
    case 'object': {
      if (v === null) break;
      if (v instanceof Date) return dateText(v);
      if (Array.isArray(v)) {
        const out: PlainValue[] = new Array<PlainValue>(v.length);
        for (let i = 0; i < v.length; i++) {
          path.push(String(i));
          out[i] = plainValue(v[i], path, file);
          path.pop();
        }
        return out;
      }
      return plainTable(v as Record<string, unknown>, path, file);
    }
    default:
      break;
  }
  throw new ConfigError('MTE_ERR_CONFIG_TYPE', 'unsupported TOML value', { key: path.join('.'), file });
}

/** @iarna/toml marks local dates/times with flags; offset date-times become ISO strings. */
function dateText(d: Date): string {
  const flags = d as Date & { isDate?: boolean; isTime?: boolean; isDateTime?: boolean };
  const s = Number.isNaN(d.getTime()) ? String(d) : d.toISOString();
  if (flags.isDate === true) return s.slice(0, 10);
  if (flags.isTime === true) return String(d);
  if (flags.isDateTime === true) return s.replace(/Z$/, '');
  return s;
}
