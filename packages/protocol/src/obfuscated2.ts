import { Buffer } from 'node:buffer';
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  randomBytes as cryptoRandomBytes,
  type Cipher,
  type Decipher,
} from 'node:crypto';

/** PROTOCOL-NOTES "obfuscated2": the client's first 64 bytes. */
export const OBF2_INIT_LEN = 64;
export const PROTO_TAG_ABRIDGED = 0xefefefef;
export const PROTO_TAG_INTERMEDIATE = 0xeeeeeeee;
export const PROTO_TAG_PADDED = 0xdddddddd;

// Offsets inside the init: 8 skipped bytes, 32-byte key, 16-byte IV, 4-byte tag, 2-byte dc, 2 spare.
const KEY_POS = 8;
const KEY_LEN = 32;
const IV_LEN = 16;
const TAG_POS = 56;
const DC_POS = 60;

export type ProtoTag = 'abridged' | 'intermediate' | 'padded';

export function protoTagOf(u32: number): ProtoTag | undefined {
  switch (u32 >>> 0) {
    case PROTO_TAG_ABRIDGED:
      return 'abridged';
    case PROTO_TAG_INTERMEDIATE:
      return 'intermediate';
    case PROTO_TAG_PADDED:
      return 'padded';
    default:
      return undefined;
  }
}

export function protoTagValue(tag: ProtoTag): number {
  switch (tag) {
    case 'abridged':
      return PROTO_TAG_ABRIDGED;
    case 'intermediate':
      return PROTO_TAG_INTERMEDIATE;
    case 'padded':
      return PROTO_TAG_PADDED;
    default: {
      const never: never = tag;
      throw new TypeError(`unknown proto tag ${String(never)}`);
    }
  }
}

/** The minimal surface of a CTR stream; node's Cipher/Decipher satisfy it. */
export interface CtrCipher {
  update(data: Uint8Array): Buffer;
}

/**
 * `encrypt` is our outgoing stream, `decrypt` the peer's incoming stream. The stream that carried
 * the 64-byte init on the wire (the peer's for accept, ours for initiate) is already advanced past
 * it; the opposite direction starts at counter 0, because the init never travelled that way
 * (official MTProxy, mtprotoproxy `do_direct_handshake`, TDLib all agree).
 */
export interface Obf2Session {
  tag: ProtoTag;
  dcId: number;
  encrypt: Cipher;
  decrypt: Decipher;
  /** Keys and start offsets of both streams, for an in-place cipher that replaces encrypt/decrypt. */
  material: Obf2KeyMaterial;
}

export interface Obf2KeyMaterial {
  encryptKey: Buffer;
  encryptIv: Buffer;
  /** Bytes of the outgoing stream already consumed by the init (64 or 0). */
  encryptSkip: number;
  decryptKey: Buffer;
  decryptIv: Buffer;
  decryptSkip: number;
}

function sha256(a: Uint8Array, b: Uint8Array): Buffer {
  return createHash('sha256').update(a).update(b).digest();
}

interface KeyIv {
  key: Buffer;
  iv: Buffer;
}

/** Forward = init[8:56] as written; reverse = the same 48 bytes reversed (the other direction). */
function deriveKeys(init: Uint8Array, secret: Uint8Array | undefined): { forward: KeyIv; reverse: KeyIv } {
  const fwd = Buffer.from(init.subarray(KEY_POS, KEY_POS + KEY_LEN + IV_LEN));
  const rev = Buffer.from(fwd).reverse();
  const mk = (src: Buffer): KeyIv => {
    const prekey = src.subarray(0, KEY_LEN);
    return {
      key: secret === undefined ? Buffer.from(prekey) : sha256(prekey, secret),
      iv: Buffer.from(src.subarray(KEY_LEN, KEY_LEN + IV_LEN)),
    };
  };
  return { forward: mk(fwd), reverse: mk(rev) };
}

/**
 * Receiving side of the handshake: the proxy facing a client (with the user's 16-byte secret) or
 * a fake DC (no secret). Returns null when the decrypted tag is not one of the three; never throws
 * on garbage input.
 */
