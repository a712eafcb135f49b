// Client simulator: dials the proxy the way Telegram clients do (classic obfuscated2, `dd` secure,
// `ee` fake-TLS), then exposes the decrypted byte stream for assertions.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { TestkitClosedError, TestkitHandshakeError, TestkitOptionsError, TestkitProtocolError, TestkitTimeoutError } from './errors.js';
import { Waiters } from './internal/waiters.js';
import {
  TLS_CHANGE_CIPHER_SPEC,
  TLS_MAX_APPDATA_PAYLOAD,
  TLS_MAX_RECORD_BODY,
  TlsRecordSplitter,
  buildClientHello,
  encodeAppData,
  serverReplyLength,
  verifyServerReply,
} from './wire/fake-tls.js';
import { DEFAULT_MAX_FRAME, FrameReader, frameEncode, type DecodedFrame } from './wire/framing.js';
import { obf2Initiate, type Obf2Streams, type ProtoTag } from './wire/obf2.js';

export type ClientMode = 'classic' | 'secure' | 'tls';

export interface ConnectClientOptions {
  host: string;
  port: number;
  mode: ClientMode;
  /**
   * The 16 secret bytes, without any `dd`/`ee` prefix or domain. Omit it (classic/secure only)
   * to speak the DC-side flavour with no secret, e.g. straight to a fake DC.
   */
  secret?: Buffer;
  /** SNI for 'tls' mode (required there). */
  domain?: string;
  /** Defaults: classic → intermediate, secure and tls → padded. Any tag may be forced. */
  tag?: ProtoTag;
  /** Default 2. Negative = media DC. */
  dcId?: number;
  /** Bytes written before anything else (a PROXY protocol header). */
  proxyHeader?: Buffer;
  /** Local address to bind before connecting (e.g. 127.0.0.5, to appear as another client IP). */
  localAddress?: string;
  /** Unix time put into the fake-TLS digest (to test the skew window). */
  nowSec?: number;
  /** Stream bytes sent in the same write (tls: the same record) as the init, as TDLib does. */
  firstPayload?: Buffer;
  /** Keep decrypted bytes for `received()` (default true; the load generator turns it off). */
  retainReceived?: boolean;
  /** Called with each decrypted chunk. */
  onData?: (plain: Buffer) => void;
  /** Bound on TCP connect + handshake (default 5000 ms). */
  handshakeTimeoutMs?: number;
  /** Payload bytes per `17 03 03` record the client sends (default and max 16384). */
  tlsRecordSize?: number;
  /** Cap on frames decoded from the server (default 16 MiB). */
  maxFrame?: number;
  /** Random source for the obfuscated2 init (to force edge cases such as a leading 0x16). */
  initRandom?: (n: number) => Buffer;
}

export interface SimClientClose {
  hadError: boolean;
  error?: Error;
}

export interface SimClient {
  readonly mode: ClientMode;
  readonly tag: ProtoTag;
  readonly dcId: number;
  /** Encrypts (and TLS-wraps in tls mode) raw stream bytes that follow the init. */
  send(payload: Uint8Array): void;
  /** Frames `payload` for the client's tag, then sends it. `padLen` is for the padded tag. */
  sendFrame(payload: Uint8Array, padLen?: number): void;
  /** Writes bytes to the socket as they are. */
  writeRaw(buf: Uint8Array): void;
  /** Every decrypted byte received so far (empty when retainReceived is false). */
  received(): Buffer;
  /** Resolves with received() once at least n bytes arrived; rejects on close or timeout. */
  waitForBytes(n: number, timeoutMs: number): Promise<Buffer>;
  /**
   * Next frame cut from the received stream with the client's tag (needs retainReceived).
   * Rejects with MTE_ERR_TESTKIT_PROTOCOL when the stream does not parse as frames.
   */
  nextFrame(timeoutMs: number): Promise<DecodedFrame>;
  /** Plaintext stream bytes sent after the init. */
  readonly bytesSent: number;
  /** Decrypted stream bytes received. */
  readonly bytesReceived: number;
  readonly wireBytesSent: number;
  readonly wireBytesReceived: number;
  /** Exact bytes sent for the handshake (tls: hello + CCS + init record; else the 64-byte init). */
  readonly capturedHandshake: Buffer;
  /** tls mode: the ClientHello record alone (empty otherwise). */
  readonly capturedHello: Buffer;
  /** From connect() to handshake complete, in ms. */
  readonly handshakeMs: number;
  readonly isClosed: boolean;
  end(): void;
  destroy(): void;
  readonly closed: Promise<SimClientClose>;
}

const DEFAULT_TAG: Readonly<Record<ClientMode, ProtoTag>> = { classic: 'intermediate', secure: 'padded', tls: 'padded' };

