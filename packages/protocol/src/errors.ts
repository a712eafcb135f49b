/**
 * One base class for every codec failure; callers branch on the stable `code`, never on text.
 * Codes are never reused once retired.
 */
export class ProtocolError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

/** A user or client secret is not in one of the accepted shapes. */
export class SecretFormatError extends ProtocolError {
  constructor(message: string, options?: ErrorOptions) {
    super('MTE_ERR_SECRET_FORMAT', message, options);
    this.name = 'SecretFormatError';
  }
}

/** A link cannot be formed from the given host/port/secret. */
export class LinkFormatError extends ProtocolError {
  constructor(message: string, options?: ErrorOptions) {
    super('MTE_ERR_LINK_FORMAT', message, options);
    this.name = 'LinkFormatError';
  }
}

/** Bytes claiming to be TLS records are malformed or exceed our caps. */
export class TlsParseError extends ProtocolError {
  constructor(message: string, options?: ErrorOptions) {
    super('MTE_ERR_TLS_PARSE', message, options);
    this.name = 'TlsParseError';
  }
}

/** A transport frame announces a length above the configured cap. */
export class FrameTooLargeError extends ProtocolError {
  readonly length: number;
  readonly limit: number;
  constructor(length: number, limit: number) {
    super('MTE_ERR_FRAME_TOO_LARGE', `frame of ${length} bytes exceeds limit ${limit}`);
    this.name = 'FrameTooLargeError';
    this.length = length;
    this.limit = limit;
  }
}

/** A frame cannot be encoded in the requested transport (e.g. abridged needs a multiple of 4). */
export class FrameFormatError extends ProtocolError {
  constructor(message: string, options?: ErrorOptions) {
    super('MTE_ERR_FRAME_FORMAT', message, options);
    this.name = 'FrameFormatError';
  }
}

/** Input is clearly a PROXY protocol header but is malformed. */
export class ProxyProtocolError extends ProtocolError {
  constructor(message: string, options?: ErrorOptions) {
    super('MTE_ERR_PROXY_PROTOCOL', message, options);
    this.name = 'ProxyProtocolError';
  }
}

/** Every code this package can throw, for catalogue tests and docs. */
export const PROTOCOL_ERROR_CODES = Object.freeze([
  'MTE_ERR_SECRET_FORMAT',
  'MTE_ERR_LINK_FORMAT',
  'MTE_ERR_TLS_PARSE',
  'MTE_ERR_FRAME_TOO_LARGE',
  'MTE_ERR_FRAME_FORMAT',
  'MTE_ERR_PROXY_PROTOCOL',
] as const);
export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];
