/**
 * The Control API's error codes (shared/spec/reference/telemt-API.md, "Common Error Codes") and
 * the one error class handlers throw to answer with them.
 */
export const API_ERROR_STATUS = {
  bad_request: 400,
  access_not_editable: 400,
  section_not_editable: 400,
  unauthorized: 401,
  forbidden: 403,
  read_only: 403,
  not_found: 404,
  method_not_allowed: 405,
  revision_conflict: 409,
  reload_in_progress: 409,
  user_exists: 409,
  last_user_forbidden: 409,
  payload_too_large: 413,
  internal_error: 500,
  api_disabled: 503,
  maestro_unavailable: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ApiErrorCode;
  readonly status: number;
  /** Extra response headers (e.g. `Allow` on 405). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ApiErrorCode, message: string, options?: { headers?: Record<string, string>; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = API_ERROR_STATUS[code];
    this.headers = options?.headers ?? {};
  }
}

/** When each code is answered (rendered into docs/API.md). */
export const API_ERROR_TRIGGERS: Readonly<Record<ApiErrorCode, string>> = {
  bad_request: 'Invalid JSON, invalid UTF-8, validation failures, malformed request body, empty config patch, config that fails validation.',
  access_not_editable: '`PATCH /v1/config` body contains an `access` key (managed via the users API).',
  section_not_editable: '`PATCH /v1/config` body contains `server`, `network`, or an unknown top-level key.',
  unauthorized: 'Missing or wrong `Authorization` when `auth_header` is configured.',
  forbidden: 'Source IP is not allowed by the whitelist.',
  read_only: 'Mutating endpoint called while `read_only = true`.',
  not_found: 'Unknown route, unknown user, unknown reload id, or unsupported sub-route.',
  method_not_allowed: 'Known path, unsupported method; the `Allow` header lists the methods.',
  revision_conflict: '`If-Match` does not match the current revision, or the file changed on disk during the write.',
  reload_in_progress: 'Another reload operation is not finished.',
  user_exists: 'User already exists on create.',
  last_user_forbidden: 'Attempt to delete the last configured user.',
  payload_too_large: 'Body exceeds `request_body_limit_bytes` (checked from Content-Length and while streaming).',
  internal_error: 'Internal error (config write failure, I/O).',
  api_disabled: '`[server.api] enabled = false`.',
  maestro_unavailable: 'The reload command channel is unavailable (reserved; mtedge reloads in-process).',
};
