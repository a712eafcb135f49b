/**
 * A worker's accept loop: one net.Server per listening descriptor handed over by the supervisor
 * (its own dup of the shared socket), one Session per client, and the live-session index that
 * lets a config push or an API call cut a user's sessions.
 */
import net from 'node:net';
import { C, ReplayCache, type WorkerStats } from '@mtedge/stats';
import { Session, type SessionTracker } from './session.js';
import type { WorkerSettings } from './settings.js';
import { RoutedUpstream } from './me/routed-upstream.js';
import type { Upstream } from './upstream.js';
import { UserRegistry } from './user-registry.js';

const SWEEP_INTERVAL_MS = 1000;

export interface ListenFd {
  readonly fd: number;
  readonly label: string;
}

export interface AcceptLoopOptions {
  readonly stats: WorkerStats;
  readonly settings: WorkerSettings;
  readonly event: (type: string, context: string) => void;
  /** Defaults to direct, or Middle-End when the settings carry `me` (see RoutedUpstream). */
  readonly upstream?: Upstream;
}

export class AcceptLoop implements SessionTracker {
  private settings: WorkerSettings;
  private users: UserRegistry;
  private readonly servers: net.Server[] = [];
  private readonly live = new Map<string, Set<Session>>();
  private readonly replay: ReplayCache;
  private readonly upstream: Upstream;

  constructor(private readonly opts: AcceptLoopOptions) {
    this.settings = opts.settings;
    this.users = new UserRegistry(opts.settings.users);
    this.replay = new ReplayCache(opts.stats.bufs);
    this.upstream = opts.upstream ?? new RoutedUpstream(() => this.settings, opts.stats, opts.event);
  }

  /**
   * Limits that change with time rather than with traffic: an expiration passing during a live
   * session, and a quota crossed by another worker while this one's sessions sit idle.
   */
  private sweepTimer: NodeJS.Timeout | undefined;

  private sweep(): void {
    const now = Date.now();
    for (const name of [...this.live.keys()]) {
      const u = this.users.get(name);
      if (!u) continue;
      if (u.expiresAtMs !== undefined && now >= u.expiresAtMs) {
        this.opts.event('user_expired', `user=${name} live sessions closed`);
        this.kickUser(name);
      } else if (u.quotaBytes > 0 && this.opts.stats.quotaUsed(u.slot) >= u.quotaBytes) {
        this.opts.event('user_quota_exceeded', `user=${name} quota=${u.quotaBytes} live sessions closed`);
        this.kickUser(name);
      }
    }
  }

  async listen(fds: readonly ListenFd[]): Promise<void> {
    if (!this.sweepTimer) {
      this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
      this.sweepTimer.unref();
    }
    for (const l of fds) {
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (sock) => this.onConnection(sock));
      server.on('error', (err) => this.opts.event('listener_error', `${l.label}: ${err.message}`));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ fd: l.fd }, () => {
          server.removeListener('error', reject);
          resolve();
        });
      });
      this.servers.push(server);
    }
  }

  private onConnection(sock: net.Socket): void {
    const st = this.opts.stats;
    st.inc(C.core.connections_total);
    const max = this.settings.maxConnections;
    if (max > 0 && st.total(C.core.current_connections) >= max) {
      st.inc(C.core.connections_bad_total);
      st.inc(C.badClass.max_connections);
      sock.destroy();
      return;
    }
    sock.on('error', () => undefined);
    new Session(sock, {
      settings: () => this.settings,
      users: () => this.users,
      stats: st,
      replay: this.replay,
      upstream: this.upstream,
      event: this.opts.event,
      sessions: this,
    });
  }

  add(user: string, s: Session): void {
    let set = this.live.get(user);
    if (!set) this.live.set(user, (set = new Set()));
    set.add(s);
  }

  remove(user: string, s: Session): void {
    const set = this.live.get(user);
    if (!set) return;
    set.delete(s);
    if (set.size === 0) this.live.delete(user);
  }

  liveSessions(): number {
    let n = 0;
    for (const set of this.live.values()) n += set.size;
    return n;
  }

  /**
   * Applies a new config. Sessions of users that were removed, disabled, expired or whose
   * secret changed are cut; everyone else keeps relaying.
   */
  update(settings: WorkerSettings): void {
    const before = this.users;
    this.settings = settings;
    this.users = new UserRegistry(settings.users);
    if (this.upstream instanceof RoutedUpstream) this.upstream.settingsChanged();
    const now = Date.now();
    for (const name of [...this.live.keys()]) {
      const old = before.get(name);
      const cur = this.users.get(name);
      const cut = !cur || !cur.enabled || cur.secretHex !== old?.secretHex || (cur.expiresAtMs !== undefined && now >= cur.expiresAtMs);
      if (cut) this.kickUser(name);
    }
  }

  kickUser(name: string): number {
    const set = this.live.get(name);
    if (!set) return 0;
    const n = set.size;
    for (const s of [...set]) s.kick();
    return n;
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    // Stop accepting first; server.close() only calls back once every connection is gone.
    const closed = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    for (const name of [...this.live.keys()]) this.kickUser(name);
    await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 2000).unref())]);
    if (this.upstream instanceof RoutedUpstream) this.upstream.close();
  }
}
