/** Base class of every error the testkit raises; `code` is stable, messages are not. */
export class TestkitError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TestkitError';
    this.code = code;
  }
}

/** The peer's handshake reply was malformed or failed verification (e.g. bad fake-TLS digest). */
export class TestkitHandshakeError extends TestkitError {
  constructor(message: string, options?: ErrorOptions) {
    super('MTE_ERR_TESTKIT_HANDSHAKE', message, options);
    this.name = 'TestkitHandshakeError';
  }
}

/** A bounded wait ran out. `waited` is the budget in milliseconds. */
export class TestkitTimeoutError extends TestkitError {
  readonly waited: number;
  constructor(message: string, waited: number) {
    super('MTE_ERR_TESTKIT_TIMEOUT', message);
    this.name = 'TestkitTimeoutError';
    this.waited = waited;
  }
}

/** The connection closed before the awaited condition could hold. */
export class TestkitClosedError extends TestkitError {
  constructor(message: string, options?: ErrorOptions) {
    super('MTE_ERR_TESTKIT_CLOSED', message, options);
    this.name = 'TestkitClosedError';
  }
}

/** Bytes from the peer broke the wire format (record type, frame length cap, ...). */
export class TestkitProtocolError extends TestkitError {
  constructor(message: string, options?: ErrorOptions) {
    super('MTE_ERR_TESTKIT_PROTOCOL', message, options);
    this.name = 'TestkitProtocolError';
  }
}

/** The caller passed options that cannot work (wrong secret length, missing domain, ...). */
export class TestkitOptionsError extends TestkitError {
  constructor(message: string) {
    super('MTE_ERR_TESTKIT_OPTIONS', message);
    this.name = 'TestkitOptionsError';
  }
}

/** Echoed bytes differed from the bytes sent. `offset` is the first differing stream offset. */
export class TestkitMismatchError extends TestkitError {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super('MTE_ERR_TESTKIT_MISMATCH', message);
    this.name = 'TestkitMismatchError';
    this.offset = offset;
  }
}

/** Every code above, for the documentation test. */
export const TESTKIT_ERROR_CODES = [
  'MTE_ERR_TESTKIT_HANDSHAKE',
  'MTE_ERR_TESTKIT_TIMEOUT',
  'MTE_ERR_TESTKIT_CLOSED',
  'MTE_ERR_TESTKIT_PROTOCOL',
  'MTE_ERR_TESTKIT_OPTIONS',
  'MTE_ERR_TESTKIT_MISMATCH',
] as const;