class SimClientImpl implements SimClient {
  bytesSent = 0;
  bytesReceived = 0;
  wireBytesSent = 0;
  wireBytesReceived = 0;
  capturedHandshake: Buffer = Buffer.alloc(0);
  capturedHello: Buffer = Buffer.alloc(0);
  handshakeMs = 0;
  isClosed = false;
  readonly closed: Promise<SimClientClose>;
  streams: Obf2Streams | null = null;
  private readonly chunks: Buffer[] = [];
  private readonly waiters = new Waiters();
  private readonly frameReader: FrameReader;
  private fedBytes = 0;
  private splitter: TlsRecordSplitter | null = null;
  private closeError: Error | undefined;

  constructor(readonly socket: Socket, private readonly o: ConnectClientOptions, readonly tag: ProtoTag, readonly dcId: number) {
    this.frameReader = new FrameReader(tag, o.maxFrame ?? DEFAULT_MAX_FRAME);
    this.closed = new Promise((resolve) => {
      socket.on('close', (hadError) => {
        this.isClosed = true;
        this.waiters.notify();
        resolve(this.closeError === undefined ? { hadError } : { hadError: true, error: this.closeError });
      });
    });
    socket.on('error', (err) => {
      this.closeError ??= err;
    });
  }

  get mode(): ClientMode {
    return this.o.mode;
  }

  /** Called once the handshake is done; `rest` are bytes that arrived with the server reply. */
  start(streams: Obf2Streams, rest: Buffer): void {
    this.streams = streams;
    if (this.o.mode === 'tls') this.splitter = new TlsRecordSplitter();
    this.socket.on('data', (chunk: Buffer) => this.onWire(chunk));
    if (rest.length > 0) this.onWire(rest, true);
  }

  private onWire(chunk: Buffer, counted = false): void {
    if (!counted) this.wireBytesReceived += chunk.length;
    const streams = this.streams as Obf2Streams;
    try {
      if (this.splitter === null) {
        this.deliver(streams.decrypt.update(chunk));
        return;
      }
      this.splitter.push(chunk);
      for (;;) {
        const rec = this.splitter.next();
        if (rec === null) break;
        if (rec.type === 0x17) this.deliver(streams.decrypt.update(rec.body));
        else if (rec.type !== 0x14) throw new TestkitProtocolError(`unexpected TLS record type 0x${rec.type.toString(16)} from server`);
      }
    } catch (err) {
      this.closeError ??= err as Error;
      this.socket.destroy();
    }
  }

  private deliver(plain: Buffer): void {
    if (plain.length === 0) return;
    this.bytesReceived += plain.length;
    if (this.o.retainReceived ?? true) this.chunks.push(plain);
    this.o.onData?.(plain);
    this.waiters.notify();
  }

  encryptForWire(plain: Uint8Array): Buffer {
    const streams = this.streams as Obf2Streams;
    const enc = streams.encrypt.update(plain);
    return this.o.mode === 'tls' ? encodeAppData(enc, this.recordSize()) : enc;
  }

  recordSize(): number {
    return Math.min(this.o.tlsRecordSize ?? TLS_MAX_APPDATA_PAYLOAD, TLS_MAX_APPDATA_PAYLOAD);
  }

  send(payload: Uint8Array): void {
    if (payload.length === 0) return;
    this.bytesSent += payload.length;
    this.writeRaw(this.encryptForWire(payload));
  }

  sendFrame(payload: Uint8Array, padLen?: number): void {
    this.send(frameEncode(this.tag, payload, padLen));
  }

  writeRaw(buf: Uint8Array): void {
    this.wireBytesSent += buf.length;
    this.socket.write(buf);
  }

