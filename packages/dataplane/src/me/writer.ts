/**
 * One long-lived RPC link to one ME endpoint ("writer"): TCP connect, RPC_NONCE, key derivation,
 * RPC_HANDSHAKE (asking for CRC32-C), then AES-256-CBC packets with seq + CRC checks both ways.
 * It carries many clients; routing by conn_id is the pool's job. Keepalive pings and the stall
 * watchdog live here so a silent ME is noticed even when no client talks.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  MeProtocolError,
  MeRpcStream,
  PROXY_REQ_FLAGS_AT,
  RPC_PROXY_ANS,
  RPC_ANS_PAYLOAD_AT,
  RPC_PACKET_BODY_AT,
  rpcPacketBody,
  applyCbcMany,
  type BlockCipher,
  RPC_CRYPTO_AES,
  RPCF_USE_CRC32C,
  decodeMeMessage,
  decodeRpcHandshake,
  decodeRpcNonce,
  encodePing,
  encodePong,
  encodeRpcHandshake,
  encodeRpcNonce,
  ipv4Mapped,
  meSessionKeys,
  parseIpv4,
  parseIpv6,
  proxySecretKeySelect,
  type MeMessage,
} from '@mtedge/protocol';
import { C, type WorkerStats } from '@mtedge/stats';
import type { DcEndpoint } from '../settings.js';
import { ReadSlab } from './read-slab.js';
import { WriteRing } from './write-ring.js';

/** A link carries many clients: senders are told to wait only past this much unsent (bytes). */
const LINK_HIGH_WATER = 1024 * 1024;

/** Writers of this thread with packets queued this turn, and the one immediate that flushes them. */
const pendingFlush = new Set<MeWriter>();
let groupTimer: NodeJS.Immediate | undefined;

/** Slab for outgoing batches; a batch over half of it (a link far behind) takes fresh memory. */
const WRITE_RING_BYTES = 1024 * 1024;
/** Smaller batches (keepalives, a quiet link) come from Node's pooled small allocations instead. */
const RING_MIN_BATCH = 8 * 1024;

/** The official client refuses an ME nonce whose clock is further off than this (seconds). */
const NONCE_SKEW_SECS = 30;

export type MeWriterState = 'connecting' | 'handshake' | 'ready' | 'closed';

export class MeWriterError extends Error {
  constructor(
    readonly code: 'MTE_ERR_ME_CONNECT' | 'MTE_ERR_ME_HANDSHAKE' | 'MTE_ERR_ME_TIMEOUT' | 'MTE_ERR_ME_STALLED' | 'MTE_ERR_ME_PROTOCOL' | 'MTE_ERR_ME_CLOSED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MeWriterError';
  }
}

export interface MeWriterOptions {
  readonly id: number;
  readonly dc: number;
  readonly endpoint: DcEndpoint;
  readonly secret: Buffer;
  readonly natIp: string | undefined;
  readonly connectTimeoutMs: number;
  readonly stallTimeoutMs: number;
  readonly keepaliveEnabled: boolean;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveJitterMs: number;
  /** Pool generation this writer was made for (status only). */
  readonly generation?: string;
  /** The worker's counter stripe (keepalive, reader EOF); absent in unit tests. */
  readonly stats?: WorkerStats | undefined;
}

export interface MeWriterEvents {
  ready(w: MeWriter): void;
  /** proxy_ans / simple_ack / close_ext / close_conn; pings are answered here. */
  message(w: MeWriter, m: MeMessage): void;
  /** A whole RPC packet holding an RPC_PROXY_ANS, not decoded (the pool routes it by conn id). */
  answer(w: MeWriter, packet: Buffer): void;
  drain(w: MeWriter): void;
  closed(w: MeWriter, err: MeWriterError | undefined): void;
}

function ip4Of(addr: string | undefined): Buffer | undefined {
  if (addr === undefined) return undefined;
  return parseIpv4(addr.startsWith('::ffff:') ? addr.slice(7) : addr);
}

