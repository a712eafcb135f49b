/**
 * Tiny JSON Schema builders so every contract reads like the contract's own tables. Response
 * objects are closed (`additionalProperties: false`) so tests catch a misspelt field; request
 * objects are open because clients send fields the contract does not know (API-CLIENT-FACTS).
 */
export type JsonSchema = { readonly [key: string]: unknown };

export const u64: JsonSchema = { type: 'integer', minimum: 0 };
export const i64: JsonSchema = { type: 'integer' };
export const f64: JsonSchema = { type: 'number' };
export const str: JsonSchema = { type: 'string' };
export const bool: JsonSchema = { type: 'boolean' };
export const strArr: JsonSchema = { type: 'array', items: str };

export function d(schema: JsonSchema, description: string): JsonSchema {
  return { ...schema, description };
}

export function arr(items: JsonSchema): JsonSchema {
  return { type: 'array', items };
}

export function nullable(schema: JsonSchema): JsonSchema {
  return { anyOf: [schema, { type: 'null' }] };
}

export function oneOfStr(values: readonly string[]): JsonSchema {
  return { type: 'string', enum: values };
}

/**
 * A closed object: `required` fields must be present, `optional` ones may be absent (optional
 * fields also accept null, as the contract's `?` does).
 */
export function obj(
  title: string | undefined,
  required: Readonly<Record<string, JsonSchema>>,
  optional: Readonly<Record<string, JsonSchema>> = {},
): JsonSchema {
  const properties: Record<string, JsonSchema> = { ...required };
  for (const [k, v] of Object.entries(optional)) properties[k] = nullable(v);
  return {
    ...(title === undefined ? {} : { title }),
    type: 'object',
    properties,
    required: Object.keys(required),
    additionalProperties: false,
  };
}

/** Same as `obj` with every listed name an unsigned integer counter. */
export function counters(title: string, names: readonly string[], extra: Readonly<Record<string, JsonSchema>> = {}): JsonSchema {
  const req: Record<string, JsonSchema> = {};
  for (const n of names) req[n] = u64;
  return obj(title, { ...req, ...extra });
}

/** An open request object: known fields validated strictly, unknown fields ignored. */
export function requestObj(
  title: string,
  properties: Readonly<Record<string, JsonSchema>>,
  required: readonly string[] = [],
): JsonSchema {
  return { title, type: 'object', properties, required, additionalProperties: true };
}
