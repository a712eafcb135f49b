/** Success and error envelopes (telemt-API.md "Success Envelope" / "Error Envelope"). */
import type { ApiErrorCode } from './errors.js';

export interface SuccessEnvelope<T> {
  readonly ok: true;
  readonly data: T;
  readonly revision: string;
}

export interface ErrorEnvelope {
  readonly ok: false;
  readonly error: { readonly code: ApiErrorCode; readonly message: string };
  readonly request_id: number;
}

export function successEnvelope<T>(data: T, revision: string): SuccessEnvelope<T> {
  return { ok: true, data, revision };
}

export function errorEnvelope(code: ApiErrorCode, message: string, requestId: number): ErrorEnvelope {
  return { ok: false, error: { code, message }, request_id: requestId };
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** uWS wants the full status line text, e.g. "404 Not Found". */
export function statusLine(status: number): string {
  const text = STATUS_TEXT[status];
  return text === undefined ? String(status) : `${status} ${text}`;
}
