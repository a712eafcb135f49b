/** Every schema compiled once, on first use, by one Ajv instance. */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { REQUEST_SCHEMAS, type RequestSchemaName } from './requests.js';
import { RESPONSE_SCHEMAS, type ResponseSchemaName } from './responses.js';

interface Compiled {
  readonly request: Readonly<Record<RequestSchemaName, ValidateFunction>>;
  readonly response: Readonly<Record<ResponseSchemaName, ValidateFunction>>;
}

let compiled: Compiled | undefined;

function compileAll(): Compiled {
  const ajv = new Ajv({ allErrors: false, strictTypes: false, logger: false });
  const request = {} as Record<RequestSchemaName, ValidateFunction>;
  for (const name of Object.keys(REQUEST_SCHEMAS) as RequestSchemaName[]) request[name] = ajv.compile(REQUEST_SCHEMAS[name]);
  const response = {} as Record<ResponseSchemaName, ValidateFunction>;
  for (const name of Object.keys(RESPONSE_SCHEMAS) as ResponseSchemaName[]) response[name] = ajv.compile(RESPONSE_SCHEMAS[name]);
  return { request, response };
}

function validators(): Compiled {
  compiled ??= compileAll();
  return compiled;
}

export type ValidationResult = { readonly ok: true } | { readonly ok: false; readonly message: string };

function describe(errors: readonly ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (e === undefined) return 'invalid value';
  const where = e.instancePath === '' ? 'body' : e.instancePath.slice(1).replaceAll('/', '.');
  if (e.keyword === 'required') return `${where}: missing field \`${String(e.params['missingProperty'])}\``;
  if (e.keyword === 'additionalProperties') return `${where}: unknown field \`${String(e.params['additionalProperty'])}\``;
  return `${where}: ${e.message ?? 'invalid value'}`;
}

export function validateRequest(name: RequestSchemaName, value: unknown): ValidationResult {
  const fn = validators().request[name];
  return fn(value) ? { ok: true } : { ok: false, message: describe(fn.errors) };
}

export function validateResponse(name: ResponseSchemaName, value: unknown): ValidationResult {
  const fn = validators().response[name];
  return fn(value) ? { ok: true } : { ok: false, message: describe(fn.errors) };
}

/** Compile eagerly (the server calls this at start so a broken schema fails loudly there). */
export function compileSchemas(): void {
  validators();
}
