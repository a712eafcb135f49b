/**
 * Key derivation of the Middle-End RPC link (net/net-crypto-aes.c aes_create_keys):
 *   s = nonce_srv | nonce_clt | clt_ts | srv_ip4 | clt_port | "CLIENT"/"SERVER" | clt_ip4 |
 *       srv_port | secret | nonce_srv | [clt_ip6 | srv_ip6 when the IPv4s are 0] | nonce_clt
 *   key = MD5(s[1:])[0:12] ‖ SHA1(s), iv = MD5(s[2:])
 * "clt" is the proxy (us), "srv" the ME. IPv4 addresses are host-order u32 written LE (so the
 * bytes are reversed from network order); ports are u16 LE. The direction label is the writer's
 * role: the client encrypts with "CLIENT" keys and decrypts with "SERVER" keys.
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { MeProtocolError } from './me-rpc.js';

export const PROXY_SECRET_MIN = 32;
export const PROXY_SECRET_MAX = 256;

export interface MeKdfInput {
  readonly nonceSrv: Uint8Array;
  readonly nonceClt: Uint8Array;
  /** The proxy's own RPC_NONCE timestamp. */
  readonly cltTs: number;
  /** 4 bytes, network order; all-zero (or absent) for IPv6 links. */
  readonly srvIp4?: Uint8Array | undefined;
  readonly cltIp4?: Uint8Array | undefined;
  readonly srvPort: number;
  readonly cltPort: number;
  /** 16 bytes each; used only when the IPv4 addresses are zero. */
  readonly srvIp6?: Uint8Array | undefined;
  readonly cltIp6?: Uint8Array | undefined;
  readonly secret: Uint8Array;
}

export interface AesKeyIv {
  readonly key: Buffer;
  readonly iv: Buffer;
}

function isZero4(b: Uint8Array | undefined): boolean {
  return b === undefined || (b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0);
}

/** Throws unless the proxy-secret has a length the ME accepts (MIN_PWD_LEN..MAX_PWD_LEN). */
export function validateProxySecret(secret: Uint8Array): void {
  if (secret.length < PROXY_SECRET_MIN || secret.length > PROXY_SECRET_MAX) {
    throw new MeProtocolError('MTE_ERR_ME_SECRET', `proxy-secret must be ${PROXY_SECRET_MIN}..${PROXY_SECRET_MAX} bytes, got ${secret.length}`);
  }
}

/** The KDF input string for one direction label. */
export function meKdfString(i: MeKdfInput, label: 'CLIENT' | 'SERVER'): Buffer {
  validateProxySecret(i.secret);
  if (i.nonceSrv.length !== 16 || i.nonceClt.length !== 16) throw new MeProtocolError('MTE_ERR_ME_HANDSHAKE', 'ME nonces must be 16 bytes');
  const v6 = isZero4(i.srvIp4);
  if (v6 !== isZero4(i.cltIp4)) throw new MeProtocolError('MTE_ERR_ME_HANDSHAKE', 'ME KDF needs both IPv4 addresses or neither');
  if (v6 && (i.srvIp6?.length !== 16 || i.cltIp6?.length !== 16)) throw new MeProtocolError('MTE_ERR_ME_HANDSHAKE', 'ME KDF over IPv6 needs both 16-byte addresses');
  const n = i.secret.length;
  const s = Buffer.alloc(70 + n + (v6 ? 32 : 0) + 16);
  s.set(i.nonceSrv, 0);
  s.set(i.nonceClt, 16);
  s.writeInt32LE(i.cltTs | 0, 32);
  if (!v6) {
    // host-order u32 stored little-endian == the network-order bytes reversed
    for (let k = 0; k < 4; k++) s[36 + k] = i.srvIp4![3 - k]!;
  }
  s.writeUInt16LE(i.cltPort & 0xffff, 40);
  s.write(label, 42, 'latin1');
  if (!v6) for (let k = 0; k < 4; k++) s[48 + k] = i.cltIp4![3 - k]!;
  s.writeUInt16LE(i.srvPort & 0xffff, 52);
  s.set(i.secret, 54);
  s.set(i.nonceSrv, 54 + n);
  let o = 70 + n;
  if (v6) {
    s.set(i.cltIp6!, o);
    s.set(i.srvIp6!, o + 16);
    o += 32;
  }
  s.set(i.nonceClt, o);
  return s;
}

export function meKdf(i: MeKdfInput, label: 'CLIENT' | 'SERVER'): AesKeyIv {
  const s = meKdfString(i, label);
  const md5a = createHash('md5').update(s.subarray(1)).digest();
  const sha1 = createHash('sha1').update(s).digest();
  const iv = createHash('md5').update(s.subarray(2)).digest();
  return { key: Buffer.concat([md5a.subarray(0, 12), sha1]), iv };
}

/** Both directions for one end of the link. */
export function meSessionKeys(i: MeKdfInput, role: 'client' | 'server'): { readonly encrypt: AesKeyIv; readonly decrypt: AesKeyIv } {
  const c = meKdf(i, 'CLIENT');
  const s = meKdf(i, 'SERVER');
  return role === 'client' ? { encrypt: c, decrypt: s } : { encrypt: s, decrypt: c };
}
