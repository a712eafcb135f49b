// A fake Telegram middle proxy: the SERVER side of the ME RPC protocol (RPC_NONCE, RPC_HANDSHAKE
// with CRC32-C negotiation, AES-256-CBC both ways, seq/CRC checks). It answers RPC_PROXY_REQ the
// way a DC would (resPQ for an unencrypted req_pq_multi, an echo otherwise), answers PING with
// PONG and records everything so tests can assert ad tags, conn ids and close notifications.
// Plus a tiny HTTP server for proxy-secret and proxy-multi.conf.
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  MeProtocolError,
  MeRpcStream,
  ME_FLAG_QUICKACK,
  RPC_CRYPTO_AES,
  RPCF_USE_CRC32C,
  RPC_SEQ_HANDSHAKE,
  RPC_SEQ_NONCE,
  decodeMeMessage,
  decodeProxyReq,
  decodeRpcHandshake,
  decodeRpcNonce,
  encodeCloseExt,
  encodePing,
  encodePong,
  encodeProxyAns,
  encodeRpcHandshake,
  encodeRpcNonce,
  encodeSimpleAck,
  meSessionKeys,
  parseIpv4,
  parseIpv6,
  proxySecretKeySelect,
  renderProxyMultiConf,
  type MeEndpoint,
} from '@mtedge/protocol';
import { Waiters } from './internal/waiters.js';
import { buildResPq, parseReqPq } from './mtproto-respq.js';

export interface FakeMeOptions {
  host?: string;
  port?: number;
  /** The proxy-secret both ends share; random 128 bytes by default. */
  secret?: Buffer;
  /** Accept the client's CRC32-C request (default true), as the official ME does. */
  crc32c?: boolean;
  /** Oldest requests are dropped past this many. */
  maxRecordedRequests?: number;
  /**
   * Pretend a NAT sits between proxy and ME: the KDF uses this IPv4 as the client's address
   * instead of the socket's peer, as the real ME would see the NAT's public address. A proxy
   * that does not use the same address in its KDF then fails the handshake.
   */
  natPeerIp?: string;
}

export interface FakeMeRequest {
  /** Which TCP connection (1-based, accept order) carried it. */
  readonly link: number;
  readonly connId: bigint;
  readonly flags: number;
  readonly adTag: Buffer | undefined;
  readonly payload: Buffer;
  readonly answeredReqPq: boolean;
  /** 16 bytes each (v4-mapped for IPv4). */
  readonly clientIp: Buffer;
  readonly clientPort: number;
  readonly proxyIp: Buffer;
  readonly proxyPort: number;
}

export interface FakeMeLink {
  readonly id: number;
  readonly remotePort: number;
  handshaked: boolean;
  crc32c: boolean;
  open: boolean;
  /** Why it was closed by the fake, if it was. */
  failure: string | undefined;
  readonly connIds: Set<bigint>;
}

