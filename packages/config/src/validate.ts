import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ConfigError, type ConfigErrorCode } from './errors.js';
import { isCidrOrIp, isConnectAddr, isDomain, isIp, isIpPort, isIpv4, isIpv6, isRfc3339 } from './formats.js';
import { locateKey, type PathPart } from './locate.js';
import { buildDocumentSchema, type JsonSchema } from './schema.js';
import type { PlainTable, PlainValue } from './toml.js';
import type { ConfigWarning } from './types.js';

let compiled: { schema: JsonSchema; validate: ValidateFunction } | undefined;

/** Compiled once per process: ajv code generation is the expensive part. */
function validator(): { schema: JsonSchema; validate: ValidateFunction } {
  if (compiled !== undefined) return compiled;
  const ajv = new Ajv({ allErrors: false, verbose: true, strict: false, logger: false });
  ajv.addFormat('ip', isIp);
  ajv.addFormat('ipv4', isIpv4);
  ajv.addFormat('ipv6', isIpv6);
  ajv.addFormat('cidr-or-ip', isCidrOrIp);
  ajv.addFormat('ip-port', isIpPort);
  ajv.addFormat('dc-addr', (s: string) => s === '' || isConnectAddr(s));
  ajv.addFormat('rfc3339', isRfc3339);
  ajv.addFormat('domain', isDomain);
  ajv.addFormat('show-link', (s: string) => s === '*');
  const schema = buildDocumentSchema();
  compiled = { schema, validate: ajv.compile(schema) };
  return compiled;
}

export interface ValidateContext {
  readonly text: string;
  readonly file: string;
}

/**
 * Checks types, ranges and formats of every supported and accepted key. Integers 0/1 where a
 * bool is expected are turned into booleans first (with a warning), as real files have them.
 */
export function validateDocument(doc: PlainTable, ctx: ValidateContext, warnings: ConfigWarning[]): void {
  const { schema, validate } = validator();
  coerceIntBools(schema, doc, [], warnings);
  if (validate(doc)) return;
  const err = validate.errors?.[0];
  if (err === undefined) throw new ConfigError('MTE_ERR_CONFIG_VALUE', 'invalid configuration', { file: ctx.file });
  throw toConfigError(err, ctx, doc);
}

function coerceIntBools(schema: JsonSchema, value: PlainValue, path: PathPart[], warnings: ConfigWarning[]): void {
  if (Array.isArray(value)) {
    const item = schema.items;
    if (item === undefined) return;
    for (let i = 0; i < value.length; i++) {
      const v = value[i] as PlainValue;
      if (item.type === 'boolean' && (v === 0 || v === 1)) {
        value[i] = v === 1;
        warnings.push(intBoolWarning([...path, i], v));
      } else coerceIntBools(item, v, [...path, i], warnings);
    }
    return;
  }
  if (typeof value !== 'object') return;
  for (const k of Object.keys(value)) {
    const sub = schema.properties?.[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (sub === undefined) continue;
    const v = value[k] as PlainValue;
    if (sub.type === 'boolean' && (v === 0 || v === 1)) {
      value[k] = v === 1;
      warnings.push(intBoolWarning([...path, k], v));
    } else coerceIntBools(sub, v, [...path, k], warnings);
  }
}

function intBoolWarning(path: PathPart[], v: number): ConfigWarning {
  return {
    code: 'MTE_WARN_INT_AS_BOOL',
    key: dotted(path),
    message: `${dotted(path)} = ${v} read as ${v === 1 ? 'true' : 'false'}; write true or false`,
  };
}

export function dotted(path: readonly PathPart[]): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else {
      const q = /^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p);
      s += s === '' ? q : `.${q}`;
    }
  }
  return s;
}

/** JSON pointer -> path; a segment is an index only where the data there is an array. */
function pointerToPath(pointer: string, doc: PlainValue): PathPart[] {
  if (pointer === '') return [];
  const out: PathPart[] = [];
  let node: PlainValue | undefined = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      out.push(Number(seg));
      node = node[Number(seg)];
    } else {
      out.push(seg);
      node = typeof node === 'object' && node !== null ? node[seg] : undefined;
    }
  }
  return out;
}

function shown(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a table';
  if (typeof v === 'number') return Number.isInteger(v) ? `the integer ${v}` : `the number ${v}`;
  if (typeof v === 'string') return `the string ${shown(v)}`;
  return `${typeof v} ${shown(v)}`;
}

function toConfigError(err: ErrorObject, ctx: ValidateContext, doc: PlainTable): ConfigError {
  const path = pointerToPath(err.instancePath, doc);
  const parent = (err.parentSchema ?? {}) as JsonSchema;
  const expect = parent.description ?? 'valid';
  let code: ConfigErrorCode = 'MTE_ERR_CONFIG_VALUE';
  let detail: string;
  switch (err.keyword) {
    case 'type':
      code = 'MTE_ERR_CONFIG_TYPE';
      detail = `must be ${expect} (got ${kindOf(err.data)})`;
      break;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      code = 'MTE_ERR_CONFIG_RANGE';
      detail = `must be within [${parent.minimum ?? '-inf'}, ${parent.maximum ?? 'inf'}] (got ${shown(err.data)})`;
      break;
    case 'maxItems':
    case 'maxProperties':
    case 'maxLength':
    case 'minLength':
      code = 'MTE_ERR_CONFIG_RANGE';
      detail = `${err.message ?? 'has a bad length'}`;
      break;
    case 'pattern':
    case 'propertyNames': {
      const name = err.propertyName ?? (err.params as { propertyName?: string }).propertyName;
      if (name !== undefined) {
        path.push(name);
        detail = `name must be ${expect} (got ${shown(name)})`;
      } else detail = `must be ${expect} (got ${shown(err.data)})`;
      break;
    }
    default:
      detail = `must be ${expect} (got ${shown(err.data)})`;
  }
  const pos = locateKey(ctx.text, path);
  return new ConfigError(code, detail, { key: dotted(path), file: ctx.file, line: pos?.line, column: pos?.column });
}
