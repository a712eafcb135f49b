/**
 * A worker's Middle-End pool: per DC a fixed number of writer slots spread over the DC's
 * endpoints, each slot reconnecting on its own schedule (exponential back-off with jitter, so a
 * wrong secret or a dead ME cannot become a handshake storm), endpoint quarantine after
 * failures, and the conn_id registry that routes ME answers to client legs. Writers of an old
 * generation (new secret or endpoint table) stop taking clients and close once empty.
 *
 * Hardswap (settings.hardswap, telemt's default): a new generation first warms beside the one in
 * force, which keeps taking new clients, and is swapped in once warm. Warm means: every DC of
 * the new table has a ready writer of the new generation, or the active generation has no ready
 * writer for that DC either (swapping cannot lose it). So a dead new endpoint never takes
 * service away: the old generation keeps serving and the swap stays pending (reported with its
 * age) until the new one comes up, while a dead old generation is replaced at once. Meanwhile a
 * DC the active generation cannot serve takes the warming generation's ready writers.
 */
import { randomBytes } from 'node:crypto';
import { decodeMeMessage, encodeCloseConn, RPC_ANS_CONN_ID_AT, RPC_ANS_PAYLOAD_AT, rpcPacketBody, type MeMessage } from '@mtedge/protocol';
import { C, type WorkerStats } from '@mtedge/stats';
import type { DcEndpoint } from '../settings.js';
import type { MeWorkerSettings } from './settings.js';
import { MeWriter, type MeWriterError, type MeWriterEvents, type MeWriterState } from './writer.js';

/** What the pool needs from a client leg bound to a writer. */
export interface MeBinding {
  readonly connId: bigint;
  writer: MeWriter;
  onMessage(m: MeMessage): void;
  /** An RPC_PROXY_ANS: `len` payload bytes at `start` of `packet`, a whole RPC packet the leg may frame in place. */
  onAnswer(packet: Buffer, start: number, len: number): void;
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
  /**
   * Of the generation warming for a hardswap and not taking clients (a ready one does take them
   * while the active generation has no ready writer for its DC).
   */
  readonly warm: boolean;
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

/** One generation of this pool: `seq` counts per pool (1 = first), `id` is the settings hash. */
export interface MeGenerationStatus {
  readonly seq: number;
  readonly id: string;
  /** DCs with endpoints in its table (0: ME inputs not loaded, no writers). */
  readonly dcs: number;
}

export interface MePoolGenerations {
  readonly hardswap: boolean;
  /** The generation new clients bind to. */
  readonly active: MeGenerationStatus;
  /** The next generation, warming until the swap (hardswap only). */
  readonly warm: MeGenerationStatus | undefined;
  /** When the warm generation arrived (the pending hardswap's start). */
  readonly warmSinceMs: number | undefined;
  /** Older generations whose writers still hold clients. */
  readonly draining: readonly MeGenerationStatus[];
}

/** A worker's whole pool, for the supervisor's ME status. */
export interface MePoolStatus {
  /** Hash of the active generation. */
  readonly generation: string;
  readonly generations: MePoolGenerations;
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
  /** Waiting for its turn in a paced hardswap warm-up (settings.warmup): not dialed yet. */
  queued: boolean;
  /** Warm-up retries used (settings.warmup.extraPasses). */
  warmPasses: number;
}

/** One generation's writers and the table + secret they were made with. */
interface Generation {
  readonly seq: number;
  readonly id: string;
  readonly endpoints: MeWorkerSettings['endpoints'];
  readonly fallback: NonNullable<MeWorkerSettings['fallbackEndpoints']>;
  readonly defaultDc: number | undefined;
  readonly secret: Buffer;
  readonly groups: Map<number, DcGroup>;
  readonly sinceMs: number;
}

interface DcGroup {
  readonly gen: Generation;
  readonly dc: number;
  readonly endpoints: readonly DcEndpoint[];
  /** The other IP family's endpoints for this DC (tried only while the preferred ones fail). */
  readonly fallback: readonly DcEndpoint[];
  readonly slots: Slot[];
  /** Endpoint key -> quarantined until (epoch ms). */
  readonly quarantine: Map<string, number>;
  /** A slot ran out of warm-up retries (reported once). */
  warmPassesSpent?: boolean;
}

/** Failed attempts in a row on the preferred family before a slot also tries the other one. */
const FAMILY_FALLBACK_AFTER = 2;

const lowOf = (connId: bigint): number => Number(connId & 0xffffffffn);

// Bracketed for IPv6, as the API shows endpoints (and tells the family by the bracket).
const epKey = (e: DcEndpoint): string => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);