export function acceptObfuscated2(init: Uint8Array, secret?: Uint8Array): Obf2Session | null {
  if (!(init instanceof Uint8Array) || init.length < OBF2_INIT_LEN) return null;
  const head = init.subarray(0, OBF2_INIT_LEN);
  const { forward, reverse } = deriveKeys(head, secret);
  const decrypt = createDecipheriv('aes-256-ctr', forward.key, forward.iv);
  const plain = decrypt.update(head);
  const tag = protoTagOf(plain.readUInt32LE(TAG_POS));
  if (tag === undefined) return null;
  const dcId = plain.readInt16LE(DC_POS);
  const material = { encryptKey: reverse.key, encryptIv: reverse.iv, encryptSkip: 0, decryptKey: forward.key, decryptIv: forward.iv, decryptSkip: OBF2_INIT_LEN };
  // Created on first use: a proxy that relays with in-place streams from `material` never needs it.
  let encrypt: Cipher | undefined;
  return {
    tag,
    dcId,
    decrypt,
    get encrypt(): Cipher {
      return (encrypt ??= createCipheriv('aes-256-ctr', reverse.key, reverse.iv));
    },
    material,
  };
}

// First-word values a client must avoid so the init is not mistaken for HTTP, a transport tag or TLS.
const FORBIDDEN_FIRST_WORDS = new Set<number>([
  0x44414548, // 'HEAD'
  0x54534f50, // 'POST'
  0x20544547, // 'GET '
  0x4954504f, // 'OPTI'
  PROTO_TAG_PADDED,
  PROTO_TAG_INTERMEDIATE,
  0x02010316, // 16 03 01 02: looks like a TLS handshake record
]);

/** True when `init` obeys the random-prefix rules real clients follow (PROTOCOL-NOTES). */
export function isValidObf2InitPrefix(init: Uint8Array): boolean {
  if (init.length < 8) return false;
  if (init[0] === 0xef) return false;
  const view = new DataView(init.buffer, init.byteOffset, init.byteLength);
  if (FORBIDDEN_FIRST_WORDS.has(view.getUint32(0, true))) return false;
  return view.getUint32(4, true) !== 0;
}

export interface InitiateObf2Options {
  tag: ProtoTag;
  dcId: number;
  secret?: Uint8Array;
  randomBytes?: (n: number) => Uint8Array;
}

/**
 * Initiating side: the proxy dialling a DC (no secret) or a client simulator (with secret).
 * `init` is the 64 bytes for the wire; `session.encrypt` has already consumed them.
 */
export function initiateObfuscated2(o: InitiateObf2Options): { init: Buffer; session: Obf2Session } {
  if (!Number.isInteger(o.dcId) || o.dcId < -32768 || o.dcId > 32767) {
    throw new RangeError(`dcId must be an int16, got ${String(o.dcId)}`);
  }
  const rnd = o.randomBytes ?? cryptoRandomBytes;
  let init: Buffer;
  // A bounded loop: a valid prefix is overwhelmingly likely; a broken RNG must not hang us.
  for (let attempt = 0; ; attempt++) {
    const r = rnd(OBF2_INIT_LEN);
    if (r.length !== OBF2_INIT_LEN) throw new RangeError(`randomBytes returned ${r.length} bytes`);
    init = Buffer.from(r);
    if (isValidObf2InitPrefix(init)) break;
    if (attempt >= 1000) throw new Error('randomBytes keeps producing forbidden obfuscated2 prefixes');
  }
  init.writeUInt32LE(protoTagValue(o.tag), TAG_POS);
  init.writeInt16LE(o.dcId, DC_POS);
  const { forward, reverse } = deriveKeys(init, o.secret);
  const encrypt = createCipheriv('aes-256-ctr', forward.key, forward.iv);
  const enc = encrypt.update(init);
  // Only the tag/dc tail goes out encrypted; the random head stays plain so the peer can derive keys.
  enc.copy(init, TAG_POS, TAG_POS, OBF2_INIT_LEN);
  const material = { encryptKey: forward.key, encryptIv: forward.iv, encryptSkip: OBF2_INIT_LEN, decryptKey: reverse.key, decryptIv: reverse.iv, decryptSkip: 0 };
  let decrypt: Decipher | undefined;
  const session: Obf2Session = {
    tag: o.tag,
    dcId: o.dcId,
    encrypt,
    get decrypt(): Decipher {
      return (decrypt ??= createDecipheriv('aes-256-ctr', reverse.key, reverse.iv));
    },
    material,
  };
  return { init, session };
}

/**
 * Tries each user secret in order (the proxy does not know the user yet); the first whose
 * decryption yields a valid tag wins. A false match has odds of ~3 / 2^32 per secret.
 */
export function acceptObfuscated2Any(
  init: Uint8Array,
  secrets: readonly Uint8Array[],
): { index: number; session: Obf2Session } | null {
  for (let index = 0; index < secrets.length; index++) {
    const session = acceptObfuscated2(init, secrets[index]);
    if (session !== null) return { index, session };
  }
  return null;
}
