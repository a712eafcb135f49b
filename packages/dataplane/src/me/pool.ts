/**
 * A worker's Middle-End pool: per DC a fixed number of writer slots spread over the DC's
 * endpoints, each slot reconnecting on its own schedule (exponential back-off with jitter, so a
 * wrong secret or a dead ME cannot become a handshake storm), endpoint quarantine after
 * failures, and the conn_id registry that routes ME answers to client legs. Writers of an old
 * generation (new secret or endpoint table) stop taking clients and close once empty.
 */
import { randomBytes } from 'node:crypto';
import { encodeCloseConn, type MeMessage } from '@mtedge/protocol';
import { C, type WorkerStats } from '@mtedge/stats';
import type { DcEndpoint } from '../settings.js';
import type { MeWorkerSettings } from './settings.js';
import { MeWriter, type MeWriterError, type MeWriterEvents, type MeWriterState } from './writer.js';

/** What the pool needs from a client leg bound to a writer. */
export interface MeBinding {
  readonly connId: bigint;
  writer: MeWriter;
  onMessage(m: MeMessage): void;
  /** The writer died: the leg must end its client promptly. */
  onWriterLost(err: Error): void;
  onDrain(): void;
}

export interface MeCounters {
  writerConnectAttempts: number;
  writerHandshakes: number;
  writerFailures: number;
  writerStalls: number;
  fallbackDirect: number;
  noWriterClosed: number;
  unknownConnAnswers: number;
  closeExt: number;
  clientsMovedOrClosed: number;
}

/** One writer as the status API shows it (plain data: crosses postMessage). */
export interface MeWriterStatus {
  readonly id: number;
  readonly dc: number;
  readonly endpoint: string;
  readonly state: MeWriterState;
  readonly draining: boolean;
  /** Owes the ME an answer for over half the stall budget: gets no new clients. */
  readonly degraded: boolean;
  readonly clients: number;
  readonly generation: string;
  readonly startedAtMs: number;
  readonly readyAtMs: number | undefined;
  readonly idleMs: number;
  readonly rttEmaMs: number | undefined;
  readonly localAddr: string | undefined;
}

export interface MeDcStatus {
  readonly dc: number;
  readonly endpoints: readonly string[];
  /** Writer slots this worker keeps for the DC. */
  readonly slots: number;
  readonly quarantined: readonly { readonly endpoint: string; readonly remainingMs: number }[];
}

/** A worker's whole pool, for the supervisor's ME status. */
export interface MePoolStatus {
  readonly generation: string;
  readonly poolSize: number;
  readonly writers: readonly MeWriterStatus[];
  readonly dcs: readonly MeDcStatus[];
  readonly counters: MeCounters;
}

interface Slot {
  readonly index: number;
  endpointIdx: number;
  writer: MeWriter | undefined;
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  /** Endpoint of the writer that dropped, to tell a same-endpoint restore from a fallback one. */
  lostEndpoint: string | undefined;
}

interface DcGroup {
  readonly dc: number;
  readonly endpoints: readonly DcEndpoint[];
  readonly slots: Slot[];
  /** Endpoint key -> quarantined until (epoch ms). */
  readonly quarantine: Map<string, number>;
  readonly waiters: Set<() => void>;
}

const epKey = (e: DcEndpoint): string => `${e.host}:${e.port}`;

export class MePool {
  readonly counters: MeCounters = {
    writerConnectAttempts: 0,
    writerHandshakes: 0,
    writerFailures: 0,
    writerStalls: 0,
    fallbackDirect: 0,
    noWriterClosed: 0,
    unknownConnAnswers: 0,
    closeExt: 0,
    clientsMovedOrClosed: 0,
  };
  private groups = new Map<number, DcGroup>();
  private readonly registry = new Map<bigint, MeBinding>();
  private readonly needDrain = new Map<MeWriter, Set<MeBinding>>();
  private readonly draining = new Set<MeWriter>();
  private secret: Buffer;
  private nextWriterId = 1;
  private connLow = 0;
  private readonly connHigh = randomBytes(4).readUInt32LE(0);
  private closed = false;
  private readonly writerEvents: MeWriterEvents;

  constructor(
    private settings: MeWorkerSettings,
    private readonly event: (type: string, context: string) => void,
    private readonly stats?: WorkerStats,
  ) {
    this.secret = Buffer.from(settings.secretHex, 'hex');
    this.writerEvents = {
      ready: (w) => this.onReady(w),
      message: (w, m) => this.onMessage(w, m),
      drain: (w) => this.onDrain(w),
      closed: (w, err) => this.onClosed(w, err),
    };
  }

  get current(): MeWorkerSettings {
    return this.settings;
  }

  private add(counter: number, n = 1): void {
    this.stats?.add(counter, n);
  }

