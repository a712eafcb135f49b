// A fake Telegram DC: speaks the DC side of obfuscated2 (no secret), then echoes, sinks, or plays
// the first step of MTProto auth. Tests point the proxy's DC addresses here.
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { TestkitProtocolError } from './errors.js';
import { Waiters } from './internal/waiters.js';
import { buildResPq, parseReqPq } from './mtproto-respq.js';
import { DEFAULT_MAX_FRAME, FrameReader, frameEncode } from './wire/framing.js';
import { OBF2_INIT_LENGTH, obf2Accept, type Obf2Streams, type ProtoTag } from './wire/obf2.js';

/** 'refuse' closes every new connection at once, to play a dead DC. */
export type FakeDcMode = 'echo' | 'sink' | 'mtproto' | 'refuse';

export interface FakeDcOptions {
  host?: string;
  port?: number;
  mode?: FakeDcMode;
  /** Accept and read, but never send a byte (a DC that hangs). */
  stall?: boolean;
  /** Frame length cap in 'mtproto' mode. */
  maxFrame?: number;
  /** Oldest frames are dropped past this many, so a long soak can't grow memory without end. */
  maxRecordedFrames?: number;
}

export interface FakeDcConnection {
  readonly id: number;
  readonly dcId: number;
  readonly tag: ProtoTag;
  bytesIn: number;
  bytesOut: number;
  open: boolean;
}

export interface FakeDcFrame {
  readonly connId: number;
  readonly dcId: number;
  readonly tag: ProtoTag;
  readonly payload: Buffer;
  readonly quickAck: boolean;
  /** True when this frame was a req_pq_multi that got a resPQ. */
  readonly answeredReqPq: boolean;
}