  received(): Buffer {
    if (this.chunks.length > 1) this.chunks.splice(0, this.chunks.length, Buffer.concat(this.chunks));
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  async waitForBytes(n: number, timeoutMs: number): Promise<Buffer> {
    await this.waiters.waitFor(() => this.bytesReceived >= n || this.isClosed, timeoutMs, `${n} bytes from the proxy`);
    if (this.bytesReceived < n) {
      throw new TestkitClosedError(`connection closed after ${this.bytesReceived} of ${n} bytes`, { cause: this.closeError });
    }
    return this.received();
  }

  async nextFrame(timeoutMs: number): Promise<DecodedFrame> {
    // Frames are cut lazily, only for callers that want them: a raw-stream test must not be
    // broken by bytes that don't parse as frames.
    const pull = (): DecodedFrame | null => {
      if (this.fedBytes < this.bytesReceived) {
        this.frameReader.push(this.received().subarray(this.fedBytes));
        this.fedBytes = this.bytesReceived;
      }
      return this.frameReader.next();
    };
    let frame: DecodedFrame | null = null;
    await this.waiters.waitFor(() => (frame ??= pull()) !== null || this.isClosed, timeoutMs, 'a frame from the proxy');
    frame ??= pull();
    if (frame === null) throw new TestkitClosedError('connection closed before a frame arrived', { cause: this.closeError });
    return frame;
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function validate(o: ConnectClientOptions): void {
  if (o.secret !== undefined && o.secret.length !== 16) throw new TestkitOptionsError(`secret must be 16 bytes, got ${o.secret.length}`);
  if (o.mode === 'tls' && o.secret === undefined) throw new TestkitOptionsError('tls mode needs a secret');
  if (o.mode === 'tls' && (o.domain === undefined || o.domain.length === 0)) {
    throw new TestkitOptionsError('tls mode needs a domain');
  }
}

/** Reads from `socket` until the whole fake-TLS server reply is in; returns it and any extra bytes. */
function readServerReply(socket: Socket): Promise<{ reply: Buffer; rest: Buffer; wire: number }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      let len: number | null;
      try {
        len = serverReplyLength(buf);
      } catch (err) {
        cleanup();
        reject(new TestkitHandshakeError('malformed fake-TLS server reply', { cause: err }));
        return;
      }
      if (len === null) {
        // serverReplyLength caps each record, so this bound is never hit by a well-formed reply.
        if (buf.length > 3 * (5 + TLS_MAX_RECORD_BODY)) {
          cleanup();
          reject(new TestkitHandshakeError('fake-TLS server reply too long'));
        }
        return;
      }
      cleanup();
      socket.pause();
      resolve({ reply: buf.subarray(0, len), rest: buf.subarray(len), wire: buf.length });
    };
    const onClose = (): void => {
      cleanup();
      const head = buf.subarray(0, 64);
      reject(new TestkitHandshakeError(`connection closed during fake-TLS handshake after ${buf.length} bytes (${head.toString('hex')})`));
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

/** Connects and completes the client handshake; the returned client is ready to send. */
export async function connectClient(o: ConnectClientOptions): Promise<SimClient> {
  validate(o);
  const tag = o.tag ?? DEFAULT_TAG[o.mode];
  const dcId = o.dcId ?? 2;
  const t0 = performance.now();
  const timeoutMs = o.handshakeTimeoutMs ?? 5000;
  const socket = connect({ host: o.host, port: o.port, ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}) });
  socket.setNoDelay(true);
  const client = new SimClientImpl(socket, o, tag, dcId);
  const timer = setTimeout(() => socket.destroy(new TestkitTimeoutError(`handshake not done in ${timeoutMs} ms`, timeoutMs)), timeoutMs);
  try {
    await new Promise<void>((resolve, reject) => {
      const onErr = (err: Error): void => reject(err);
      socket.once('error', onErr);
      socket.once('connect', () => {
        socket.off('error', onErr);
        resolve();
      });
    });
    const handshakeFailed = new Promise<never>((_, reject) => socket.once('error', reject));
    handshakeFailed.catch(() => { /* raced below; keeps an unobserved rejection quiet */ });
    const { init, streams } = obf2Initiate({ tag, dcId, ...(o.secret !== undefined ? { secret: o.secret } : {}), ...(o.initRandom !== undefined ? { randomBytes: o.initRandom } : {}) });
    const header = o.proxyHeader ?? Buffer.alloc(0);
    const first = o.firstPayload ?? Buffer.alloc(0);
    client.streams = streams;
    if (o.mode !== 'tls') {
      client.capturedHandshake = init;
      const firstEnc = streams.encrypt.update(first);
      client.writeRaw(Buffer.concat([header, init, firstEnc]));
      client.bytesSent += first.length;
      client.start(streams, Buffer.alloc(0));
    } else {
      const secret = o.secret as Buffer;
      const hello = buildClientHello({ secret, domain: o.domain as string, ...(o.nowSec !== undefined ? { nowSec: o.nowSec } : {}) });
      client.capturedHello = hello.record;
      client.writeRaw(Buffer.concat([header, hello.record]));
      const { reply, rest, wire } = await Promise.race([readServerReply(socket), handshakeFailed]);
      client.wireBytesReceived += wire;
      if (!verifyServerReply(reply, hello.digest, secret)) {
        throw new TestkitHandshakeError('fake-TLS server digest does not match the secret');
      }
      const initRecords = encodeAppData(Buffer.concat([init, streams.encrypt.update(first)]), client.recordSize());
      const tail = Buffer.concat([TLS_CHANGE_CIPHER_SPEC, initRecords]);
      client.capturedHandshake = Buffer.concat([hello.record, tail]);
      client.writeRaw(tail);
      client.bytesSent += first.length;
      client.start(streams, rest);
      socket.resume();
    }
    client.handshakeMs = performance.now() - t0;
    return client;
  } catch (err) {
    socket.destroy();
    if (err instanceof Error && 'code' in err && typeof err.code === 'string' && err.code.startsWith('MTE_ERR_')) throw err;
    throw new TestkitHandshakeError(`client handshake with ${o.host}:${o.port} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
