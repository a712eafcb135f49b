// An obfuscated2 implementation independent of @mtedge/protocol, written from PROTOCOL-NOTES.md
// ("obfuscated2"). The testkit is the oracle of the end-to-end suites: if it shared the proxy's
// codec, a symmetric bug (say, a wrong key derivation) would pass every test.
import { createCipheriv, createHash, randomBytes as nodeRandomBytes, type Cipher, type Decipher } from 'node:crypto';

export type ProtoTag = 'abridged' | 'intermediate' | 'padded';

export const OBF2_INIT_LENGTH = 64;

const TAG_BYTES: Readonly<Record<ProtoTag, number>> = {
  abridged: 0xefefefef,
  intermediate: 0xeeeeeeee,
  padded: 0xdddddddd,
};

export function tagFromWord(word: number): ProtoTag | null {
  switch (word >>> 0) {
    case 0xefefefef: return 'abridged';
    case 0xeeeeeeee: return 'intermediate';
    case 0xdddddddd: return 'padded';
    default: return null;
  }
}

export interface Obf2Streams {
  readonly tag: ProtoTag;
  readonly dcId: number;
  /** Encrypts what this side sends (initiator: already past the 64 init bytes). */
  readonly encrypt: Cipher;
  /** Decrypts what this side receives (acceptor: already past the 64 init bytes). */
  readonly decrypt: Decipher;
}

function keyFor(material: Buffer, secret: Uint8Array | undefined): Buffer {
  if (secret === undefined) return material;
  return createHash('sha256').update(material).update(secret).digest();
}

/** The first-64-bytes rules a real client follows so the init can't look like HTTP/TLS/other tags. */
export function isAcceptableInit(init: Uint8Array): boolean {
  if (init[0] === 0xef) return false;
  // Stricter than TDLib (which only avoids 16 03 01 02 and four HTTP words): the edge takes any
  // 16 03 01 for a TLS hello and nine HTTP words for a probe, and a test client must never be
  // masked by chance.
  if (init[0] === 0x16 && init[1] === 0x03 && init[2] === 0x01) return false;
  const first = Buffer.from(init.buffer, init.byteOffset, 4).readUInt32LE(0);
  const forbidden = [
    0x44414548, 0x54534f50, 0x20544547, 0x4954504f, 0x20545550, 0x454c4544, 0x43544150, 0x4e4e4f43, 0x20495250,
    0xdddddddd, 0xeeeeeeee, 0x02010316,
  ];
  if (forbidden.includes(first)) return false;
  return !(init[4] === 0 && init[5] === 0 && init[6] === 0 && init[7] === 0);
}

export interface Obf2InitiateOptions {
  tag: ProtoTag;
  dcId: number;
  /** 16-byte user secret; omit for the proxy→DC leg (direct mode). */
  secret?: Uint8Array;
  randomBytes?: (n: number) => Buffer;
}

/** Client side: a fresh 64-byte init plus the two cipher streams. */
export function obf2Initiate(o: Obf2InitiateOptions): { init: Buffer; streams: Obf2Streams } {
  const rnd = o.randomBytes ?? nodeRandomBytes;
  let init: Buffer;
  // Bounded: the rejection probability per draw is ~2^-8, 64 tries never all fail in practice.
  for (let i = 0; ; i++) {
    init = Buffer.from(rnd(OBF2_INIT_LENGTH));
    if (isAcceptableInit(init)) break;
    if (i >= 64) throw new Error('randomBytes never produced an acceptable obfuscated2 init');
  }
  init.writeUInt32LE(TAG_BYTES[o.tag], 56);
  init.writeInt16LE(o.dcId, 60);
  const rev = Buffer.from(init.subarray(8, 56)).reverse();
  const encrypt = createCipheriv('aes-256-ctr', keyFor(init.subarray(8, 40), o.secret), init.subarray(40, 56));
  const decrypt = createCipheriv('aes-256-ctr', keyFor(rev.subarray(0, 32), o.secret), rev.subarray(32, 48));
  const enc = encrypt.update(init);
  enc.copy(init, 56, 56, 64);
  return { init, streams: { tag: o.tag, dcId: o.dcId, encrypt, decrypt } };
}

/** Receiving side: decodes an init, or null when the tag is not one of the three. */
export function obf2Accept(init: Uint8Array, secret?: Uint8Array): Obf2Streams | null {
  if (init.length < OBF2_INIT_LENGTH) return null;
  const raw = Buffer.from(init.buffer, init.byteOffset, OBF2_INIT_LENGTH);
  const rev = Buffer.from(raw.subarray(8, 56)).reverse();
  const decrypt = createCipheriv('aes-256-ctr', keyFor(raw.subarray(8, 40), secret), raw.subarray(40, 56));
  const plain = decrypt.update(raw);
  const tag = tagFromWord(plain.readUInt32LE(56));
  if (tag === null) return null;
  const dcId = plain.readInt16LE(60);
  // The reverse stream starts at counter 0: the init never travelled that way (TDLib
  // ObfuscatedTransport, mtprotoproxy handshake: neither advances it).
  const encrypt = createCipheriv('aes-256-ctr', keyFor(rev.subarray(0, 32), secret), rev.subarray(32, 48));
  return { tag, dcId, encrypt, decrypt };
}
