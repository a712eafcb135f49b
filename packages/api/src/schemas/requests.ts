/** Request body contracts (telemt-API.md "Request Contracts"). */
import { bool, d, nullable, oneOfStr, requestObj, type JsonSchema } from './builders.js';

export const USERNAME_PATTERN = '^[A-Za-z0-9_.-]{1,64}$';
export const HEX32_PATTERN = '^[0-9a-fA-F]{32}$';
/** RFC 3339 date-time; the handler also checks that Date.parse accepts it. */
export const RFC3339_PATTERN =
  '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$';

const hex32: JsonSchema = { type: 'string', pattern: HEX32_PATTERN };
const rfc3339: JsonSchema = { type: 'string', pattern: RFC3339_PATTERN };
const usize: JsonSchema = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };

const userFields = {
  user_ad_tag: d(hex32, 'Exactly 32 hex chars.'),
  max_tcp_conns: d(usize, 'Per-user concurrent TCP limit.'),
  expiration_rfc3339: d(rfc3339, 'RFC3339 expiration timestamp.'),
  data_quota_bytes: d(usize, 'Per-user traffic quota in bytes.'),
  rate_limit_up_bps: d(usize, 'Per-user upload rate limit in bits per second.'),
  rate_limit_down_bps: d(usize, 'Per-user download rate limit in bits per second.'),
  max_unique_ips: d(usize, 'Per-user unique source IP limit.'),
} as const;

export const CreateUserRequest = requestObj(
  'CreateUserRequest',
  {
    username: d({ type: 'string', pattern: USERNAME_PATTERN }, '`[A-Za-z0-9_.-]`, length `1..64`.'),
    secret: d(hex32, 'Exactly 32 hex chars. If missing, generated automatically.'),
    ...userFields,
    enabled: d(bool, 'User enable flag. Missing means enabled. `false` persists a disabled override.'),
  },
  ['username'],
);

const patchUserFields: Record<string, JsonSchema> = {};
for (const [k, v] of Object.entries(userFields)) patchUserFields[k] = d(nullable(v), `${String(v['description'])} \`null\` removes it.`);

export const PatchUserRequest = requestObj('PatchUserRequest', {
  secret: d(hex32, 'Exactly 32 hex chars.'),
  ...patchUserFields,
  enabled: d(nullable(bool), '`false` disables the user; `true` or `null` removes the disabled override.'),
});

export const RotateSecretRequest = requestObj('RotateSecretRequest', {
  secret: d(hex32, 'Exactly 32 hex chars. If missing, generated automatically.'),
});

export const EDITABLE_SECTIONS = ['general', 'timeouts', 'censorship', 'upstreams', 'show_link', 'dc_overrides'] as const;

/** Keys are checked by the handler (access_not_editable / section_not_editable). */
export const PatchConfigRequest: JsonSchema = {
  title: 'PatchConfigRequest',
  description:
    'Sparse object of top-level editable sections (`general`, `timeouts`, `censorship`, `upstreams`, `show_link`, `dc_overrides`). Tables are deep-merged; arrays and scalars replace; `null` removes a key.',
  type: 'object',
};

export const ReloadRequest = requestObj('ReloadRequest', {
  mode: d(oneOfStr(['instant', 'drain']), 'Defaults to `instant`.'),
  timeout_secs: d({ type: 'integer', minimum: 1, maximum: 3600 }, 'Required for `drain`, invalid with `instant`.'),
  failure_policy: d(oneOfStr(['keep_new', 'rollback']), 'Defaults to `keep_new`.'),
});

export const REQUEST_SCHEMAS = {
  CreateUserRequest,
  PatchUserRequest,
  RotateSecretRequest,
  PatchConfigRequest,
  ReloadRequest,
} as const;

export type RequestSchemaName = keyof typeof REQUEST_SCHEMAS;