const genStatus = (g: Generation): MeGenerationStatus => ({ seq: g.seq, id: g.id, dcs: Object.values(g.endpoints).filter((e) => e.length > 0).length });

const hasReady = (g: DcGroup | undefined): boolean => g !== undefined && g.slots.some((s) => s.writer !== undefined && s.writer.state === 'ready' && !s.writer.draining);
/** A writer of the group is up or on its way up. */
const hasLive = (g: DcGroup): boolean => g.slots.some((s) => s.writer !== undefined && s.writer.state !== 'closed');

/** The ME DC of `gen`'s table serving a client DC: exact, then |dc| (media -> main), then `default`. */
function resolveIn(gen: Generation, dcId: number): { dc: number; endpoints: readonly DcEndpoint[] } | undefined {
  for (const k of [dcId, Math.abs(dcId) % 10000, gen.defaultDc]) {
    if (k === undefined) continue;
    const eps = gen.endpoints[String(k)];
    if (eps && eps.length > 0) return { dc: k, endpoints: eps };
  }
  return undefined;
}

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
  private active: Generation;
  private warm: Generation | undefined;
  private genSeq = 0;
  /** Bindings by the low half of their conn id (the high half is this pool's, checked on use). */
  private readonly registry = new Map<number, MeBinding>();
  private readonly needDrain = new Map<MeWriter, Set<MeBinding>>();
  /** Writers of retired generations -> their generation. */
  private readonly draining = new Map<MeWriter, MeGenerationStatus>();
  /** acquire() calls waiting for a writer: woken on every ready, close and swap. */
  private readonly waiters = new Set<() => void>();
  private nextWriterId = 1;
  private connLow = 0;
  private readonly connHigh = randomBytes(4).readUInt32LE(0);
  private closed = false;
  /** When the next paced warm-up dial may go (settings.warmup). */
  private warmDialAt = 0;
  private readonly writerEvents: MeWriterEvents;

  constructor(
    private settings: MeWorkerSettings,
    private readonly event: (type: string, context: string) => void,
    private readonly stats?: WorkerStats,
  ) {
    this.active = this.newGeneration(settings);
    this.writerEvents = {
      ready: (w) => this.onReady(w),
      message: (w, m) => this.onMessage(w, m),
      answer: (w, packet) => this.onAnswer(w, packet),
      drain: (w) => this.onDrain(w),
      closed: (w, err) => this.onClosed(w, err),
    };
  }

  /** The settings last pushed (their table may still be warming: see resolveDc). */
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
    for (const gen of [this.active, this.warm]) {
      if (!gen) continue;
      const paced = gen === this.warm && this.settings.warmup !== undefined;
      for (const [k, eps] of Object.entries(gen.endpoints)) {
        const dc = Number(k);
        if (Number.isInteger(dc) && eps.length > 0) this.group(gen, dc, eps, paced);
      }
      if (paced) this.scheduleWarmDials(gen);
    }
  }

  /**
   * A paced warm-up (telemt's me_hardswap_warmup_*): the generation's queued slots dial one at a
   * time, a random [delayMinMs, delayMaxMs] apart, every DC's first slot before any DC's second,
   * so the swap's condition (a ready writer per DC) is met first and the MEs see no burst.
   */
  private scheduleWarmDials(gen: Generation): void {
    const w = this.settings.warmup;
    if (!w) return;
    const groups = [...gen.groups.values()];
    const most = Math.max(0, ...groups.map((g) => g.slots.length));
    for (let i = 0; i < most; i++) {
      for (const g of groups) {
        const s = g.slots[i];
        if (!s || !s.queued || s.timer !== undefined) continue;
        const now = Date.now();
        this.warmDialAt = Math.max(this.warmDialAt, now) + w.delayMinMs + Math.random() * (w.delayMaxMs - w.delayMinMs);
        s.timer = setTimeout(() => this.dialNow(g, s), this.warmDialAt - now);
        s.timer.unref();
      }
    }
  }

  /**
   * New settings. Same generation: only the knobs change. A new one: with hardswap it warms
   * beside the active one and is swapped in by checkWarm(); without, the old writers drain now
   * and the new ones start on demand.
   */
  update(next: MeWorkerSettings): void {
    const prevWarmup = this.settings.warmup;
    this.settings = next;
    if (this.warm && next.generation === this.warm.id) {
      if (!next.hardswap) this.swap();
      else if (JSON.stringify(next.warmup) !== JSON.stringify(prevWarmup)) this.reschedule(this.warm);
      return;
    }
    if (next.generation === this.active.id) {
      // Back to the generation in force before the next one got warm: forget that one.
      if (this.warm) this.retire(this.warm);
      this.warm = undefined;
      return;
    }
    if (this.warm) this.retire(this.warm);
    this.warm = this.newGeneration(next);
    // A retired warm-up's schedule does not hold this one back.
    this.warmDialAt = 0;
    if (!next.hardswap || this.closed) {
      this.swap();
      return;
    }
    this.event('me_generation_warming', `generation=${this.warm.seq} id=${next.generation.slice(0, 12)}`);
    this.warmUp();
    this.checkWarm();
  }

  newConnId(): bigint {
    // After 2^32 ids the counter wraps: skip any still bound, so no live client is shadowed.
    do this.connLow = (this.connLow + 1) >>> 0;
    while (this.registry.has(this.connLow));
    return (BigInt(this.connHigh) << 32n) | BigInt(this.connLow);
  }

  /** The ME DC that serves a client DC in the active table: exact, then |dc| (media -> main), then `default`. */
  resolveDc(dcId: number): { dc: number; endpoints: readonly DcEndpoint[] } | undefined {
    return this.resolveGen(dcId)?.target;
  }

  /** The active table first; a DC only the warming table lists is served by that generation. */
  private resolveGen(dcId: number): { gen: Generation; target: { dc: number; endpoints: readonly DcEndpoint[] } } | undefined {
    for (const gen of [this.active, this.warm]) {
      const target = gen && resolveIn(gen, dcId);
      if (gen && target) return { gen, target };
    }
    return undefined;
  }

  /**
   * A ready writer of the client's DC, least loaded first; waits up to `noWriterWaitMs` while a
   * slot is (re)connecting, not while every slot sits in back-off (then it fails fast).
   */
  async acquire(dcId: number): Promise<MeWriter | undefined> {
    if (this.closed) return undefined;
    const r = this.resolveGen(dcId);
    if (!r) return undefined;
    const g = this.group(r.gen, r.target.dc, r.target.endpoints);
    this.dialQueuedNow(g);
    if (this.warm && r.gen !== this.warm && !hasLive(g)) {
      // The active generation has nothing for this DC now: the warming one serves it (see the
      // file comment), so its queued writer does not wait its turn either.
      const t = resolveIn(this.warm, dcId);
      const wg = t && this.warm.groups.get(t.dc);
      if (wg) this.dialQueuedNow(wg);
    }
    const now = this.pick(dcId);
    if (now) return now;
    if (!this.connecting(dcId)) return undefined;
    return new Promise<MeWriter | undefined>((resolve) => {
      const done = (): void => {
        const w = this.pick(dcId);
        if (w || !this.connecting(dcId)) {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve(w);
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        resolve(this.pick(dcId));
      }, this.settings.noWriterWaitMs);
      this.waiters.add(done);
    });
  }

  bind(b: MeBinding): void {
    this.registry.set(lowOf(b.connId), b);
    b.writer.conns.add(b.connId);
  }

  /** Forgets a client; tells the ME (RPC_CLOSE_CONN) when `notify` and its writer is alive. */
  unbind(b: MeBinding, notify: boolean): void {
    if (this.registry.get(lowOf(b.connId)) !== b) return;
    this.registry.delete(lowOf(b.connId));
    const w = b.writer;
    w.conns.delete(b.connId);
    this.needDrain.get(w)?.delete(b);
    if (notify && w.state === 'ready') {
      this.add(C.me.me_close_conn_sent_total);
      w.sendBodies([encodeCloseConn(b.connId)], false);
    }
    if (w.draining && w.conns.size === 0) w.closeWhenFlushed();
  }

  waitDrain(b: MeBinding): void {
    let set = this.needDrain.get(b.writer);
    if (!set) this.needDrain.set(b.writer, (set = new Set()));
    set.add(b);
  }

  /** Live writers per DC, for tests (`generation`: the pool's seq; `warm`: of the warming generation; `slot`: -1 once draining). */
  snapshot(): { dc: number; slot: number; endpoint: string; state: string; clients: number; draining: boolean; warm: boolean; generation: number }[] {
    const out: { dc: number; slot: number; endpoint: string; state: string; clients: number; draining: boolean; warm: boolean; generation: number }[] = [];
    const add = (w: MeWriter, gen: MeGenerationStatus, warm: boolean, slot: number): void => {
      out.push({ dc: w.o.dc, slot, endpoint: epKey(w.o.endpoint), state: w.state, clients: w.conns.size, draining: w.draining, warm, generation: gen.seq });
    };
    for (const gen of [this.active, this.warm]) {
      if (!gen) continue;
      for (const g of gen.groups.values()) for (const s of g.slots) if (s.writer) add(s.writer, genStatus(gen), gen === this.warm, s.index);
    }
    // Draining writers left their slots.
    for (const [w, gen] of this.draining) add(w, gen, false, -1);
    return out;
  }

  /** Everything the status API shows about this worker's pool. */
  status(): MePoolStatus {
    const writers: MeWriterStatus[] = [];
    const add = (w: MeWriter, warm: boolean): void => {
      writers.push({
        id: w.id,
        dc: w.o.dc,
        endpoint: epKey(w.o.endpoint),
        state: w.state,
        draining: w.draining,
        degraded: w.suspect,
        clients: w.conns.size,
        generation: w.o.generation ?? '',
        warm,
        startedAtMs: w.startedAt,
        readyAtMs: w.readyAt,
        idleMs: w.idleMs,
        rttEmaMs: w.rttEmaMs,
        localAddr: w.localAddr,
      });
    };
    const now = Date.now();
    const quarantine = new Map<number, Map<string, number>>();
    for (const gen of [this.active, this.warm]) {
      if (!gen) continue;
      for (const g of gen.groups.values()) {
        const standby = gen === this.warm && hasReady(this.active.groups.get(g.dc));
        for (const s of g.slots) if (s.writer) add(s.writer, gen === this.warm && (standby || s.writer.state !== 'ready'));
        let q = quarantine.get(g.dc);
        if (!q) quarantine.set(g.dc, (q = new Map()));
        for (const [endpoint, until] of g.quarantine) if (until > now) q.set(endpoint, Math.max(until - now, q.get(endpoint) ?? 0));
      }
    }
    const dcs: MeDcStatus[] = [];
    for (const g of this.active.groups.values()) {
      const quarantined = [...(quarantine.get(g.dc) ?? [])].map(([endpoint, remainingMs]) => ({ endpoint, remainingMs }));
      dcs.push({ dc: g.dc, endpoints: g.endpoints.map(epKey), slots: g.slots.length, quarantined });
    }
    for (const [dc, q] of quarantine) {
      // A DC only the warming generation has: its quarantine still matters, its slots do not count yet.
      if (!this.active.groups.has(dc) && q.size > 0) {
        dcs.push({ dc, endpoints: [...(this.warm?.groups.get(dc)?.endpoints ?? [])].map(epKey), slots: 0, quarantined: [...q].map(([endpoint, remainingMs]) => ({ endpoint, remainingMs })) });
      }
    }
    const draining = new Map<number, MeGenerationStatus>();
    for (const [w, gen] of this.draining) {
      add(w, false);
      draining.set(gen.seq, gen);
    }
    const generations: MePoolGenerations = {
      hardswap: this.settings.hardswap,
      active: genStatus(this.active),
      warm: this.warm && genStatus(this.warm),
      warmSinceMs: this.warm?.sinceMs,
      draining: [...draining.values()].sort((a, b) => a.seq - b.seq),
    };
    return { generation: this.active.id, generations, poolSize: Math.max(1, this.settings.poolSize), writers, dcs, counters: { ...this.counters } };
  }

  /** True when the ME DC serving `dcId` has a writer that takes clients now. */
  hasReadyWriter(dcId: number): boolean {
    return this.pick(dcId) !== undefined;
  }

  close(): void {
    this.closed = true;
    for (const gen of [this.active, this.warm]) {
      if (!gen) continue;
      for (const g of gen.groups.values()) {
        for (const s of g.slots) {
          if (s.timer) clearTimeout(s.timer);
          s.timer = undefined;
          s.writer?.close();
        }
      }
      gen.groups.clear();
    }
    for (const w of [...this.waiters]) w();
    for (const w of [...this.draining.keys()]) w.close();
  }

  // ---- internals ------------------------------------------------------------------------------

  private newGeneration(s: MeWorkerSettings): Generation {
    return {
      seq: ++this.genSeq,
      id: s.generation,
      endpoints: s.endpoints,
      fallback: s.fallbackEndpoints ?? {},
      defaultDc: s.defaultDc,
      secret: Buffer.from(s.secretHex, 'hex'),
      groups: new Map(),
      sinceMs: Date.now(),
    };
  }

  /**
   * The writer for a new client of `dcId`: the active generation's least loaded ready one; the
   * warming generation's only when the active one has none for that DC (better than no ME).
   */
  private pick(dcId: number): MeWriter | undefined {
    for (const gen of [this.active, this.warm]) {
      if (!gen) continue;
      const t = resolveIn(gen, dcId);
      const g = t && gen.groups.get(t.dc);
      if (!g) continue;
      let best: MeWriter | undefined;
      for (const s of g.slots) {
        const w = s.writer;
        if (w && w.state === 'ready' && !w.draining && !w.suspect && (!best || w.conns.size < best.conns.size)) best = w;
      }
      if (best) return best;
    }
    return undefined;
  }

  /** Some writer that could serve `dcId` is still on its way up. */
  private connecting(dcId: number): boolean {
    for (const gen of [this.active, this.warm]) {
      if (!gen) continue;
      const t = resolveIn(gen, dcId);
      const g = t && gen.groups.get(t.dc);
      if (g?.slots.some((s) => s.writer !== undefined && s.writer.state !== 'closed')) return true;
    }
    return false;
  }

  private wake(): void {
    for (const f of [...this.waiters]) f();
  }

  /** Swap the warming generation in once it is warm (see the file comment for the rule). */
  private checkWarm(): void {
    const next = this.warm;
    if (!next || this.closed) return;
    for (const [k, eps] of Object.entries(next.endpoints)) {
      const dc = Number(k);
      if (!Number.isInteger(dc) || eps.length === 0) continue;
      if (hasReady(next.groups.get(dc)) || !hasReady(this.active.groups.get(dc))) continue;
      return;
    }
    this.swap();
  }

  /** The warm generation takes new clients; the old one drains. */
  private swap(): void {
    const next = this.warm;
    if (!next) return;
    const prev = this.active;
    this.warm = undefined;
    this.active = next;
    this.retire(prev);
    // Swapped with nothing to protect for a DC (no ready writer of it in either generation, e.g.
    // the first inputs, or every old writer dead): pacing would only delay its service.
    for (const g of next.groups.values()) if (!hasReady(g)) for (const s of g.slots) if (s.queued) this.dialNow(g, s);
    this.add(C.pool.pool_swap_total);
    this.event('me_generation_applied', `generation=${next.seq} id=${next.id.slice(0, 12)} warmup_ms=${Date.now() - next.sinceMs}`);
    this.wake();
  }

  /** A generation leaves service: idle writers close, busy ones drain (no new clients, TTL). */
  private retire(gen: Generation): void {
    const st = genStatus(gen);
    for (const g of gen.groups.values()) {
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
        this.draining.set(w, st);
        this.add(C.pool.pool_drain_active);
        const t = setTimeout(() => {
          if (w.state !== 'closed') this.add(C.pool.pool_force_close_total);
          w.close();
        }, this.settings.drainTtlMs);
        t.unref();
      }
    }
    gen.groups.clear();
  }

  /** The DC's writer slots in `gen`, made (and dialed, unless `paced`: see scheduleWarmDials) on first use. */
  private group(gen: Generation, dc: number, endpoints: readonly DcEndpoint[], paced = false): DcGroup {
    let g = gen.groups.get(dc);
    if (g) return g;
    const n = Math.max(1, this.settings.poolSize);
    g = { gen, dc, endpoints, fallback: gen.fallback[String(dc)] ?? [], slots: [], quarantine: new Map() };
    for (let i = 0; i < n; i++) g.slots.push({ index: i, endpointIdx: i % endpoints.length, writer: undefined, attempt: 0, timer: undefined, lostEndpoint: undefined, queued: paced, warmPasses: 0 });
    gen.groups.set(dc, g);
    if (!paced) for (const s of g.slots) this.connectSlot(g, s);
    return g;
  }

  /** The warm-up knobs changed mid-warm-up (hot reload): the queued slots take the new pacing. */
  private reschedule(gen: Generation): void {
    for (const g of gen.groups.values()) {
      for (const s of g.slots) {
        if (!s.queued || !s.timer) continue;
        clearTimeout(s.timer);
        s.timer = undefined;
        if (!this.settings.warmup) this.dialNow(g, s);
      }
    }
    this.warmDialAt = 0;
    this.scheduleWarmDials(gen);
  }

  /** A client waits on a DC whose slots are all still queued for a paced warm-up: one goes now. */
  private dialQueuedNow(g: DcGroup): void {
    if (hasLive(g)) return;
    const s = g.slots.find((x) => x.queued);
    if (s) this.dialNow(g, s);
  }

  /** A queued slot (paced warm-up) dials without waiting its turn. */
  private dialNow(g: DcGroup, s: Slot): void {
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    s.queued = false;
    this.connectSlot(g, s);
  }

  /**
   * The slot's own endpoint, or the next one out of quarantine. After two failures in a row a
   * slot with other-family endpoints alternates: every second attempt goes to the other family
   * (so a broken IPv6 route, say, does not take the DC away), the rest keep trying the preferred.
   */
  private pickEndpoint(g: DcGroup, s: Slot): DcEndpoint {
    const now = Date.now();
    const free = (e: DcEndpoint): boolean => (g.quarantine.get(epKey(e)) ?? 0) <= now;
    if (g.fallback.length > 0 && s.attempt >= FAMILY_FALLBACK_AFTER && s.attempt % 2 === 0) {
      const n = g.fallback.length;
      const first = (s.index + s.attempt / 2) % n;
      let pick: DcEndpoint | undefined;
      for (let k = 0; k < n && pick === undefined; k++) {
        const e = g.fallback[(first + k) % n]!;
        if (free(e)) pick = e;
      }
      // Every fallback endpoint in quarantine: a free preferred one goes first, else the fallback anyway.
      if (pick === undefined && !g.endpoints.some(free)) pick = g.fallback[first]!;
      if (pick !== undefined) {
        this.event('me_family_fallback', `dc=${g.dc} slot=${s.index} endpoint=${epKey(pick)} after ${s.attempt} failed attempts on ${epKey(g.endpoints[s.endpointIdx]!)}`);
        return pick;
      }
    }
    for (let k = 0; k < g.endpoints.length; k++) {
      const idx = (s.endpointIdx + k) % g.endpoints.length;
      if (free(g.endpoints[idx]!)) {
        s.endpointIdx = idx;
        break;
      }
    }
    return g.endpoints[s.endpointIdx]!;
  }

  /** The group is of a generation in service (active or warming) and still its DC's group. */
  private live(g: DcGroup): boolean {
    return (g.gen === this.active || g.gen === this.warm) && g.gen.groups.get(g.dc) === g;
  }

  /**
   * Back-off base for a slot's next try after a failure: while its generation warms, the warm-up
   * passes (passBackoffBaseMs * 2^n, settings.warmup.extraPasses of them) and then, as telemt's
   * warm-up gives up there, an event and the usual reconnect back-off.
   */
  private retryBaseMs(g: DcGroup, s: Slot): number {
    const st = this.settings;
    const w = st.warmup;
    if (w !== undefined && g.gen === this.warm) {
      if (s.warmPasses < w.extraPasses) return w.passBackoffBaseMs * 2 ** s.warmPasses++;
      if (!g.warmPassesSpent) {
        g.warmPassesSpent = true;
        this.event('me_warmup_passes_spent', `dc=${g.dc} generation=${g.gen.seq}: a writer still failed after ${w.extraPasses} warm-up retries; it goes on with the usual back-off`);
      }
    }
    return st.reconnectBaseMs * 2 ** Math.min(s.attempt, 20);
  }

  private connectSlot(g: DcGroup, s: Slot): void {
    if (this.closed || !this.live(g)) return;
    s.timer = undefined;
    const endpoint = this.pickEndpoint(g, s);
    const st = this.settings;
    this.counters.writerConnectAttempts++;
    this.add(C.middleProxy.reconnect_attempt_total);
    s.writer = new MeWriter(
      {
        id: this.nextWriterId++,
        dc: g.dc,
        endpoint,
        secret: g.gen.secret,
        natIp: st.natIp,
        connectTimeoutMs: st.connectTimeoutMs,
        stallTimeoutMs: st.stallTimeoutMs,
        keepaliveEnabled: st.keepaliveEnabled,
        keepaliveIntervalMs: st.keepaliveIntervalMs,
        keepaliveJitterMs: st.keepaliveJitterMs,
        generation: g.gen.id,
        stats: this.stats,
      },
      this.writerEvents,
    );
  }

  private slotOf(w: MeWriter): { g: DcGroup; s: Slot } | undefined {
    for (const gen of [this.active, this.warm]) {
      const g = gen?.groups.get(w.o.dc);
      const s = g?.slots.find((x) => x.writer === w);
      if (g && s) return { g, s };
    }
    return undefined;
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
    at.s.warmPasses = 0;
    if (at.g.gen === this.warm) this.checkWarm();
    this.wake();
  }

  /**
   * RPC_PROXY_ANS without building a message object: the hot path of every answer. Anything
   * unusual (unknown conn id, another writer's) takes the general path.
   */
  private onAnswer(w: MeWriter, packet: Buffer): void {
    const b = this.registry.get(packet.readUInt32LE(RPC_ANS_CONN_ID_AT));
    if (b === undefined || b.writer !== w || packet.readUInt32LE(RPC_ANS_CONN_ID_AT + 4) !== this.connHigh) {
      return this.onMessage(w, decodeMeMessage(rpcPacketBody(packet)));
    }
    const n = packet.length - RPC_ANS_PAYLOAD_AT - 4;
    this.add(C.middleProxy.d2c_data_frames_total);
    this.add(C.middleProxy.d2c_payload_bytes_total, n);
    b.onAnswer(packet, RPC_ANS_PAYLOAD_AT, n);
  }

  /** An RPC_PROXY_ANS gets here only when onAnswer found no client for it. */
  private onMessage(w: MeWriter, m: MeMessage): void {
    if (m.type === 'proxy_ans' || m.type === 'simple_ack' || m.type === 'close_ext') {
      const b = this.registry.get(lowOf(m.connId));
      if (!b || b.writer !== w || b.connId !== m.connId) {
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
      } else if (m.type === 'simple_ack') {
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
        const b = this.registry.get(lowOf(id));
        if (!b || b.connId !== id) continue;
        this.registry.delete(lowOf(id));
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
    const key = epKey(w.o.endpoint);
    // A writer on the other family's endpoint (family fallback) says nothing about the slot's own.
    const onFallback = !g.endpoints.some((e) => epKey(e) === key);
    let delay: number;
    if (wasUp && err?.code !== 'MTE_ERR_ME_STALLED') {
      // A link that worked and then dropped: come back soon, but still jittered; to the family
      // that worked first if it was the fallback one.
      s.attempt = onFallback ? FAMILY_FALLBACK_AFTER : 0;
      delay = st.reconnectBaseMs * (0.5 + Math.random() * 0.5);
    } else {
      s.attempt++;
      const exp = Math.min(st.reconnectCapMs, this.retryBaseMs(g, s));
      delay = exp * (0.5 + Math.random() * 0.5);
      g.quarantine.set(key, Date.now() + delay);
      this.add(C.middleProxy.endpoint_quarantine_total);
      if (!onFallback) s.endpointIdx = (s.endpointIdx + 1) % g.endpoints.length;
    }
    this.add(C.pool.refill_triggered_total);
    s.timer = setTimeout(() => this.connectSlot(g, s), delay);
    s.timer.unref();
    // The active generation lost a link: a pending swap may no longer lose anything.
    if (wasUp && g.gen === this.active) this.checkWarm();
    this.wake();
  }
}
