/**
 * One client connection: PROXY header (optional) ► first bytes decide TLS or obfuscated2 ►
 * authenticate against every user ► replay check ► per-user policy ► DC leg ► relay.
 * Anything that fails authentication is masked; a client that authenticated but breaks a
 * policy is closed. Every outcome is counted once.
 */
import type net from 'node:net';
import {
  OBF2_INIT_LEN,
  TLS_HEADER_LEN,
  TLS_TYPE_APPLICATION_DATA,
  TLS_TYPE_CHANGE_CIPHER_SPEC,
  MAX_TLS_PLAINTEXT,
  MAX_TLS_RECORD_PAYLOAD,
  TlsRecordReader,
  acceptObfuscated2,
  buildFakeTlsServerHello,
  parseProxyHeader,
  validateFakeTlsHello,
  writeTlsRecordHeader,
  type Obf2Session,
} from '@mtedge/protocol';
import { C, ipToWords, type FailureClass, type HandshakeStage, type ReplayCache, type WorkerStats } from '@mtedge/stats';
import { relayToMask } from './mask.js';
import type { WorkerSettings } from './settings.js';
import { createCtrStream, type CtrStream } from './ctr.js';
import { ipInNets, parseNets, type CompiledUser, type UserRegistry } from './user-registry.js';
import { UpstreamError, type Upstream, type UpstreamLeg } from './upstream.js';

export interface SessionEnv {
  readonly settings: () => WorkerSettings;
  readonly users: () => UserRegistry;
  readonly stats: WorkerStats;
  readonly replay: ReplayCache;
  readonly upstream: Upstream;
  readonly event: (type: string, context: string) => void;
  readonly sessions: SessionTracker;
}

export interface SessionTracker {
  add(user: string, s: Session): void;
  remove(user: string, s: Session): void;
}

const TLS_SKEW_SECS = 1200;
/**
 * Bytes queued toward a client whose upstream cannot be paused (ME) before it is cut: answers it
 * asked for before its reads were held keep coming, and one slow reader must not hold them all.
 */
const MAX_UNPAUSABLE_BACKLOG = 16 * 1024 * 1024;
/** Unsent bytes toward a client on a shared (ME) link before its reads are held. */
const SHARED_HOLD_BACKLOG = 256 * 1024;
const HTTP_PREFIXES = ['GET ', 'POST', 'HEAD', 'PUT ', 'OPTI', 'DELE', 'PATC', 'CONN', 'PRI '];

type Phase = 'proxy' | 'prelude' | 'tls-inner' | 'connecting' | 'relay' | 'masked' | 'closed';

function looksLikeHttp(b: Buffer): boolean {
  if (b.length < 4) return false;
  const head = b.toString('latin1', 0, 4);
  return HTTP_PREFIXES.includes(head);
}

/** A fake-TLS hello starts 16 03 01; a classic obfuscated2 init may begin with 0x16 alone. */
function looksLikeTlsHello(b: Buffer): boolean {
  return b.length >= 3 && b[0] === 0x16 && b[1] === 0x03 && b[2] === 0x01;
}

export class Session {
  private phase: Phase;
  private pending: Buffer = Buffer.alloc(0);
  private timer: NodeJS.Timeout | undefined;
  private clientIp: string;
  private clientPort: number;
  private readonly ipWords = new Int32Array(4);
  private user: CompiledUser | undefined;
  private obf: Obf2Session | undefined;
  /** Relay streams: client→proxy decryption and proxy→client encryption, in place. */
  private clientIn: CtrStream | undefined;
  private clientOut: CtrStream | undefined;
  private tls = false;
  private tlsReader: TlsRecordReader | undefined;
  private leg: UpstreamLeg | undefined;
  private heldConn = false;
  private heldIp = false;
  /** The client half-closed while the DC leg was still being opened. */
  private clientEnded = false;
  private counted = false;
  private upPaused = false;
  private downPaused = false;
  private quotaCheckBytes = 0;
  private readonly onDataBound = (d: Buffer): void => this.onHandshakeData(d);

