/**
 * One end of a Middle-End RPC link without the socket: outgoing sequence numbers, the CRC kind,
 * the switch from plaintext (RPC_NONCE) to AES-256-CBC (everything after), padding to whole
 * blocks, and the inbound packet reader. Both our ME client and the testkit's fake ME use it.
 */
import { Buffer } from 'node:buffer';
import { createCbc, type BlockCipher } from './me-cbc.js';
import { rpcCrc, type CrcKind } from './me-crc.js';
import type { AesKeyIv } from './me-kdf.js';
import { MeProtocolError, RPC_DEFAULT_MAX_PACKET, RPC_SEQ_NONCE, RpcPacketReader, type RpcPacket } from './me-rpc.js';

const BLOCK = 16;
const PAD_WORD = 4;
const PACKET_OVERHEAD = 12;

/** Writes body `i` (exactly the length it was given) at `at` of `out`. */
export type RpcBodyFill = (i: number, out: Buffer, at: number) => void;

export class MeRpcStream {
  private enc: BlockCipher | undefined;
  private dec: BlockCipher | undefined;
  private outSeq = RPC_SEQ_NONCE;
  private writeCrc: CrcKind = 'crc32';
  private readonly reader: RpcPacketReader;
  /** Ciphertext bytes short of a whole block, held until the next chunk completes it. */
  private readonly carry = Buffer.alloc(BLOCK);
  private carryLen = 0;

  constructor(maxPacket: number = RPC_DEFAULT_MAX_PACKET) {
    this.reader = new RpcPacketReader(RPC_SEQ_NONCE, maxPacket);
  }

  get encrypted(): boolean {
    return this.enc !== undefined;
  }

  /** The outgoing cipher, for a caller that encrypts unsealed batches itself (encodeMany, seal false). */
  get encryptor(): BlockCipher | undefined {
    return this.enc;
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
    this.enc = createCbc(keys.encrypt.key, keys.encrypt.iv, false);
    this.dec = createCbc(keys.decrypt.key, keys.decrypt.iv, true);
    const rest = this.reader.take();
    for (let o = 0; o < rest.length; o += 4) {
      if (rest.length - o < 4 || rest.readUInt32LE(o) !== 4) throw new MeProtocolError('MTE_ERR_ME_HANDSHAKE', 'unexpected plaintext after RPC_NONCE');
    }
  }

  /**
   * One packet, encrypted and padded to the AES block once crypto is on. `crcXor` corrupts the
   * checksum and `seqSkip` jumps the sequence number, on purpose (fault injection in tests only).
   */
  encode(body: Uint8Array | readonly Uint8Array[], crcXor = 0, seqSkip = 0): Buffer {
    this.outSeq += seqSkip;
    const pkt = this.encodeBatch([body], false);
    if (crcXor !== 0) {
      const at = pkt.readUInt32LE(0) - 4;
      pkt.writeUInt32LE((pkt.readUInt32LE(at) ^ crcXor) >>> 0, at);
    }
    this.enc?.apply(pkt);
    return pkt;
  }

  /** Several packets in one buffer and one cipher pass. */
  encodeBatch(bodies: readonly (Uint8Array | readonly Uint8Array[])[], seal = true): Buffer {
    const lengths = bodies.map((b) => (b instanceof Uint8Array ? b.length : b.reduce((n, p) => n + p.length, 0)));
    return this.encodeMany(
      lengths,
      (i, out, at) => {
        const b = bodies[i]!;
        if (b instanceof Uint8Array) out.set(b, at);
        else for (const p of b) (out.set(p, at), (at += p.length));
      },
      Buffer.allocUnsafe,
      seal,
    );
  }

  /**
   * Packets of the given body lengths (multiples of 4) laid out in one allocation, bodies written
   * by `fill`; then CRCs, padding words up to the next block (only at the end: the CBC stream
   * runs across packets) and one in-place encryption. The fewer, larger writes an ME link gets,
   * the less it costs per byte. `alloc` may hand out reused memory (it must return `size` bytes).
   * With `seal` false the batch is left plaintext: the caller must run it through `encryptor`
   * (before anything else is encoded) — so several links can be encrypted together.
   */
  encodeMany(lengths: readonly number[], fill: RpcBodyFill, alloc: (size: number) => Buffer = Buffer.allocUnsafe, seal = true): Buffer {
    let total = 0;
    for (const n of lengths) {
      if (n % 4 !== 0) throw new MeProtocolError('MTE_ERR_ME_MESSAGE_FORMAT', `RPC body length ${n} is not a multiple of 4`);
      total += n + PACKET_OVERHEAD;
    }
    const size = this.enc ? (total + BLOCK - 1) & ~(BLOCK - 1) : total;
    const out = alloc(size);
    let o = 0;
    for (let i = 0; i < lengths.length; i++) {
      const n = lengths[i]!;
      const start = o;
      out.writeUInt32LE(n + PACKET_OVERHEAD, o);
      out.writeInt32LE(this.outSeq++, o + 4);
      fill(i, out, o + 8);
      o += 8 + n;
      out.writeUInt32LE(rpcCrc(this.writeCrc, out, start, o), o);
      o += 4;
    }
    for (; o < size; o += 4) out.writeUInt32LE(PAD_WORD, o);
    if (seal) this.enc?.apply(out);
    return out;
  }

  /**
   * Takes ownership of `chunk`: once crypto is on it is decrypted where it lies (whole blocks;
   * a trailing partial block waits for the next chunk).
   */
  push(chunk: Buffer): void {
    const dec = this.dec;
    if (!dec) {
      this.reader.push(chunk);
      return;
    }
    let off = 0;
    if (this.carryLen > 0) {
      off = Math.min(BLOCK - this.carryLen, chunk.length);
      chunk.copy(this.carry, this.carryLen, 0, off);
      this.carryLen += off;
      if (this.carryLen < BLOCK) return;
      const block = Buffer.from(this.carry);
      dec.apply(block);
      this.reader.push(block);
      this.carryLen = 0;
    }
    const end = off + ((chunk.length - off) & ~(BLOCK - 1));
    if (end > off) {
      const whole = chunk.subarray(off, end);
      dec.apply(whole);
      this.reader.push(whole);
    }
    if (end < chunk.length) {
      chunk.copy(this.carry, 0, end);
      this.carryLen = chunk.length - end;
    }
  }

  /** Next inbound packet or null; throws MeProtocolError on length, CRC or sequence errors. */
  next(): RpcPacket | null {
    return this.reader.next();
  }

  /** Next inbound packet as one view (see RpcPacketReader.nextPacket); its seq is in `lastSeq`. */
  nextPacket(): Buffer | null {
    return this.reader.nextPacket();
  }

  get lastSeq(): number {
    return this.reader.lastSeq;
  }
}