  /** RPC_PROXY_REQ frames a leg just sent (counted per batch, not per frame). */
  noteRequests(frames: number, bytes: number, withAdTag: boolean): void {
    const st = this.stats;
    if (!st) return;
    st.add(C.me.me_proxy_req_total, frames);
    st.add(C.me.me_proxy_req_bytes_total, bytes);
    if (withAdTag) st.add(C.me.me_proxy_req_ad_tag_total, frames);
  }

  /** Opens every DC's writers now instead of at its first client (ME readiness and coverage). */
  warmUp(): void {
    if (this.closed) return;
    for (const [k, eps] of Object.entries(this.settings.endpoints)) {
      const dc = Number(k);
      if (Number.isInteger(dc) && eps.length > 0) this.group(dc, eps);
    }
  }

  /** A new generation: old writers drain (no new clients), new ones start on demand. */
  update(next: MeWorkerSettings): void {
    const prev = this.settings;
    this.settings = next;
    if (prev.generation === next.generation) return;
    this.secret = Buffer.from(next.secretHex, 'hex');
    this.add(C.pool.pool_swap_total);
    const old = this.groups;
    this.groups = new Map();
    for (const g of old.values()) {
      for (const s of g.slots) {
        if (s.timer) clearTimeout(s.timer);
        s.timer = undefined;
        const w = s.writer;
        if (!w) continue;
        s.writer = undefined;
        if (w.state !== 'ready' || w.conns.size === 0) {
          w.close();
          continue;
        }
        w.draining = true;
        this.draining.add(w);
        this.add(C.pool.pool_drain_active);
        const t = setTimeout(() => {
          if (w.state !== 'closed') this.add(C.pool.pool_force_close_total);
          w.close();
        }, next.drainTtlMs);
        t.unref();
      }
    }
    this.event('me_generation_applied', `generation=${next.generation.slice(0, 12)}`);
  }

  newConnId(): bigint {
    this.connLow = (this.connLow + 1) >>> 0;
    return (BigInt(this.connHigh) << 32n) | BigInt(this.connLow);
  }

  /** The ME DC that serves a client DC: exact, then |dc| (media -> main), then `default`. */
  resolveDc(dcId: number): { dc: number; endpoints: readonly DcEndpoint[] } | undefined {
    const t = this.settings.endpoints;
    for (const k of [dcId, Math.abs(dcId) % 10000, this.settings.defaultDc]) {
      if (k === undefined) continue;
      const eps = t[String(k)];
      if (eps && eps.length > 0) return { dc: k, endpoints: eps };
    }
    return undefined;
  }

  /**
   * A ready writer of the client's DC, least loaded first; waits up to `noWriterWaitMs` while a
   * slot is (re)connecting, not while every slot sits in back-off (then it fails fast).
   */
  async acquire(dcId: number): Promise<MeWriter | undefined> {
    if (this.closed) return undefined;
    const target = this.resolveDc(dcId);
    if (!target) return undefined;
    const g = this.group(target.dc, target.endpoints);
    const pick = (): MeWriter | undefined => {
      let best: MeWriter | undefined;
      for (const s of g.slots) {
        const w = s.writer;
        if (w && w.state === 'ready' && !w.draining && !w.suspect && (!best || w.conns.size < best.conns.size)) best = w;
      }
      return best;
    };
    const now = pick();
    if (now) return now;
    if (!g.slots.some((s) => s.writer !== undefined && s.writer.state !== 'closed')) return undefined;
    return new Promise<MeWriter | undefined>((resolve) => {
      const done = (): void => {
        const w = pick();
        const connecting = g.slots.some((s) => s.writer !== undefined && s.writer.state !== 'closed');
        if (w || !connecting) {
          clearTimeout(timer);
          g.waiters.delete(done);
          resolve(w);
        }
      };
      const timer = setTimeout(() => {
        g.waiters.delete(done);
        resolve(pick());
      }, this.settings.noWriterWaitMs);
      g.waiters.add(done);
    });
  }

  bind(b: MeBinding): void {
    this.registry.set(b.connId, b);
    b.writer.conns.add(b.connId);
  }

  /** Forgets a client; tells the ME (RPC_CLOSE_CONN) when `notify` and its writer is alive. */
  unbind(b: MeBinding, notify: boolean): void {
    if (this.registry.get(b.connId) !== b) return;
    this.registry.delete(b.connId);
    const w = b.writer;
    w.conns.delete(b.connId);
    this.needDrain.get(w)?.delete(b);
    if (notify && w.state === 'ready') {
      this.add(C.me.me_close_conn_sent_total);
      w.sendBodies([encodeCloseConn(b.connId)], false);
    }
    if (w.draining && w.conns.size === 0) w.close();
  }