  constructor(
    private readonly socket: net.Socket,
    private readonly env: SessionEnv,
  ) {
    this.clientIp = normalizeIp(socket.remoteAddress ?? '');
    this.clientPort = socket.remotePort ?? 0;
    const s = env.settings();
    this.phase = s.proxyProtocol ? 'proxy' : 'prelude';
    socket.setNoDelay(true);
    socket.on('data', this.onDataBound);
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    socket.on('end', () => this.onClientEnd());
    const ms = this.phase === 'proxy' ? Math.min(s.proxyProtocolTimeoutMs, s.handshakeTimeoutMs) : s.handshakeTimeoutMs;
    this.timer = setTimeout(() => this.onHandshakeTimeout(), ms);
    env.stats.inc(C.core.current_connections);
  }

  get username(): string | undefined {
    return this.user?.name;
  }

  private stage(): HandshakeStage {
    if (this.phase === 'tls-inner') return 'tls_post_serverhello_mtproto';
    if (this.pending.length < TLS_HEADER_LEN) return 'first_packet_prelude';
    if (looksLikeTlsHello(this.pending)) return 'tls_clienthello_body';
    return 'direct_mtproto';
  }

  private fail(cls: FailureClass, then: 'mask' | 'close', stage: HandshakeStage = this.stage(), context?: string): void {
    const st = this.env.stats;
    if (!this.counted) {
      this.counted = true;
      st.inc(C.core.connections_bad_total);
      st.inc(C.badClass[cls]);
      st.inc(C.hsClass[cls]);
      st.inc(C.hsStage[stage]);
    }
    if (context !== undefined) this.env.event(`handshake_${cls}`, `${this.clientIp}:${this.clientPort} ${context}`);
    this.stopHandshakeTimer();
    if (then === 'mask') {
      this.phase = 'masked';
      this.socket.removeListener('data', this.onDataBound);
      this.socket.pause();
      const buffered = this.pending;
      this.pending = Buffer.alloc(0);
      relayToMask(this.socket, buffered, this.env.settings(), st, () => this.close());
    } else {
      this.close();
    }
  }

  private stopHandshakeTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private onHandshakeTimeout(): void {
    this.timer = undefined;
    if (this.phase === 'relay' || this.phase === 'closed' || this.phase === 'masked') return;
    this.env.stats.inc(C.core.handshake_timeouts_total);
    // A silent prober is shown the mask host's answer to what it sent; an empty one is just closed.
    if (this.phase === 'prelude' && this.pending.length > 0) this.fail('timeout', 'mask');
    else this.fail('timeout', 'close');
  }

  private onClientEnd(): void {
    if (this.phase === 'relay') {
      this.leg?.end();
      return;
    }
    if (this.phase === 'connecting') {
      // Passed on once the leg is up, after the data that came before it.
      this.clientEnded = true;
      return;
    }
    if (this.phase === 'prelude' || this.phase === 'proxy' || this.phase === 'tls-inner') {
      if (this.phase === 'prelude' && this.pending.length > 0 && looksLikeHttp(this.pending)) return this.fail('http_probe', 'mask');
      this.fail('unexpected_eof', 'close');
    }
  }

  private onHandshakeData(chunk: Buffer): void {
    if (this.phase === 'relay') return this.onClientData(chunk);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    try {
      this.advance();
    } catch (err) {
      this.env.event('handshake_internal_error', `${this.clientIp}: ${(err as Error).message}`);
      this.fail('bad_tls_hello', 'close');
    }
  }

  private advance(): void {
    const s = this.env.settings();
    if (this.phase === 'proxy') {
      // Only a trusted peer (the load balancer) may tell us who the client is.
      const trusted = trustedProxyNets(s);
      if (trusted.length > 0 && !ipInNets(this.clientIp, trusted)) {
        return this.fail('proxy_protocol_invalid', 'close', 'first_packet_prelude', 'PROXY header from an untrusted peer');
      }
      const r = parseProxyHeaderSafe(this.pending);
      if (r === 'bad') return this.fail('proxy_protocol_invalid', 'close', 'first_packet_prelude', 'malformed PROXY header');
      if (r.status === 'incomplete') return;
      if (r.status === 'not_proxy') return this.fail('proxy_protocol_invalid', 'close', 'first_packet_prelude', 'PROXY header required');
      if (r.source) {
        this.clientIp = normalizeIp(r.source.address);
        this.clientPort = r.source.port;
      }
      this.pending = this.pending.subarray(r.consumed);
      this.phase = 'prelude';
      this.stopHandshakeTimer();
      this.timer = setTimeout(() => this.onHandshakeTimeout(), s.handshakeTimeoutMs);
      if (this.pending.length === 0) return;
    }
    if (this.phase === 'prelude') return this.advancePrelude(s);
    if (this.phase === 'tls-inner') return this.advanceTlsInner(s);
  }

