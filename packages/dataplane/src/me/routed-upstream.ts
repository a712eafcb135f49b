/**
 * The one place that chooses ME or direct per client: ME when the settings carry an enabled
 * Middle-End table, direct otherwise. When no writer can serve the client's DC, me2dc_fallback
 * routes it direct (counted, with an event each time); without fallback the client is closed
 * (counted). The ME pool is created on first use and follows settings pushes.
 */
import type { WorkerStats } from '@mtedge/stats';
import { DirectUpstream } from '../direct-upstream.js';
import type { WorkerSettings } from '../settings.js';
import { UpstreamError, type Upstream, type UpstreamLeg, type UpstreamLegEvents, type UpstreamRequest } from '../upstream.js';
import { MeUnavailableError, MeUpstream } from './me-upstream.js';
import { MePool } from './pool.js';

export class RoutedUpstream implements Upstream {
  private readonly direct: DirectUpstream;
  private pool: MePool | undefined;
  private me: MeUpstream | undefined;

  constructor(
    private readonly settings: () => WorkerSettings,
    stats: WorkerStats,
    private readonly event: (type: string, context: string) => void,
  ) {
    this.direct = new DirectUpstream(settings, stats);
  }

  /** The live pool (undefined until ME mode served its first client). */
  get mePool(): MePool | undefined {
    return this.pool;
  }

  /** A settings push: a new ME generation starts draining the old writers now, not at the next client. */
  settingsChanged(): void {
    const me = this.settings().me;
    if (this.pool && me !== undefined && me.enabled && this.pool.current !== me) this.pool.update(me);
  }

  async connect(req: UpstreamRequest, events: UpstreamLegEvents): Promise<UpstreamLeg> {
    const me = this.settings().me;
    if (me === undefined || !me.enabled) return this.direct.connect(req, events);
    if (!this.pool) {
      this.pool = new MePool(me, this.event);
      this.me = new MeUpstream(this.pool);
    } else if (this.pool.current !== me) {
      this.pool.update(me);
    }
    try {
      return await this.me!.connect(req, events);
    } catch (err) {
      if (!(err instanceof MeUnavailableError)) throw err;
      if (me.fallbackToDirect) {
        this.pool.counters.fallbackDirect++;
        this.event('me_fallback_direct', `dc=${req.dcId} user=${req.user.name} ${err.message}`);
        return this.direct.connect(req, events);
      }
      this.pool.counters.noWriterClosed++;
      this.event('me_no_writer', `dc=${req.dcId} user=${req.user.name} ${err.message}; me2dc_fallback=false, client closed`);
      throw new UpstreamError('MTE_ERR_DC_CONNECT', err.message, req.dcId, undefined, { cause: err });
    }
  }

  close(): void {
    this.pool?.close();
  }
}
