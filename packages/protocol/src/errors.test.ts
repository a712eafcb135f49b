import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as api from './index.js';
import {
  FrameFormatError,
  FrameTooLargeError,
  LinkFormatError,
  PROTOCOL_ERROR_CODES,
  ProtocolError,
  ProxyProtocolError,
  SecretFormatError,
  TlsParseError,
} from './errors.js';

describe('error catalogue', () => {
  const instances: ProtocolError[] = [
    new SecretFormatError('x'),
    new LinkFormatError('x'),
    new TlsParseError('x'),
    new FrameTooLargeError(2, 1),
    new FrameFormatError('x'),
    new ProxyProtocolError('x'),
  ];

  it('every class has a documented, unique MTE_ERR_ code and is exported from the barrel', () => {
    const codes = instances.map((e) => e.code);
    assert.deepEqual([...codes].sort(), [...PROTOCOL_ERROR_CODES].sort());
    assert.equal(new Set(codes).size, codes.length);
    for (const e of instances) {
      assert.ok(e instanceof ProtocolError && e instanceof Error);
      assert.match(e.code, /^MTE_ERR_[A-Z_]+$/);
      assert.equal(typeof (api as Record<string, unknown>)[e.name], 'function', `${e.name} exported`);
    }
  });

  it('FrameTooLargeError carries structured fields', () => {
    const e = new FrameTooLargeError(10, 5);
    assert.equal(e.length, 10);
    assert.equal(e.limit, 5);
  });
});