  private advancePrelude(s: WorkerSettings): void {
    const p = this.pending;
    if (looksLikeTlsHello(p)) {
      if (p.length < TLS_HEADER_LEN) return;
      const len = p.readUInt16BE(3);
      if (len > MAX_TLS_RECORD_PAYLOAD) return this.fail('bad_tls_hello', 'mask', 'tls_clienthello_body');
      if (p.length < TLS_HEADER_LEN + len) return;
      return this.onClientHello(s, p.subarray(0, TLS_HEADER_LEN + len));
    }
    if (looksLikeHttp(p)) return this.fail('http_probe', 'mask', 'first_packet_prelude');
    if (p.length < OBF2_INIT_LEN) return;
    this.onObf2Init(s, p.subarray(0, OBF2_INIT_LEN), p.subarray(OBF2_INIT_LEN));
  }

  private onClientHello(s: WorkerSettings, record: Buffer): void {
    if (!s.modes.tls) return this.fail('mode_disabled', 'mask', 'tls_core');
    const reg = this.env.users();
    const nowSec = Math.floor(Date.now() / 1000);
    const match = validateFakeTlsHello(record, reg.secrets, nowSec, s.ignoreTimeSkew ? undefined : TLS_SKEW_SECS);
    if (!match) {
      // Tell a stale clock apart from a wrong secret for the operator; both are masked.
      const skewed = !s.ignoreTimeSkew && validateFakeTlsHello(record, reg.secrets, nowSec, undefined) !== null;
      return this.fail(skewed ? 'tls_time_skew' : 'unknown_secret', 'mask', 'tls_core');
    }
    if (match.sni !== undefined && !s.tlsDomains.includes(match.sni.toLowerCase())) {
      switch (s.unknownSniAction) {
        case 'accept':
          break;
        case 'mask':
          return this.fail('tls_unknown_sni', 'mask', 'tls_core', `sni=${match.sni}`);
        case 'reject_handshake':
          // handshake_failure alert, then close
          this.socket.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]));
          return this.fail('tls_unknown_sni', 'close', 'tls_core', `sni=${match.sni}`);
        default:
          return this.fail('tls_unknown_sni', 'close', 'tls_core', `sni=${match.sni}`);
      }
    }
    if (!this.env.replay.checkAndInsert(match.digest, 0, nowSec, s.replayWindowSecs)) {
      return this.fail('replay', 'mask', 'tls_core', 'fake-TLS ClientHello seen before');
    }
    const user = reg.all[match.index]!;
    this.user = user;
    this.tls = true;
    const reply = buildFakeTlsServerHello({
      secret: user.secret,
      clientDigest: match.digest,
      sessionId: match.sessionId,
      appDataLen: s.fakeCertLen,
    });
    this.socket.write(reply);
    const rest = this.pending.subarray(record.length);
    this.pending = Buffer.alloc(0);
    this.tlsReader = new TlsRecordReader();
    this.phase = 'tls-inner';
    if (rest.length > 0) {
      this.tlsReader.push(rest);
      this.advanceTlsInner(s);
    }
  }

  /** Collects TLS application data until the 64-byte init is in. */
  private advanceTlsInner(s: WorkerSettings): void {
    const reader = this.tlsReader!;
    if (this.pending.length > 0) {
      reader.push(this.pending);
      this.pending = Buffer.alloc(0);
    }
    const parts: Buffer[] = [];
    let rec;
    try {
      while ((rec = reader.next()) !== null) {
        if (rec.type === TLS_TYPE_CHANGE_CIPHER_SPEC) continue;
        if (rec.type !== TLS_TYPE_APPLICATION_DATA) throw new Error(`unexpected TLS record type ${rec.type}`);
        parts.push(rec.payload);
      }
    } catch {
      return this.fail('bad_tls_hello', 'close', 'tls_post_serverhello_mtproto');
    }
    if (parts.length > 0) this.inner = this.inner.length === 0 && parts.length === 1 ? parts[0]! : Buffer.concat([this.inner, ...parts]);
    if (this.inner.length < OBF2_INIT_LEN) return;
    const init = this.inner.subarray(0, OBF2_INIT_LEN);
    const after = this.inner.subarray(OBF2_INIT_LEN);
    this.inner = Buffer.alloc(0);
    const obf = acceptObfuscated2(init, this.user!.secret);
    if (!obf) return this.fail('unknown_secret', 'close', 'tls_post_serverhello_mtproto', `user=${this.user!.name} bad inner init`);
    this.obf = obf;
    this.authenticated(s, after);
  }

  private inner: Buffer = Buffer.alloc(0);

  private onObf2Init(s: WorkerSettings, init: Buffer, rest: Buffer): void {
    if (!s.modes.classic && !s.modes.secure) return this.fail('mode_disabled', 'mask', 'direct_mtproto');
    const reg = this.env.users();
    let found: Obf2Session | null = null;
    let modeRefused = false;
    for (const u of reg.all) {
      const obf = acceptObfuscated2(init, u.secret);
      if (!obf) continue;
      const allowed = obf.tag === 'padded' ? s.modes.secure : s.modes.classic;
      if (!allowed) {
        modeRefused = true;
        continue;
      }
      found = obf;
      this.user = u;
      break;
    }
    if (!found) return this.fail(modeRefused ? 'mode_disabled' : 'unknown_secret', 'mask', 'direct_mtproto');
    const nowSec = Math.floor(Date.now() / 1000);
    if (!this.env.replay.checkAndInsert(init, 8, nowSec, s.replayWindowSecs)) {
      this.user = undefined;
      return this.fail('replay', 'mask', 'direct_mtproto', 'obfuscated2 init seen before');
    }
    this.obf = found;
    this.pending = Buffer.alloc(0);
    this.authenticated(s, rest);
  }

  /** The client proved a secret: apply the user's policy, then open the DC leg. */
  private authenticated(s: WorkerSettings, firstData: Buffer): void {
    const u = this.user!;
    const st = this.env.stats;
    const stage: HandshakeStage = this.tls ? 'tls_post_serverhello_mtproto' : 'direct_mtproto';
    if (ipInNets(this.clientIp, u.denyNets)) return this.fail('user_source_denied', 'close', stage, `user=${u.name}`);
    if (!u.enabled) return this.fail('user_disabled', 'close', stage, `user=${u.name}`);
    if (u.expiresAtMs !== undefined && Date.now() >= u.expiresAtMs) return this.fail('user_expired', 'close', stage, `user=${u.name}`);
    if (u.quotaBytes > 0 && st.quotaUsed(u.slot) >= u.quotaBytes) return this.fail('user_quota_exceeded', 'close', stage, `user=${u.name}`);
    if (!st.acquireConn(u.slot, u.maxTcpConns)) return this.fail('user_tcp_limit', 'close', stage, `user=${u.name} limit=${u.maxTcpConns}`);
    this.heldConn = true;
    ipToWords(this.clientIp, this.ipWords);
    if (!st.acquireIp(u.slot, this.ipWords, Math.floor(Date.now() / 1000), u.maxUniqueIps, s.uniqueIpMode, s.uniqueIpWindowSecs)) {
      return this.fail('user_ip_limit', 'close', stage, `user=${u.name} ip=${this.clientIp} limit=${u.maxUniqueIps}`);
    }
    this.heldIp = true;
    this.env.sessions.add(u.name, this);
    this.phase = 'connecting';
    this.socket.pause();
    const obf = this.obf!;
    const m = obf.material;
    this.clientIn = createCtrStream(m.decryptKey, m.decryptIv, m.decryptSkip);
    this.clientOut = createCtrStream(m.encryptKey, m.encryptIv, m.encryptSkip);
    // The relay streams above replace the handshake's node:crypto ciphers: drop them, or every
    // idle session keeps two OpenSSL contexts alive (~1.5 KiB each, measured by `npm run bench`).
    this.obf = undefined;
    const dcId = obf.dcId;
    const firstPlain = firstData.length > 0 ? this.clientIn.apply(firstData) : undefined;
    this.env.upstream
      .connect(
        { dcId: obf.dcId, tag: obf.tag, user: u, clientIp: this.clientIp, clientPort: this.clientPort },
        {
          data: (plain) => this.onDcData(plain),
          dataPieces: (pieces, bytes) => this.onDcPieces(pieces, bytes),
          drain: () => {
            if (this.upPaused) {
              this.upPaused = false;
              this.syncReading();
            }
          },
          end: () => this.socket.end(),
          close: () => this.close(),
        },
      )
      .then((leg) => {
        if (this.phase !== 'connecting') {
          leg.destroy();
          return;
        }
        this.leg = leg;
        this.phase = 'relay';
        this.stopHandshakeTimer();
        st.inc(leg.route === 'me' ? C.core.current_connections_me : C.core.current_connections_direct);
        this.socket.setTimeout(s.relayIdleTimeoutMs, () => this.close());
        if (firstPlain) this.forwardUp(firstPlain);
        if (this.phase === 'relay') this.syncReading();
        // Data that arrived while connecting sits in the TLS reader.
        if (this.tls && this.tlsReader!.buffered > 0) this.onClientData(Buffer.alloc(0));
        if (this.clientEnded && this.phase === 'relay') leg.end();
      })
      .catch((err: unknown) => {
        const ue = err instanceof UpstreamError ? err : undefined;
        this.env.event('dc_connect_failed', `user=${u.name} dc=${dcId} ${ue ? ue.message : String(err)}`);
        this.fail(ue?.code === 'MTE_ERR_DC_UNKNOWN' ? 'dc_unknown' : 'dc_connect_failed', 'close', stage);
      });
  }

  private onClientData(chunk: Buffer): void {
    if (this.phase !== 'relay') {
      if (this.tls && chunk.length > 0) this.tlsReader!.push(chunk);
      return;
    }
    if (!this.tls) {
      this.forwardUp(this.clientIn!.apply(chunk));
      return;
    }
    const reader = this.tlsReader!;
    if (chunk.length > 0) reader.push(chunk);
    let rec;
    try {
      while ((rec = reader.next()) !== null) {
        if (rec.type === TLS_TYPE_APPLICATION_DATA) this.forwardUp(this.clientIn!.apply(rec.payload));
        else if (rec.type !== TLS_TYPE_CHANGE_CIPHER_SPEC) throw new Error('unexpected record');
        if (this.phase !== 'relay') return;
      }
    } catch {
      this.env.stats.inc(C.desync.desync_total);
      this.close();
    }
  }

  /** `plain` passes to the leg, which may transform it in place. */
  private forwardUp(plain: Buffer): void {
    const st = this.env.stats;
    const u = this.user!;
    st.add(C.core.octets_from_clients, plain.length);
    st.addUserOctets(u.slot, plain.length, 0);
    if (!this.leg!.write(plain) && !this.upPaused) {
      this.upPaused = true;
      this.socket.pause();
    }
    this.checkQuota(plain.length);
  }

  private onDcData(plain: Buffer): void {
    if (this.phase !== 'relay') return;
    const st = this.env.stats;
    const u = this.user!;
    st.add(C.core.octets_to_clients, plain.length);
    st.addUserOctets(u.slot, 0, plain.length);
    // An ME answer queued behind a lagging client is copied out of the link's read slab (see onDcPieces).
    const out = this.clientOut!.apply(this.leg?.route === 'me' && this.socket.writableLength > 0 ? Buffer.from(plain) : plain);
    this.afterDown(this.tls ? writeTlsRecords(this.socket, out) : this.socket.write(out), plain.length);
  }

  /**
   * Pieces encrypted where they lie and written corked: one writev, no joined copy. ME answers
   * are views into a link's read slab (me/read-slab.ts); queued behind a client that is not
   * keeping up they would hold whole slabs for as long as it lags, so such a client gets one
   * right-sized copy instead (its backlog stays bounded by the slow-reader rules).
   */
  private onDcPieces(pieces: readonly Buffer[], bytes: number): void {
    if (this.phase !== 'relay') return;
    const st = this.env.stats;
    st.add(C.core.octets_to_clients, bytes);
    st.addUserOctets(this.user!.slot, 0, bytes);
    const sock = this.socket;
    const out = this.clientOut!;
    if (sock.writableLength > 0) {
      const joined = out.apply(Buffer.concat(pieces, bytes));
      this.afterDown(this.tls ? writeTlsRecords(sock, joined) : sock.write(joined), bytes);
      return;
    }
    let ok = true;
    sock.cork();
    for (const p of pieces) ok = this.tls ? writeTlsRecords(sock, out.apply(p)) : sock.write(out.apply(p));
    sock.uncork();
    this.afterDown(ok, bytes);
  }

  /** Backpressure and quota after `n` bytes went toward the client; `ok` is the socket's answer. */
  private afterDown(ok: boolean, n: number): void {
    const u = this.user!;
    const shared = this.leg!.route === 'me';
    if (!ok && shared && this.socket.writableLength > MAX_UNPAUSABLE_BACKLOG) {
      this.env.event('client_too_slow', `user=${u.name} ${this.clientIp} backlog=${this.socket.writableLength}`);
      this.close();
      return;
    }
    // On a shared link a turn's answers often exceed the socket's high-water mark at once: that
    // is a burst, not a slow reader, and holding reads for it would cost a pause/resume per turn.
    if (!ok && !this.downPaused && !(shared && this.socket.writableLength < SHARED_HOLD_BACKLOG)) {
      // A shared ME link cannot pause for one slow reader; holding this client's reads instead
      // stops its requests, so the answers it cannot take stop coming.
      this.downPaused = true;
      if (shared) this.syncReading();
      else this.leg!.pause();
      this.socket.once('drain', () => {
        this.downPaused = false;
        if (shared) this.syncReading();
        else this.leg?.resume();
      });
    }
    this.checkQuota(n);
  }

  /** Reads from the client stop while its upstream is full, or (ME) while it is slow to read. */
  private syncReading(): void {
    if (this.phase !== 'relay') return;
    if (this.upPaused || (this.downPaused && this.leg?.route === 'me')) this.socket.pause();
    else this.socket.resume();
  }

  /** Reading every worker's stripe costs a few loads; do it once per 64 KiB, not per chunk. */
  private checkQuota(n: number): void {
    const u = this.user!;
    if (u.quotaBytes <= 0) return;
    this.quotaCheckBytes += n;
    if (this.quotaCheckBytes < 65536 && this.quotaCheckBytes < u.quotaBytes) return;
    this.quotaCheckBytes = 0;
    if (this.env.stats.quotaUsed(u.slot) >= u.quotaBytes) {
      this.env.event('user_quota_exceeded', `user=${u.name} quota=${u.quotaBytes}`);
      this.close();
    }
  }

  /** Ends the session from outside (user disabled, deleted, shutdown). */
  kick(): void {
    this.close();
  }

  close(): void {
    if (this.phase === 'closed') return;
    const wasRelay = this.phase === 'relay';
    const wasMasked = this.phase === 'masked';
    this.phase = 'closed';
    this.stopHandshakeTimer();
    const st = this.env.stats;
    st.add(C.core.current_connections, -1);
    if (wasRelay && this.leg) st.add(this.leg.route === 'me' ? C.core.current_connections_me : C.core.current_connections_direct, -1);
    const u = this.user;
    if (u) {
      if (this.heldConn) st.releaseConn(u.slot);
      if (this.heldIp) st.releaseIp(u.slot, this.ipWords, Math.floor(Date.now() / 1000));
      this.env.sessions.remove(u.name, this);
    }
    this.leg?.destroy();
    if (!wasMasked) this.socket.destroy();
  }
}