  waitDrain(b: MeBinding): void {
    let set = this.needDrain.get(b.writer);
    if (!set) this.needDrain.set(b.writer, (set = new Set()));
    set.add(b);
  }

  /** Live writers per DC, for status and tests. */
  snapshot(): { dc: number; endpoint: string; state: string; clients: number; draining: boolean }[] {
    const out: { dc: number; endpoint: string; state: string; clients: number; draining: boolean }[] = [];
    const add = (w: MeWriter): void => {
      out.push({ dc: w.o.dc, endpoint: epKey(w.o.endpoint), state: w.state, clients: w.conns.size, draining: w.draining });
    };
    for (const g of this.groups.values()) for (const s of g.slots) if (s.writer) add(s.writer);
    for (const w of this.draining) add(w);
    return out;
  }

  /** Everything the status API shows about this worker's pool. */
  status(): MePoolStatus {
    const writers: MeWriterStatus[] = [];
    const add = (w: MeWriter): void => {
      writers.push({
        id: w.id,
        dc: w.o.dc,
        endpoint: epKey(w.o.endpoint),
        state: w.state,
        draining: w.draining,
        degraded: w.suspect,
        clients: w.conns.size,
        generation: w.o.generation ?? '',
        startedAtMs: w.startedAt,
        readyAtMs: w.readyAt,
        idleMs: w.idleMs,
        rttEmaMs: w.rttEmaMs,
        localAddr: w.localAddr,
      });
    };
    const dcs: MeDcStatus[] = [];
    const now = Date.now();
    for (const g of this.groups.values()) {
      for (const s of g.slots) if (s.writer) add(s.writer);
      const quarantined: { endpoint: string; remainingMs: number }[] = [];
      for (const [endpoint, until] of g.quarantine) if (until > now) quarantined.push({ endpoint, remainingMs: until - now });
      dcs.push({ dc: g.dc, endpoints: g.endpoints.map(epKey), slots: g.slots.length, quarantined });
    }
    for (const w of this.draining) add(w);
    return { generation: this.settings.generation, poolSize: Math.max(1, this.settings.poolSize), writers, dcs, counters: { ...this.counters } };
  }

  /** True when the ME DC serving `dcId` has a writer that takes clients now. */
  hasReadyWriter(dcId: number): boolean {
    const t = this.resolveDc(dcId);
    const g = t ? this.groups.get(t.dc) : undefined;
    return g !== undefined && g.slots.some((s) => s.writer !== undefined && s.writer.state === 'ready' && !s.writer.draining);
  }

  close(): void {
    this.closed = true;
    for (const g of this.groups.values()) {
      for (const s of g.slots) {
        if (s.timer) clearTimeout(s.timer);
        s.timer = undefined;
        s.writer?.close();
      }
      for (const w of g.waiters) w();
    }
    for (const w of [...this.draining]) w.close();
    this.groups.clear();
  }

  // ---- internals ------------------------------------------------------------------------------

  private group(dc: number, endpoints: readonly DcEndpoint[]): DcGroup {
    let g = this.groups.get(dc);
    if (g) return g;
    const n = Math.max(1, this.settings.poolSize);
    g = { dc, endpoints, slots: [], quarantine: new Map(), waiters: new Set() };
    for (let i = 0; i < n; i++) g.slots.push({ index: i, endpointIdx: i % endpoints.length, writer: undefined, attempt: 0, timer: undefined, lostEndpoint: undefined });
    this.groups.set(dc, g);
    for (const s of g.slots) this.connectSlot(g, s);
    return g;
  }

  private connectSlot(g: DcGroup, s: Slot): void {
    if (this.closed || this.groups.get(g.dc) !== g) return;
    s.timer = undefined;
    // Prefer the slot's own endpoint; skip quarantined ones while another is usable.
    const now = Date.now();
    for (let k = 0; k < g.endpoints.length; k++) {
      const idx = (s.endpointIdx + k) % g.endpoints.length;
      if ((g.quarantine.get(epKey(g.endpoints[idx]!)) ?? 0) <= now) {
        s.endpointIdx = idx;
        break;
      }
    }
    const st = this.settings;
    this.counters.writerConnectAttempts++;
    this.add(C.middleProxy.reconnect_attempt_total);
    s.writer = new MeWriter(
      {
        id: this.nextWriterId++,
        dc: g.dc,
        endpoint: g.endpoints[s.endpointIdx]!,
        secret: this.secret,
        natIp: st.natIp,
        connectTimeoutMs: st.connectTimeoutMs,
        stallTimeoutMs: st.stallTimeoutMs,
        keepaliveEnabled: st.keepaliveEnabled,
        keepaliveIntervalMs: st.keepaliveIntervalMs,
        keepaliveJitterMs: st.keepaliveJitterMs,
        generation: st.generation,
        stats: this.stats,
      },
      this.writerEvents,
    );
  }

