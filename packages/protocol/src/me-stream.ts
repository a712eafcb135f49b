/**
 * One end of a Middle-End RPC link without the socket: outgoing sequence numbers, the CRC kind,
 * the switch from plaintext (RPC_NONCE) to AES-256-CBC (everything after), padding to whole
 * blocks, and the inbound packet reader. Both our ME client and the testkit's fake ME use it.
 */
import { Buffer } from 'node:buffer';
import { createCipheriv, createDecipheriv, type Cipher, type Decipher } from 'node:crypto';
import type { CrcKind } from './me-crc.js';
import type { AesKeyIv } from './me-kdf.js';
import { MeProtocolError, RPC_DEFAULT_MAX_PACKET, RPC_SEQ_NONCE, RpcPacketReader, encodeRpcPacket, type RpcPacket } from './me-rpc.js';

export class MeRpcStream {
  private enc: Cipher | undefined;
  private dec: Decipher | undefined;
  private outSeq = RPC_SEQ_NONCE;
  private writeCrc: CrcKind = 'crc32';
  private readonly reader: RpcPacketReader;

  constructor(maxPacket: number = RPC_DEFAULT_MAX_PACKET) {
    this.reader = new RpcPacketReader(RPC_SEQ_NONCE, maxPacket);
  }

  get encrypted(): boolean {
    return this.enc !== undefined;
  }

  /** Both directions switch together, right after the handshake packets. */
  setCrc(kind: CrcKind): void {
    this.writeCrc = kind;
    this.reader.crc = kind;
  }

  /**
   * Turns AES on for both directions. Bytes already buffered past the nonce can only be
   * plaintext padding words (a peer sends nothing else before it sees our nonce); anything else
   * is refused.
   */
  startCrypto(keys: { readonly encrypt: AesKeyIv; readonly decrypt: AesKeyIv }): void {
    if (this.enc) throw new MeProtocolError('MTE_ERR_ME_HANDSHAKE', 'ME crypto already started');
    this.enc = createCipheriv('aes-256-cbc', keys.encrypt.key, keys.encrypt.iv).setAutoPadding(false);
    this.dec = createDecipheriv('aes-256-cbc', keys.decrypt.key, keys.decrypt.iv).setAutoPadding(false);
    const rest = this.reader.take();
    for (let o = 0; o < rest.length; o += 4) {
      if (rest.length - o < 4 || rest.readUInt32LE(o) !== 4) throw new MeProtocolError('MTE_ERR_ME_HANDSHAKE', 'unexpected plaintext after RPC_NONCE');
    }
  }

  /**
   * One packet, encrypted and padded to the AES block once crypto is on. `crcXor` corrupts the
   * checksum on purpose (fault-injection in tests only).
   */
  encode(body: Uint8Array | readonly Uint8Array[], crcXor = 0): Buffer {
    const pkt = encodeRpcPacket(this.outSeq++, body, this.writeCrc, this.enc !== undefined);
    if (crcXor !== 0) {
      const at = pkt.readUInt32LE(0) - 4;
      pkt.writeUInt32LE((pkt.readUInt32LE(at) ^ crcXor) >>> 0, at);
    }
    return this.enc ? this.enc.update(pkt) : pkt;
  }

  /** Several packets in one cipher call (fewer small `update()`s on a busy link). */
  encodeBatch(bodies: readonly (Uint8Array | readonly Uint8Array[])[]): Buffer {
    const pkts = bodies.map((b) => encodeRpcPacket(this.outSeq++, b, this.writeCrc, this.enc !== undefined));
    const all = pkts.length === 1 ? pkts[0]! : Buffer.concat(pkts);
    return this.enc ? this.enc.update(all) : all;
  }

  push(chunk: Buffer): void {
    this.reader.push(this.dec ? this.dec.update(chunk) : chunk);
  }

  /** Next inbound packet or null; throws MeProtocolError on length, CRC or sequence errors. */
  next(): RpcPacket | null {
    return this.reader.next();
  }
}