export interface FakeMe {
  readonly host: string;
  readonly port: number;
  readonly secret: Buffer;
  /** Close every link now and every new one at once. */
  drop: boolean;
  /** Accept and read but never send a byte (new links never finish the handshake; old ones go silent). */
  stall: boolean;
  /** New links use a different secret (same key_select), so the handshake fails. */
  wrongSecret: boolean;
  /** Answers carry a broken CRC while set. */
  badCrc: boolean;
  /** Answers skip a sequence number while set. */
  badSeq: boolean;
  /** Send RPC_SIMPLE_ACK before the answer when the request has the quick-ack flag. */
  quickAcks: boolean;
  /** TCP connections accepted (including dropped ones). */
  connections(): number;
  /** Links that completed the handshake. */
  handshakes(): number;
  activeLinks(): number;
  links(): readonly FakeMeLink[];
  requests(): readonly FakeMeRequest[];
  /** conn ids named by RPC_CLOSE_CONN, in arrival order. */
  closeConns(): readonly bigint[];
  pongs(): number;
  pingsAnswered(): number;
  /** Sends RPC_CLOSE_EXT for `connId` on the link that carried it; false if unknown. */
  closeExt(connId: bigint): boolean;
  /** Sends RPC_PING on every handshaked link. */
  ping(): void;
  /** Sends RPC_PROXY_ANS for a conn id nobody asked about (to see RPC_CLOSE_CONN come back). */
  answerUnknown(connId: bigint): void;
  /**
   * Pushes `bytes` of unrequested RPC_PROXY_ANS (64 KiB each) to `connId` on the link that
   * carries it, as an ME that keeps answering a client that stopped asking; false if unknown.
   */
  flood(connId: bigint, bytes: number): boolean;
  waitFor(pred: (me: FakeMe) => boolean, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

interface LinkState {
  readonly rec: FakeMeLink;
  readonly socket: Socket;
  readonly stream: MeRpcStream;
  stage: 'nonce' | 'handshake' | 'data';
  /** Answers collected while one inbound chunk is processed, sent as one batch after it. */
  batch: Buffer[] | undefined;
  /** Reads held until the answers drain (see HOLD_UNSENT_BYTES). */
  held: boolean;
}

/**
 * Unsent answers on a link past which its requests are no longer read, until they drain. A real
 * middle proxy is bounded the same way by TCP; without it an edge that reads slower than this
 * process answers (a busy box, say) makes it queue answers without limit, and the growing heap
 * slows it further.
 */
const HOLD_UNSENT_BYTES = 4 * 1024 * 1024;

class FakeMeImpl implements FakeMe {
  drop = false;
  stall = false;
  wrongSecret = false;
  badCrc = false;
  badSeq = false;
  quickAcks = false;
  port = 0;
  readonly secret: Buffer;
  private readonly server: Server;
  private readonly waiters = new Waiters();
  private readonly linkList: FakeMeLink[] = [];
  private readonly live = new Set<LinkState>();
  private readonly reqs: FakeMeRequest[] = [];
  private readonly closes: bigint[] = [];
  private accepted = 0;
  private pongCount = 0;
  private pingCount = 0;

  constructor(readonly host: string, private readonly o: FakeMeOptions) {
    this.secret = o.secret ?? randomBytes(128);
    this.server = createServer((s) => this.onConnection(s));
  }

  async listen(port: number): Promise<void> {
    this.server.listen(port, this.host);
    await once(this.server, 'listening');
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('fake ME has no TCP address');
    this.port = addr.port;
  }

  connections(): number { return this.accepted; }
  handshakes(): number { return this.linkList.filter((l) => l.handshaked).length; }
  activeLinks(): number { return this.live.size; }
  links(): readonly FakeMeLink[] { return this.linkList; }
  requests(): readonly FakeMeRequest[] { return this.reqs; }
  closeConns(): readonly bigint[] { return this.closes; }
  pongs(): number { return this.pongCount; }
  pingsAnswered(): number { return this.pingCount; }

  closeExt(connId: bigint): boolean {
    for (const l of this.live) {
      if (l.stage === 'data' && l.rec.connIds.has(connId)) {
        l.rec.connIds.delete(connId);
        this.send(l, encodeCloseExt(connId));
        return true;
      }
    }
    return false;
  }

  ping(): void {
    for (const l of this.live) if (l.stage === 'data') this.send(l, encodePing(BigInt.asUintN(64, randomBytes(8).readBigUInt64LE(0))));
  }

  answerUnknown(connId: bigint): void {
    for (const l of this.live) if (l.stage === 'data') this.send(l, encodeProxyAns(0, connId, Buffer.alloc(8)));
  }

  flood(connId: bigint, bytes: number): boolean {
    const l = [...this.live].find((x) => x.stage === 'data' && x.rec.connIds.has(connId));
    if (!l) return false;
    const body = randomBytes(64 * 1024);
    body.writeBigUInt64LE(0x1122334455667788n, 0);
    for (let sent = 0; sent < bytes; sent += body.length) this.send(l, encodeProxyAns(0, connId, body));
    return true;
  }

  waitFor(pred: (me: FakeMe) => boolean, timeoutMs: number): Promise<void> {
    return this.waiters.waitFor(() => pred(this), timeoutMs, 'fake ME condition');
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const l of this.live) l.socket.destroy();
    await closed;
  }

  private onConnection(socket: Socket): void {
    this.accepted++;
    socket.on('error', () => undefined);
    const rec: FakeMeLink = { id: this.accepted, remotePort: socket.remotePort ?? 0, handshaked: false, crc32c: false, open: true, failure: undefined, connIds: new Set() };
    this.linkList.push(rec);
    if (this.drop) {
      rec.open = false;
      rec.failure = 'dropped';
      socket.destroy();
      this.waiters.notify();
      return;
    }
    const l: LinkState = { rec, socket, stream: new MeRpcStream(), stage: 'nonce', batch: undefined, held: false };
    const secret = this.wrongSecret ? Buffer.concat([this.secret.subarray(0, 4), randomBytes(this.secret.length - 4)]) : this.secret;
    this.live.add(l);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        if (this.drop) throw new MeProtocolError('MTE_ERR_ME_HANDSHAKE', 'dropped');
        l.stream.push(chunk);
        l.batch = [];
        for (let p = l.stream.next(); p !== null; p = l.stream.next()) {
          if (this.stall) continue;
          this.onPacket(l, p.seq, p.body, secret);
        }
        this.flushBatch(l);
      } catch (err) {
        rec.failure = err instanceof Error ? err.message : String(err);
        socket.destroy();
      } finally {
        this.waiters.notify();
      }
    });
    socket.on('close', () => {
      rec.open = false;
      this.live.delete(l);
      this.waiters.notify();
    });
  }

  private onPacket(l: LinkState, seq: number, body: Buffer, secret: Buffer): void {
    if (l.stage === 'nonce') {
      if (seq !== RPC_SEQ_NONCE) throw new Error('expected RPC_NONCE');
      const n = decodeRpcNonce(body);
      if (n.schema !== RPC_CRYPTO_AES || n.keySelect !== proxySecretKeySelect(secret)) throw new Error('nonce: wrong schema or key_select');
      const mine = randomBytes(16);
      l.socket.write(l.stream.encode(encodeRpcNonce({ keySelect: n.keySelect, schema: RPC_CRYPTO_AES, ts: Math.floor(Date.now() / 1000), nonce: mine })));
      const local = parseIpv4(l.socket.localAddress?.replace(/^::ffff:/, '') ?? '');
      const remote = parseIpv4(this.o.natPeerIp ?? l.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '');
      // The KDF takes IPv4 addresses when both ends have one, else both IPv6 ones.
      const ips =
        local && remote
          ? { srvIp4: local, cltIp4: remote }
          : { srvIp6: parseIpv6(l.socket.localAddress ?? '') ?? Buffer.alloc(16), cltIp6: parseIpv6(l.socket.remoteAddress ?? '') ?? Buffer.alloc(16) };
      l.stream.startCrypto(
        meSessionKeys(
          { nonceSrv: mine, nonceClt: n.nonce, cltTs: n.ts, ...ips, srvPort: l.socket.localPort ?? 0, cltPort: l.socket.remotePort ?? 0, secret },
          'server',
        ),
      );
      l.stage = 'handshake';
      return;
    }
    if (l.stage === 'handshake') {
      if (seq !== RPC_SEQ_HANDSHAKE) throw new Error('expected RPC_HANDSHAKE');
      const h = decodeRpcHandshake(body);
      if (h.type !== 'handshake') throw new Error('client sent a handshake error');
      const crc32c = (h.hs.flags & RPCF_USE_CRC32C) !== 0 && this.o.crc32c !== false;
      const pid = { ip: 0x7f000001, port: this.port, pid: process.pid & 0xffff, utime: Math.floor(Date.now() / 1000) };
      l.socket.write(l.stream.encode(encodeRpcHandshake({ flags: crc32c ? RPCF_USE_CRC32C : 0, senderPid: pid, peerPid: h.hs.senderPid })));
      if (crc32c) l.stream.setCrc('crc32c');
      l.rec.crc32c = crc32c;
      l.rec.handshaked = true;
      l.stage = 'data';
      return;
    }
    const m = decodeMeMessage(body);
    switch (m.type) {
      case 'proxy_req': {
        const r = decodeProxyReq(body);
        l.rec.connIds.add(r.connId);
        const nonce = parseReqPq(r.payload);
        const max = this.o.maxRecordedRequests ?? 100_000;
        if (this.reqs.length >= max) this.reqs.splice(0, this.reqs.length - max + 1);
        this.reqs.push({
          link: l.rec.id, connId: r.connId, flags: r.flags, adTag: r.adTag, payload: Buffer.from(r.payload), answeredReqPq: nonce !== null,
          clientIp: r.clientIp, clientPort: r.clientPort, proxyIp: r.proxyIp, proxyPort: r.proxyPort,
        });
        if (this.quickAcks && (r.flags & ME_FLAG_QUICKACK) !== 0) this.send(l, encodeSimpleAck(r.connId, 0x80000000 | (r.payload.length & 0x7fffffff)));
        this.send(l, encodeProxyAns(0, r.connId, nonce !== null ? buildResPq(nonce) : r.payload));
        return;
      }
      case 'ping':
        this.pingCount++;
        this.send(l, encodePong(m.pingId));
        return;
      case 'pong':
        this.pongCount++;
        return;
      case 'close_conn':
        l.rec.connIds.delete(m.connId);
        this.closes.push(m.connId);
        return;
      default:
        return;
    }
  }

  private send(l: LinkState, body: Buffer): void {
    if (this.stall || l.socket.destroyed) return;
    if (l.batch !== undefined && !this.badCrc && !this.badSeq) l.batch.push(body);
    else l.socket.write(l.stream.encode(body, this.badCrc ? 0x5a5a5a5a : 0, this.badSeq ? 1 : 0));
  }

  private flushBatch(l: LinkState): void {
    const b = l.batch;
    l.batch = undefined;
    if (b === undefined || b.length === 0 || this.stall || l.socket.destroyed) return;
    if (l.socket.write(l.stream.encodeBatch(b)) || l.held || l.socket.writableLength < HOLD_UNSENT_BYTES) return;
    l.held = true;
    l.socket.pause();
    l.socket.once('drain', () => {
      l.held = false;
      l.socket.resume();
    });
  }
}

