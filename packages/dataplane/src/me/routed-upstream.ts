/**
 * The one place that chooses ME or direct per client: ME when the settings carry an enabled
 * Middle-End table, direct otherwise. When no writer can serve the client's DC, me2dc_fallback
 * routes it direct (counted, with an event each time); without fallback the client is closed
 * (counted). The ME pool starts with the first ME settings (every DC warmed) and follows
 * settings pushes. Per DC it remembers the reroute to direct, for the status API.
 */
import { C, type WorkerStats } from '@mtedge/stats';
import { DirectUpstream } from '../direct-upstream.js';
import type { WorkerSettings } from '../settings.js';
import { UpstreamError, type Upstream, type UpstreamLeg, type UpstreamLegEvents, type UpstreamRequest } from '../upstream.js';
import { MeUnavailableError, MeUpstream } from './me-upstream.js';
import { MePool, type MePoolStatus } from './pool.js';

/** A DC whose clients ME could not take: since when, how many, and the last reason. */
export interface MeRerouteStatus {
  readonly dc: number;
  /** Still rerouting: the DC has no writer that takes clients right now. */
  readonly active: boolean;
  readonly sinceMs: number;
  readonly lastMs: number;
  /** Clients of this DC sent direct (fallback on) or closed (fallback off) since `sinceMs`. */
  readonly count: number;
  readonly reason: string;
}

export interface MeWorkerStatus {
  readonly pool: MePoolStatus | undefined;
  readonly reroutes: readonly MeRerouteStatus[];
}

interface Reroute {
  sinceMs: number;
  lastMs: number;
  count: number;
  reason: string;
}

export class RoutedUpstream implements Upstream {
  private readonly direct: DirectUpstream;
  private pool: MePool | undefined;
  private me: MeUpstream | undefined;
  private readonly reroutes = new Map<number, Reroute>();

  constructor(
    private readonly settings: () => WorkerSettings,
    private readonly stats: WorkerStats,
    private readonly event: (type: string, context: string) => void,
  ) {
    this.direct = new DirectUpstream(settings, stats);
    this.settingsChanged();
  }

  /** The live pool (undefined while ME mode is off or its inputs have not loaded). */
  get mePool(): MePool | undefined {
    return this.pool;
  }

  /** A settings push: start the pool, or hand it the new ME generation (warmed, then swapped in). */
  settingsChanged(): void {
    const me = this.settings().me;
    if (me === undefined || !me.enabled) return;
    if (!this.pool) {
      this.pool = new MePool(me, this.event, this.stats);
      this.me = new MeUpstream(this.pool);
    } else if (this.pool.current !== me) {
      this.pool.update(me);
    }
    this.pool.warmUp();
  }

  /** Pool state and per-DC reroutes, for the supervisor's me-status request. */
  status(): MeWorkerStatus {
    const pool = this.pool;
    const reroutes: MeRerouteStatus[] = [];
    for (const [dc, r] of this.reroutes) {
      reroutes.push({ dc, active: pool === undefined || !pool.hasReadyWriter(dc), sinceMs: r.sinceMs, lastMs: r.lastMs, count: r.count, reason: r.reason });
    }
    return { pool: pool?.status(), reroutes };
  }

  private noteReroute(dc: number, reason: string): void {
    const now = Date.now();
    const r = this.reroutes.get(dc);
    if (r && (this.pool === undefined || !this.pool.hasReadyWriter(dc))) {
      r.lastMs = now;
      r.count++;
      r.reason = reason;
    } else {
      // A fresh outage (or the first one): restart the clock.
      this.reroutes.set(dc, { sinceMs: now, lastMs: now, count: 1, reason });
    }
  }

  async connect(req: UpstreamRequest, events: UpstreamLegEvents): Promise<UpstreamLeg> {
    const me = this.settings().me;
    if (me === undefined || !me.enabled) return this.direct.connect(req, events);
    if (!this.pool) this.settingsChanged();
    else if (this.pool.current !== me) this.pool.update(me);
    const pool = this.pool!;
    const dc = pool.resolveDc(req.dcId)?.dc ?? req.dcId;
    try {
      const leg = await this.me!.connect(req, events);
      // Served by ME again: the outage of this DC (if any) is over.
      if (this.reroutes.size > 0) this.reroutes.delete(dc);
      return leg;
    } catch (err) {
      if (!(err instanceof MeUnavailableError)) throw err;
      this.noteReroute(dc, err.message);
      if (me.fallbackToDirect) {
        pool.counters.fallbackDirect++;
        this.stats.inc(C.me.me_fallback_direct_total);
        this.event('me_fallback_direct', `dc=${dc} client_dc=${req.dcId} user=${req.user.name} ${err.message}`);
        return this.direct.connect(req, events);
      }
      pool.counters.noWriterClosed++;
      this.stats.inc(C.me.me_no_writer_closed_total);
      this.event('me_no_writer', `dc=${dc} client_dc=${req.dcId} user=${req.user.name} ${err.message}; me2dc_fallback=false, client closed`);
      throw new UpstreamError('MTE_ERR_DC_CONNECT', err.message, req.dcId, undefined, { cause: err });
    }
  }

  close(): void {
    this.pool?.close();
  }
}