/**
 * Outgoing bytes to an ee client ride in application-data records of at most 16 KiB: headers
 * and payload slices go out corked as one writev, so the payload is never copied.
 */
function writeTlsRecords(socket: net.Socket, payload: Buffer): boolean {
  if (payload.length === 0) return true;
  socket.cork();
  let ok = true;
  for (let src = 0; src < payload.length; src += MAX_TLS_PLAINTEXT) {
    const n = Math.min(MAX_TLS_PLAINTEXT, payload.length - src);
    const header = Buffer.allocUnsafe(TLS_HEADER_LEN);
    writeTlsRecordHeader(header, 0, TLS_TYPE_APPLICATION_DATA, n);
    socket.write(header);
    ok = socket.write(payload.subarray(src, src + n));
  }
  socket.uncork();
  return ok;
}

/**
 * server.proxy_protocol_trusted_cidrs, parsed once per settings push. Empty trusts every peer:
 * the config resolves an omitted key to [] (telemt's omitted default is trust-all).
 */
const trustedNetsCache = new WeakMap<WorkerSettings, ReturnType<typeof parseNets>>();
function trustedProxyNets(s: WorkerSettings): ReturnType<typeof parseNets> {
  let nets = trustedNetsCache.get(s);
  if (!nets) trustedNetsCache.set(s, (nets = parseNets(s.proxyProtocolTrusted)));
  return nets;
}

function parseProxyHeaderSafe(b: Buffer): ReturnType<typeof parseProxyHeader> | 'bad' {
  try {
    return parseProxyHeader(b);
  } catch {
    return 'bad';
  }
}

export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