export async function startFakeMe(o: FakeMeOptions = {}): Promise<FakeMe> {
  const me = new FakeMeImpl(o.host ?? '127.0.0.1', o);
  await me.listen(o.port ?? 0);
  return me;
}

/**
 * Serves `/proxy-secret` (binary), `/proxy-multi.conf` and `/proxy-config-v6` (text, as
 * getProxyConfig and getProxyConfigV6) with Content-Length bodies.
 */
export interface FakeMeHttp {
  readonly host: string;
  readonly port: number;
  readonly secretUrl: string;
  readonly configUrl: string;
  readonly configV6Url: string;
  /** Bytes served at /proxy-secret; change to rotate. */
  secret: Buffer;
  /** Body served at /proxy-multi.conf. */
  config: string;
  /** Body served at /proxy-config-v6; 404 while undefined. */
  configV6: string | undefined;
  /** Status code for every request while set (e.g. 500). */
  failWith: number | undefined;
  requests(): number;
  close(): Promise<void>;
}

export function fakeMeConfig(dcs: Readonly<Record<string, readonly MeEndpoint[]>>, defaultDc?: number): string {
  return renderProxyMultiConf({ dcs, defaultDc });
}

export async function startFakeMeHttp(o: { secret: Buffer; config: string; configV6?: string; host?: string }): Promise<FakeMeHttp> {
  const host = o.host ?? '127.0.0.1';
  let count = 0;
  const state = { secret: o.secret, config: o.config, configV6: o.configV6, failWith: undefined as number | undefined };
  const server: HttpServer = createHttpServer((req, res) => {
    count++;
    if (state.failWith !== undefined) {
      res.writeHead(state.failWith, { 'content-length': 0 }).end();
      return;
    }
    const text = req.url === '/proxy-multi.conf' ? state.config : req.url === '/proxy-config-v6' ? state.configV6 : undefined;
    const body = req.url === '/proxy-secret' ? state.secret : text !== undefined ? Buffer.from(text) : undefined;
    if (body === undefined) {
      res.writeHead(404, { 'content-length': 0 }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
  });
  server.listen(0, host);
  await once(server, 'listening');
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('fake ME HTTP has no TCP address');
  const port = addr.port;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    host,
    port,
    secretUrl: `${origin}/proxy-secret`,
    configUrl: `${origin}/proxy-multi.conf`,
    configV6Url: `${origin}/proxy-config-v6`,
    get secret() { return state.secret; },
    set secret(v: Buffer) { state.secret = v; },
    get config() { return state.config; },
    set config(v: string) { state.config = v; },
    get configV6() { return state.configV6; },
    set configV6(v: string | undefined) { state.configV6 = v; },
    get failWith() { return state.failWith; },
    set failWith(v: number | undefined) { state.failWith = v; },
    requests: () => count,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
