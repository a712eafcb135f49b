import { Buffer } from 'node:buffer';
import { SecretFormatError } from './errors.js';
import { bytesToHex, hexToBytes } from './hex.js';

/**
 * How a client secret selects the transport (PROTOCOL-NOTES "Secrets as clients see them"):
 * 16 bytes = plain obfuscated2, `dd` + 16 = padded intermediate, `ee` + 16 + domain = fake-TLS.
 */
export type SecretKind = 'classic' | 'secure' | 'tls';

export const USER_SECRET_LEN = 16;
export const SECURE_SECRET_PREFIX = 0xdd;
export const TLS_SECRET_PREFIX = 0xee;
/** DNS names cap at 253 characters; anything longer in a secret is garbage. */
export const MAX_TLS_DOMAIN_LEN = 253;

export interface ParsedClientSecret {
  kind: SecretKind;
  key: Buffer;
  domain: string | undefined;
}

const USER_HEX_RE = /^[0-9a-fA-F]{32}$/;
const BASE64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;
// Printable ASCII without space: covers DNS names and IP literals, rejects control bytes.
const DOMAIN_RE = /^[\x21-\x7e]+$/;

/** Exactly 32 hex characters -> the 16-byte user secret. */
export function parseUserSecretHex(hex: string): Buffer {
  if (typeof hex !== 'string' || !USER_HEX_RE.test(hex)) {
    throw new SecretFormatError('user secret must be exactly 32 hex characters');
  }
  return Buffer.from(hex, 'hex');
}

/** A fresh 32-hex user secret from the injected CSPRNG (tweetnacl's randomBytes in the app). */
export function generateUserSecretHex(randomBytes: (n: number) => Uint8Array): string {
  const b = randomBytes(USER_SECRET_LEN);
  if (b.length !== USER_SECRET_LEN) {
    throw new SecretFormatError(`randomBytes returned ${b.length} bytes, expected ${USER_SECRET_LEN}`);
  }
  return bytesToHex(b);
}

function validDomain(domain: string): boolean {
  return domain.length > 0 && domain.length <= MAX_TLS_DOMAIN_LEN && DOMAIN_RE.test(domain);
}

/** Interprets raw secret bytes (the decoded hex or base64 form). */
function fromBytes(b: Buffer): ParsedClientSecret | undefined {
  if (b.length === USER_SECRET_LEN) {
    return { kind: 'classic', key: b, domain: undefined };
  }
  if (b.length === USER_SECRET_LEN + 1 && b[0] === SECURE_SECRET_PREFIX) {
    return { kind: 'secure', key: b.subarray(1), domain: undefined };
  }
  if (b.length > USER_SECRET_LEN + 1 && b[0] === TLS_SECRET_PREFIX) {
    const domain = b.subarray(USER_SECRET_LEN + 1).toString('latin1');
    if (!validDomain(domain)) return undefined;
    return { kind: 'tls', key: b.subarray(1, USER_SECRET_LEN + 1), domain };
  }
  return undefined;
}

function decodeBase64Strict(s: string): Buffer | undefined {
  if (!BASE64_RE.test(s)) return undefined;
  const body = s.replace(/=+$/, '');
  if (body.length % 4 === 1) return undefined;
  // Node's 'base64' decoder accepts both alphabets; the length check catches silent truncation.
  const out = Buffer.from(body.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return out.length === Math.floor((body.length * 3) / 4) ? out : undefined;
}

/**
 * Accepts what users paste from links: 32 hex (classic), `dd`+32 hex (secure),
 * `ee`+32 hex+hex(domain) (tls), or the base64/base64url encoding of the same bytes.
 */
export function parseClientSecret(s: string): ParsedClientSecret {
  if (typeof s !== 'string' || s.length === 0 || s.length > 1024) {
    throw new SecretFormatError('client secret must be a non-empty string of at most 1024 characters');
  }
  const asHex = hexToBytes(s);
  const viaHex = asHex === undefined ? undefined : fromBytes(asHex);
  if (viaHex !== undefined) return viaHex;
  const asB64 = decodeBase64Strict(s);
  const viaB64 = asB64 === undefined ? undefined : fromBytes(asB64);
  if (viaB64 !== undefined) return viaB64;
  throw new SecretFormatError('client secret is not 32 hex, dd+32 hex, ee+32 hex+domain hex, or base64 of those');
}

/** The lowercase-hex client secret for a mode, as it appears in links. */
export function formatClientSecret(kind: SecretKind, key: Uint8Array, domain?: string): string {
  if (key.length !== USER_SECRET_LEN) {
    throw new SecretFormatError(`secret key must be ${USER_SECRET_LEN} bytes, got ${key.length}`);
  }
  const k = bytesToHex(key);
  switch (kind) {
    case 'classic':
      return k;
    case 'secure':
      return `dd${k}`;
    case 'tls':
      if (domain === undefined || !validDomain(domain)) {
        throw new SecretFormatError('tls secret needs a printable ASCII domain of 1..253 characters');
      }
      return `ee${k}${Buffer.from(domain, 'latin1').toString('hex')}`;
    default: {
      const never: never = kind;
      throw new SecretFormatError(`unknown secret kind ${String(never)}`);
    }
  }
}