export class MeWriter {
  state: MeWriterState = 'connecting';
  /** Conn ids bound to this writer. */
  readonly conns = new Set<bigint>();
  /** Set by the pool when a newer generation replaces this writer: no new binds. */
  draining = false;
  readonly startedAt = Date.now();
  readyAt: number | undefined;
  /** Our address as RPC_PROXY_REQ's "proxy ip" (v4-mapped): NAT IP when configured, else the local one. */
  ourIp16: Buffer = Buffer.alloc(16);
  /** Sent something since the last inbound packet (a request or a ping is owed an answer). */
  private awaitingSince: number | undefined;
  /** Keepalive round trip, exponential moving average (ms); undefined until a pong came back. */
  rttEmaMs: number | undefined;
  /** Our end of the link as the KDF saw it ("ip:port"), once connected. */
  localAddr: string | undefined;
  private pingId = 0n;
  private pingSentAt = 0;
  private lastTxAt = Date.now();
  private nextPingAt = 0;
  private readonly socket: net.Socket;
  private readonly stream = new MeRpcStream();
  private readonly myNonce = randomBytes(16);
  private readonly myTs = Math.floor(Date.now() / 1000);
  private timer: NodeJS.Timeout | undefined;
  private tick: NodeJS.Timeout | undefined;
  // Packets queued in this turn of the event loop, flushed together (one encryption pass, one
  // write) from setImmediate: a proxy-req header template + flags + payload, or a whole body.
  private readonly qTpl: (Buffer | undefined)[] = [];
  private readonly qFlags: number[] = [];
  private readonly qBody: Buffer[] = [];
  private readonly qLen: number[] = [];
  private qBytes = 0;
  /** In this turn's group flush. */
  private flushing = false;
  private closeAfterFlush = false;
  /** A sender was told to wait: it gets a drain even if the flush itself fits the socket. */
  private owesDrain = false;
  /** Made at the first big batch: an idle link never holds one. */
  private ring: WriteRing | undefined;
  /** The batch being built / sent this turn came from the ring (its write must release it). */
  private fromRing = false;
  private readonly allocBound = (n: number): Buffer => {
    const b = n < RING_MIN_BATCH ? undefined : (this.ring ??= new WriteRing(WRITE_RING_BYTES)).take(n);
    this.fromRing = b !== undefined;
    return b ?? Buffer.allocUnsafe(n);
  };
  private readonly releaseBound = (): void => this.ring?.release();
  private readonly fillBound = (i: number, out: Buffer, at: number): void => {
    const tpl = this.qTpl[i];
    if (tpl !== undefined) {
      tpl.copy(out, at);
      out.writeUInt32LE(this.qFlags[i]!, at + PROXY_REQ_FLAGS_AT);
      at += tpl.length;
    }
    this.qBody[i]!.copy(out, at);
  };