  private slotOf(w: MeWriter): { g: DcGroup; s: Slot } | undefined {
    const g = this.groups.get(w.o.dc);
    const s = g?.slots.find((x) => x.writer === w);
    return g && s ? { g, s } : undefined;
  }

  private onReady(w: MeWriter): void {
    this.counters.writerHandshakes++;
    this.add(C.middleProxy.reconnect_success_total);
    const at = this.slotOf(w);
    if (!at) {
      w.close();
      return;
    }
    const lost = at.s.lostEndpoint;
    if (lost !== undefined) {
      this.add(lost === epKey(w.o.endpoint) ? C.pool.writer_restored_same_endpoint_total : C.pool.writer_restored_fallback_total);
      at.s.lostEndpoint = undefined;
    }
    at.g.quarantine.delete(epKey(w.o.endpoint));
    for (const f of [...at.g.waiters]) f();
  }

  private onMessage(w: MeWriter, m: MeMessage): void {
    if (m.type === 'proxy_ans' || m.type === 'simple_ack' || m.type === 'close_ext') {
      const b = this.registry.get(m.connId);
      if (!b || b.writer !== w) {
        // An answer for a client we no longer have: tell the ME to forget it (as MTProxy does).
        if (m.type !== 'close_ext') {
          this.counters.unknownConnAnswers++;
          this.add(C.me.me_unknown_conn_answers_total);
          this.add(C.middleProxy.route_drop_no_conn_total);
          this.add(C.me.me_close_conn_sent_total);
          w.sendBodies([encodeCloseConn(m.connId)], false);
        }
        return;
      }
      if (m.type === 'close_ext') {
        this.counters.closeExt++;
        this.add(C.me.me_close_ext_total);
        this.unbind(b, false);
      } else if (m.type === 'proxy_ans') {
        this.add(C.middleProxy.d2c_data_frames_total);
        this.add(C.middleProxy.d2c_payload_bytes_total, m.payload.length);
      } else {
        this.add(C.middleProxy.d2c_ack_frames_total);
      }
      b.onMessage(m);
    }
  }

  private onDrain(w: MeWriter): void {
    const set = this.needDrain.get(w);
    if (!set || set.size === 0) return;
    this.needDrain.delete(w);
    for (const b of set) b.onDrain();
  }

  private onClosed(w: MeWriter, err: MeWriterError | undefined): void {
    this.needDrain.delete(w);
    if (this.draining.delete(w)) this.add(C.pool.pool_drain_active, -1);
    const lost = new Error(err?.message ?? `ME writer ${w.label} closed`);
    if (w.conns.size > 0) {
      for (const id of [...w.conns]) {
        const b = this.registry.get(id);
        if (!b) continue;
        this.registry.delete(id);
        this.counters.clientsMovedOrClosed++;
        this.add(C.me.me_clients_lost_total);
        b.onWriterLost(lost);
      }
      w.conns.clear();
    }
    if (err?.code === 'MTE_ERR_ME_STALLED') {
      this.counters.writerStalls++;
      this.add(C.me.me_writer_stalls_total);
    }
    if (err?.code === 'MTE_ERR_ME_HANDSHAKE') this.add(C.middleProxy.handshake_reject_total);
    const at = this.slotOf(w);
    if (!at) return;
    const { g, s } = at;
    s.writer = undefined;
    const wasUp = w.readyAt !== undefined;
    if (wasUp) {
      this.add(C.pool.writer_removed_total);
      s.lostEndpoint = epKey(w.o.endpoint);
    }
    if (err) {
      if (wasUp) this.add(C.pool.writer_removed_unexpected_total);
      this.counters.writerFailures++;
      this.event('me_writer_down', `${w.label} ${err.code}: ${err.message}`);
    }
    const st = this.settings;
    let delay: number;
    if (wasUp && err?.code !== 'MTE_ERR_ME_STALLED') {
      // A link that worked and then dropped: come back soon, but still jittered.
      s.attempt = 0;
      delay = st.reconnectBaseMs * (0.5 + Math.random() * 0.5);
    } else {
      s.attempt++;
      const exp = Math.min(st.reconnectCapMs, st.reconnectBaseMs * 2 ** Math.min(s.attempt, 20));
      delay = exp * (0.5 + Math.random() * 0.5);
      g.quarantine.set(epKey(w.o.endpoint), Date.now() + delay);
      this.add(C.middleProxy.endpoint_quarantine_total);
      s.endpointIdx = (s.endpointIdx + 1) % g.endpoints.length;
    }
    this.add(C.pool.refill_triggered_total);
    s.timer = setTimeout(() => this.connectSlot(g, s), delay);
    s.timer.unref();
    for (const f of [...g.waiters]) f();
  }
}