export interface FakeDc {
  readonly host: string;
  readonly port: number;
  /** Applies to connections accepted after the change. */
  mode: FakeDcMode;
  /** Applies to connections accepted after the change. */
  stall: boolean;
  /** TCP connections accepted (including refused and bad-init ones). */
  connections(): number;
  activeConnections(): number;
  /** Connections closed because the 64-byte init carried no valid protocol tag. */
  badInits(): number;
  /** Connections closed at once by 'refuse' mode. */
  refused(): number;
  /** Connections closed for a frame over the cap ('mtproto' mode). */
  protocolErrors(): number;
  /** Decrypted payload bytes received after the init, all connections. */
  bytesReceived(): number;
  /** Plaintext payload bytes sent back, all connections. */
  bytesSent(): number;
  frames(): readonly FakeDcFrame[];
  /** One record per connection that passed the init. */
  records(): readonly FakeDcConnection[];
  waitFor(pred: (dc: FakeDc) => boolean, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

class FakeDcImpl implements FakeDc {
  mode: FakeDcMode;
  stall: boolean;
  port = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly waiters = new Waiters();
  private readonly conns: FakeDcConnection[] = [];
  private readonly frameLog: FakeDcFrame[] = [];
  private accepted = 0;
  private bad = 0;
  private refusedCount = 0;
  private protoErrors = 0;
  private totalIn = 0;
  private totalOut = 0;
  private nextId = 1;

  constructor(readonly host: string, private readonly o: FakeDcOptions) {
    this.mode = o.mode ?? 'echo';
    this.stall = o.stall ?? false;
    this.server = createServer((s) => this.onConnection(s));
  }

  async listen(port: number): Promise<void> {
    this.server.listen(port, this.host);
    await once(this.server, 'listening');
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('fake DC has no TCP address');
    this.port = addr.port;
  }

  connections(): number { return this.accepted; }
  activeConnections(): number { return this.sockets.size; }
  badInits(): number { return this.bad; }
  refused(): number { return this.refusedCount; }
  protocolErrors(): number { return this.protoErrors; }
  bytesReceived(): number { return this.totalIn; }
  bytesSent(): number { return this.totalOut; }
  frames(): readonly FakeDcFrame[] { return this.frameLog; }
  records(): readonly FakeDcConnection[] { return this.conns; }

  waitFor(pred: (dc: FakeDc) => boolean, timeoutMs: number): Promise<void> {
    return this.waiters.waitFor(() => pred(this), timeoutMs, 'fake DC condition');
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private onConnection(socket: Socket): void {
    this.accepted++;
    socket.on('error', () => { /* peers reset all the time in tests; 'close' does the bookkeeping */ });
    if (this.mode === 'refuse') {
      this.refusedCount++;
      socket.destroy();
      this.waiters.notify();
      return;
    }
    this.sockets.add(socket);
    const mode = this.mode;
    const stall = this.stall;
    let head: Buffer = Buffer.alloc(0);
    let streams: Obf2Streams | null = null;
    let rec: FakeDcConnection | null = null;
    let reader: FrameReader | null = null;

    const onPlain = (plain: Buffer): void => {
      if (rec === null || streams === null) return;
      rec.bytesIn += plain.length;
      this.totalIn += plain.length;
      if (stall || mode === 'sink') return;
      if (mode === 'echo') {
        this.send(socket, streams, rec, plain);
        return;
      }
      reader ??= new FrameReader(streams.tag, this.o.maxFrame ?? DEFAULT_MAX_FRAME);
      reader.push(plain);
      for (;;) {
        const f = reader.next();
        if (f === null) break;
        const nonce = parseReqPq(f.payload);
        this.logFrame({ connId: rec.id, dcId: rec.dcId, tag: rec.tag, payload: Buffer.from(f.payload), quickAck: f.quickAck, answeredReqPq: nonce !== null });
        const reply = nonce !== null ? buildResPq(nonce) : f.payload;
        this.send(socket, streams, rec, frameEncode(streams.tag, reply, 0));
      }
    };

    socket.on('data', (chunk: Buffer) => {
      try {
        if (streams === null) {
          head = Buffer.concat([head, chunk]);
          if (head.length < OBF2_INIT_LENGTH) return;
          streams = obf2Accept(head.subarray(0, OBF2_INIT_LENGTH));
          if (streams === null) {
            this.bad++;
            socket.destroy();
            return;
          }
          rec = { id: this.nextId++, dcId: streams.dcId, tag: streams.tag, bytesIn: 0, bytesOut: 0, open: true };
          this.conns.push(rec);
          const rest = head.subarray(OBF2_INIT_LENGTH);
          if (rest.length > 0) onPlain(streams.decrypt.update(rest));
        } else {
          onPlain(streams.decrypt.update(chunk));
        }
      } catch (err) {
        if (!(err instanceof TestkitProtocolError)) throw err;
        this.protoErrors++;
        socket.destroy();
      } finally {
        this.waiters.notify();
      }
    });
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (rec !== null) rec.open = false;
      this.waiters.notify();
    });
  }

  private send(socket: Socket, streams: Obf2Streams, rec: FakeDcConnection, plain: Buffer): void {
    if (plain.length === 0) return;
    rec.bytesOut += plain.length;
    this.totalOut += plain.length;
    // Stop reading while the peer doesn't drain, like a real TCP peer; keeps echo memory bounded.
    if (!socket.write(streams.encrypt.update(plain))) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  }

  private logFrame(f: FakeDcFrame): void {
    this.frameLog.push(f);
    const cap = this.o.maxRecordedFrames ?? 10_000;
    if (this.frameLog.length > cap) this.frameLog.splice(0, this.frameLog.length - cap);
  }
}

/** Starts a fake DC on `host` (127.0.0.1) and an ephemeral port unless `port` is given. */
export async function startFakeDc(o: FakeDcOptions = {}): Promise<FakeDc> {
  const dc = new FakeDcImpl(o.host ?? '127.0.0.1', o);
  await dc.listen(o.port ?? 0);
  return dc;
}