  constructor(
    readonly o: MeWriterOptions,
    private readonly events: MeWriterEvents,
  ) {
    // Reads land in a slab, not in Node's per-read buffers (which it copies when a read is short).
    const slab = new ReadSlab();
    this.socket = net.connect({
      host: o.endpoint.host,
      port: o.endpoint.port,
      noDelay: true,
      onread: {
        buffer: () => slab.next(),
        callback: (n, room) => {
          this.onData(slab.take(room as Buffer, n));
          return true;
        },
      },
    });
    this.socket.on('connect', () => this.onConnect());
    this.socket.on('drain', () => {
      this.owesDrain = false;
      this.events.drain(this);
    });
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      const code = this.state === 'connecting' ? 'MTE_ERR_ME_CONNECT' : 'MTE_ERR_ME_CLOSED';
      this.close(new MeWriterError(code, `ME ${this.label}: ${err.code ?? err.message}`, { cause: err }));
    });
    this.socket.on('close', () => {
      // The ME hung up on a working link (not us closing it).
      if (this.state === 'ready') this.bump(C.middleProxy.reader_eof_total);
      this.close(new MeWriterError('MTE_ERR_ME_CLOSED', `ME ${this.label}: connection closed${this.state === 'ready' ? '' : ' during handshake'}`));
    });
    this.timer = setTimeout(() => this.close(new MeWriterError('MTE_ERR_ME_TIMEOUT', `ME ${this.label}: no handshake within ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
  }

  get label(): string {
    const h = this.o.endpoint.host;
    return `dc=${this.o.dc} ${h.includes(':') ? `[${h}]` : h}:${this.o.endpoint.port}#${this.o.id}`;
  }

  get id(): number {
    return this.o.id;
  }

  private bump(counter: number): void {
    this.o.stats?.inc(counter);
  }

  private onConnect(): void {
    this.state = 'handshake';
    const la = this.socket.localAddress;
    if (la !== undefined) this.localAddr = la.includes(':') ? `[${la}]:${this.socket.localPort ?? 0}` : `${la}:${this.socket.localPort ?? 0}`;
    this.socket.write(this.stream.encode(encodeRpcNonce({ keySelect: proxySecretKeySelect(this.o.secret), schema: RPC_CRYPTO_AES, ts: this.myTs, nonce: this.myNonce })));
  }

  private onData(d: Buffer): void {
    if (this.state === 'closed') return;
    try {
      this.stream.push(d);
      this.awaitingSince = undefined;
      for (let p = this.stream.nextPacket(); p !== null; p = this.stream.nextPacket()) {
        if (this.state !== 'ready') this.onHandshakePacket(this.stream.lastSeq, rpcPacketBody(p));
        else if (p.length >= RPC_ANS_PAYLOAD_AT + 4 && p.readUInt32LE(RPC_PACKET_BODY_AT) === RPC_PROXY_ANS) this.events.answer(this, p);
        else this.onMessage(decodeMeMessage(rpcPacketBody(p)));
        if ((this.state as MeWriterState) === 'closed') return;
      }
    } catch (err) {
      const code = err instanceof MeProtocolError && err.code === 'MTE_ERR_ME_HANDSHAKE' ? 'MTE_ERR_ME_HANDSHAKE' : 'MTE_ERR_ME_PROTOCOL';
      this.close(new MeWriterError(code, `ME ${this.label}: ${(err as Error).message}`, { cause: err }));
    }
  }

  private onHandshakePacket(seq: number, body: Buffer): void {
    if (!this.stream.encrypted) {
      const n = decodeRpcNonce(body);
      if (n.schema !== RPC_CRYPTO_AES) throw new MeProtocolError('MTE_ERR_ME_HANDSHAKE', `ME crypto schema ${n.schema}`);
      if (n.keySelect !== proxySecretKeySelect(this.o.secret)) throw new MeProtocolError('MTE_ERR_ME_HANDSHAKE', 'ME answered with another key_select (proxy-secret mismatch)');
      if (Math.abs(n.ts - this.myTs) > NONCE_SKEW_SECS) throw new MeProtocolError('MTE_ERR_ME_HANDSHAKE', `ME clock off by ${n.ts - this.myTs} s`);
      this.stream.startCrypto(meSessionKeys(this.kdfInput(n.nonce), 'client'));
      const pid = { ip: 0, port: this.socket.localPort ?? 0, pid: process.pid & 0xffff, utime: this.myTs };
      const peer = { ip: 0, port: this.socket.remotePort ?? 0, pid: 0, utime: 0 };
      this.socket.write(this.stream.encode(encodeRpcHandshake({ flags: RPCF_USE_CRC32C, senderPid: pid, peerPid: peer })));
      return;
    }
    const h = decodeRpcHandshake(body);
    if (seq !== -1) throw new MeProtocolError('MTE_ERR_ME_HANDSHAKE', `handshake at seq ${seq}`);
    if (h.type === 'error') throw new MeProtocolError('MTE_ERR_ME_HANDSHAKE', `ME refused the handshake (error ${h.err.errorCode})`);
    if ((h.hs.flags & 0xff) !== 0) throw new MeProtocolError('MTE_ERR_ME_HANDSHAKE', `ME handshake flags ${h.hs.flags.toString(16)}`);
    if (h.hs.flags & RPCF_USE_CRC32C) this.stream.setCrc('crc32c');
    this.state = 'ready';
    this.readyAt = Date.now();
    const ours = this.o.natIp ?? this.socket.localAddress ?? '';
    const v4 = ip4Of(ours);
    this.ourIp16 = v4 ? ipv4Mapped(v4) : (parseIpv6(ours) ?? Buffer.alloc(16));
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.scheduleNextPing();
    const every = Math.max(100, Math.min(1000, Math.floor(this.o.stallTimeoutMs / 4)));
    this.tick = setInterval(() => this.onTick(), every);
    this.tick.unref();
    this.events.ready(this);
  }

  private kdfInput(nonceSrv: Buffer): Parameters<typeof meSessionKeys>[0] {
    const s = this.socket;
    const srv4 = ip4Of(s.remoteAddress);
    const clt4 = this.o.natIp !== undefined ? parseIpv4(this.o.natIp) : ip4Of(s.localAddress);
    const common = { nonceSrv, nonceClt: this.myNonce, cltTs: this.myTs, srvPort: s.remotePort ?? 0, cltPort: s.localPort ?? 0, secret: this.o.secret };
    if (srv4 && clt4) return { ...common, srvIp4: srv4, cltIp4: clt4 };
    return { ...common, srvIp6: parseIpv6(s.remoteAddress ?? '') ?? Buffer.alloc(16), cltIp6: parseIpv6(s.localAddress ?? '') ?? Buffer.alloc(16) };
  }

  private onMessage(m: MeMessage): void {
    if (m.type === 'ping') {
      this.sendBodies([encodePong(m.pingId)], false);
      return;
    }
    if (m.type === 'pong') {
      if (m.pingId === this.pingId && this.pingSentAt > 0) {
        const rtt = Date.now() - this.pingSentAt;
        this.rttEmaMs = this.rttEmaMs === undefined ? rtt : this.rttEmaMs * 0.8 + rtt * 0.2;
        this.pingSentAt = 0;
      }
      this.bump(C.middleProxy.keepalive_pong_total);
      return;
    }
    if (m.type === 'unknown' || m.type === 'proxy_req') return;
    this.events.message(this, m);
  }

  private scheduleNextPing(): void {
    const j = this.o.keepaliveJitterMs > 0 ? Math.floor(Math.random() * this.o.keepaliveJitterMs) : 0;
    this.nextPingAt = Date.now() + this.o.keepaliveIntervalMs + j;
  }

  private onTick(): void {
    if (this.state !== 'ready') return;
    const now = Date.now();
    if (this.awaitingSince !== undefined && now - this.awaitingSince > this.o.stallTimeoutMs) {
      this.bump(C.middleProxy.keepalive_timeout_total);
      this.close(new MeWriterError('MTE_ERR_ME_STALLED', `ME ${this.label}: no answer for ${now - this.awaitingSince} ms`));
      return;
    }
    if (this.o.keepaliveEnabled && now >= this.nextPingAt) {
      this.scheduleNextPing();
      this.pingId = randomBytes(8).readBigUInt64LE(0);
      this.pingSentAt = now;
      this.bump(C.middleProxy.keepalive_sent_total);
      this.sendBodies([encodePing(this.pingId)], true);
    }
  }

  /**
   * Queues whole message bodies (multiples of 4 bytes); `expectAnswer` arms the stall watchdog.
   * Returns the link's backpressure state (false = wait for the drain event).
   */
  sendBodies(bodies: readonly Buffer[], expectAnswer: boolean): boolean {
    if (this.state !== 'ready' || bodies.length === 0) return false;
    for (const b of bodies) this.enqueue(undefined, 0, b);
    return this.queued(expectAnswer);
  }

  /**
   * Queues one RPC_PROXY_REQ: `template` is the client's header (its flags word is overwritten
   * with `flags`), `payload` the frame, a view that must stay unchanged until the flush (this
   * turn of the event loop). Same return as sendBodies.
   */
  sendProxyReq(template: Buffer, flags: number, payload: Buffer): boolean {
    if (this.state !== 'ready') return false;
    this.enqueue(template, flags, payload);
    return this.queued(true);
  }

  private enqueue(tpl: Buffer | undefined, flags: number, body: Buffer): void {
    const n = (tpl?.length ?? 0) + body.length;
    this.qTpl.push(tpl);
    this.qFlags.push(flags);
    this.qBody.push(body);
    this.qLen.push(n);
    this.qBytes += n;
  }

  private queued(expectAnswer: boolean): boolean {
    const now = Date.now();
    if (expectAnswer && this.awaitingSince === undefined) this.awaitingSince = now;
    this.lastTxAt = now;
    if (!this.flushing) {
      this.flushing = true;
      pendingFlush.add(this);
      groupTimer ??= setImmediate(MeWriter.flushAll);
    }
    const ok = this.socket.writableLength + this.qBytes < LINK_HIGH_WATER;
    if (!ok) this.owesDrain = true;
    return ok;
  }

  /** This turn's packets as one plaintext batch (encrypted by the group flush), or undefined. */
  private takeBatch(): Buffer | undefined {
    this.flushing = false;
    if (this.state !== 'ready' || this.qLen.length === 0) {
      this.clearQueue();
      return undefined;
    }
    this.fromRing = false;
    const out = this.stream.encodeMany(this.qLen, this.fillBound, this.allocBound, false);
    this.clearQueue();
    return out;
  }

  private sendBatch(out: Buffer): void {
    if (this.state !== 'ready') return;
    try {
      const ok = this.fromRing ? this.socket.write(out, this.releaseBound) : this.socket.write(out);
      if (this.closeAfterFlush) return this.close();
      if (ok && this.owesDrain) {
        this.owesDrain = false;
        this.events.drain(this);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * Closes once what is queued has been handed to the socket (a draining writer's last
   * RPC_CLOSE_CONN must still go out); at once when nothing is queued.
   */
  closeWhenFlushed(): void {
    if (this.flushing) this.closeAfterFlush = true;
    else this.close();
  }

  /**
   * Every writer of this thread with queued packets, flushed together: batches built, then
   * encrypted in one call (independent CBC streams interleave on the AES unit), then written.
   */
  private static flushAll(): void {
    groupTimer = undefined;
    const writers = [...pendingFlush];
    pendingFlush.clear();
    const owners: MeWriter[] = [];
    const ciphers: BlockCipher[] = [];
    const batches: Buffer[] = [];
    const plain: [MeWriter, Buffer][] = [];
    for (const w of writers) {
      // One writer's failure closes that writer, never the worker or the others' turn.
      try {
        const b = w.takeBatch();
        if (b === undefined) continue;
        const enc = w.stream.encryptor;
        if (enc === undefined) plain.push([w, b]);
        else {
          owners.push(w);
          ciphers.push(enc);
          batches.push(b);
        }
      } catch (err) {
        w.fail(err);
      }
    }
    try {
      applyCbcMany(ciphers, batches);
    } catch (err) {
      for (const w of owners) w.fail(err);
      return;
    }
    for (let i = 0; i < owners.length; i++) owners[i]!.sendBatch(batches[i]!);
    for (const [w, b] of plain) w.sendBatch(b);
  }

  private fail(err: unknown): void {
    this.close(new MeWriterError('MTE_ERR_ME_PROTOCOL', `ME ${this.label}: ${(err as Error).message ?? String(err)}`, { cause: err }));
  }


  private clearQueue(): void {
    this.qTpl.length = 0;
    this.qFlags.length = 0;
    this.qBody.length = 0;
    this.qLen.length = 0;
    this.qBytes = 0;
  }

  /** Owed an answer for over half the stall budget: do not give it new clients. */
  get suspect(): boolean {
    return this.awaitingSince !== undefined && Date.now() - this.awaitingSince > this.o.stallTimeoutMs / 2;
  }

  get idleMs(): number {
    return Date.now() - this.lastTxAt;
  }

  close(err?: MeWriterError): void {
    if (this.state === 'closed') return;
    // An ME that hangs up right after our encrypted RPC_HANDSHAKE could not decrypt it: a
    // proxy-secret or KDF-address mismatch, which is how a real ME rejects a handshake.
    if (this.state === 'handshake' && this.stream.encrypted && err?.code === 'MTE_ERR_ME_CLOSED') this.bump(C.middleProxy.handshake_reject_total);
    this.state = 'closed';
    if (this.timer) clearTimeout(this.timer);
    if (this.tick) clearInterval(this.tick);
    pendingFlush.delete(this);
    this.timer = undefined;
    this.tick = undefined;
    this.flushing = false;
    this.clearQueue();
    this.socket.destroy();
    this.events.closed(this, err);
  }
}
