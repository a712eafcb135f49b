/** Stable codes of every error this package throws. Retired codes are never reused. */
export const CONFIG_ERROR_CODES = [
  'MTE_ERR_CONFIG_PARSE',
  'MTE_ERR_CONFIG_TYPE',
  'MTE_ERR_CONFIG_RANGE',
  'MTE_ERR_CONFIG_VALUE',
  'MTE_ERR_CONFIG_SPLICE',
  'MTE_ERR_CONFIG_WRITE',
  'MTE_ERR_REVISION_CONFLICT',
] as const;
export type ConfigErrorCodeAll = (typeof CONFIG_ERROR_CODES)[number];

/** Codes of ConfigWarning entries. */
export const CONFIG_WARNING_CODES = [
  'MTE_WARN_UNKNOWN_KEY',
  'MTE_WARN_UNSUPPORTED_KEYS',
  'MTE_WARN_LEGACY_KEY',
  'MTE_WARN_ALIAS_SHADOWED',
  'MTE_WARN_INT_AS_BOOL',
  'MTE_WARN_AD_TAG_NO_EFFECT',
  'MTE_WARN_AD_TAG_ZERO',
  'MTE_WARN_NO_USERS',
  'MTE_WARN_INCLUDE_IGNORED',
  'MTE_WARN_UNKNOWN_USER_REF',
] as const;
export type ConfigWarningCode = (typeof CONFIG_WARNING_CODES)[number];

export type ConfigErrorCode =
  | 'MTE_ERR_CONFIG_PARSE'
  | 'MTE_ERR_CONFIG_TYPE'
  | 'MTE_ERR_CONFIG_RANGE'
  | 'MTE_ERR_CONFIG_VALUE'
  | 'MTE_ERR_CONFIG_SPLICE';

export interface ConfigErrorFields {
  /** Dotted key path, e.g. "server.api.listen"; undefined for whole-file syntax errors. */
  readonly key?: string | undefined;
  /** 1-based line in the file, when known. */
  readonly line?: number | undefined;
  /** 1-based column in the file, when known. */
  readonly column?: number | undefined;
  readonly file?: string | undefined;
  readonly cause?: unknown;
}

/** Base class of every error thrown by @mtedge/config. */
export class MtedgeConfigPackageError extends Error {
  readonly code: ConfigErrorCodeAll;
  constructor(code: ConfigErrorCodeAll, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MtedgeConfigPackageError';
    this.code = code;
  }
}

/**
 * A config file (or an edit of one) that cannot be used. The message is what an operator
 * reads: "config.toml:12:8: server.port: must be <= 65535 (got 70000)".
 */
export class ConfigError extends MtedgeConfigPackageError {
  declare readonly code: ConfigErrorCode;
  readonly key: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly file: string | undefined;
  /** The message without the file/line prefix. */
  readonly detail: string;
  constructor(code: ConfigErrorCode, detail: string, fields: ConfigErrorFields = {}) {
    super(code, formatMessage(detail, fields), { cause: fields.cause });
    this.name = 'ConfigError';
    this.key = fields.key;
    this.line = fields.line;
    this.column = fields.column;
    this.file = fields.file;
    this.detail = detail;
  }
}

function formatMessage(detail: string, f: ConfigErrorFields): string {
  let where = '';
  if (f.file !== undefined && f.file !== '') {
    where = f.file;
    if (f.line !== undefined) where += `:${f.line}`;
    if (f.line !== undefined && f.column !== undefined) where += `:${f.column}`;
    where += ': ';
  } else if (f.line !== undefined) {
    where = `line ${f.line}${f.column !== undefined ? `:${f.column}` : ''}: `;
  }
  const key = f.key !== undefined && f.key !== '' ? `${f.key}: ` : '';
  return `${where}${key}${detail}`;
}

/** The file on disk changed since the caller read it (If-Match failed). */
export class RevisionConflictError extends MtedgeConfigPackageError {
  declare readonly code: 'MTE_ERR_REVISION_CONFLICT';
  readonly expected: string;
  /** Revision of the bytes now on disk; '' when the file is missing. */
  readonly actual: string;
  constructor(expected: string, actual: string) {
    super('MTE_ERR_REVISION_CONFLICT', `config revision conflict: expected ${expected}, file on disk is ${actual || '(missing)'}`);
    this.name = 'RevisionConflictError';
    this.expected = expected;
    this.actual = actual;
  }
}

/** Writing the config failed; the original file is untouched. */
export class ConfigWriteError extends MtedgeConfigPackageError {
  declare readonly code: 'MTE_ERR_CONFIG_WRITE';
  readonly path: string;
  constructor(path: string, message: string, cause: unknown) {
    super('MTE_ERR_CONFIG_WRITE', `${path}: config write failed: ${message}`, { cause });
    this.name = 'ConfigWriteError';
    this.path = path;
  }
}
