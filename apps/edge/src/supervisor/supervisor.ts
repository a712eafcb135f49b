/**
 * The main thread: owns config.toml and its revision, the shared stats, the listening sockets,
 * the workers and the Control API; implements the ControlPlane the API talks to.
 */
import { watch, type FSWatcher } from 'node:fs';
import os from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import type {
  ApiEventRecord,
  ControlPlane,
  EventsView,
  MeDcView,
  MeGenerationsView,
  MeStatusSnapshot,
  MeWriterView,
  NatStunView,
  ReloadOutcome,
  RuntimeState,
  StartupComponent,
} from '@mtedge/api';
import { loadConfigFile, parseConfigText, writeFileAtomic, type ConfigSnapshot, type EdgeConfig } from '@mtedge/config';
import { buildWorkerSettings, type MeWorkerStatus, type WorkerSettings } from '@mtedge/dataplane';
import { nativeAddon, type NativeAddon } from '@mtedge/native';
import { C, StatsReader, createSharedStats, replayGeometry, type CountersSnapshot, type UserRuntimeSnapshot } from '@mtedge/stats';
import { proxySecretKeySelect } from '@mtedge/protocol';
import type { Logger } from '../shared/logger.js';
import { EventsRing } from './events-ring.js';
import { resolveLinkHosts } from './link-hosts.js';
import { readQuotaState, writeQuotaState, type QuotaState } from './quota-state.js';
import { UserSlots } from './user-slots.js';
import { WorkerPool, type ListenSocket } from './worker-pool.js';
import { MeConfigSource, buildMeSettings, emptyMeSettings } from './me-config.js';
import { PerKeyLimiter } from './per-key-limiter.js';
import { StunProber, stunProbeSettings } from './stun.js';

/** A worker that has not answered a me-status request by then is left out (and flagged). */
const ME_STATUS_TIMEOUT_MS = 1000;
/** API routes asked together (gates, dcs...) share one round trip to the workers. */
const ME_STATUS_CACHE_MS = 250;
const FALLBACK_LOG_WINDOW_MS = 10_000;
/** How long start-up waits for the first STUN round before the workers open ME links anyway. */
const STUN_FIRST_ROUND_WAIT_MS = 3000;

export const MTEDGE_VERSION = '0.1.0';

/** Fields only a restart applies: the sockets and threads are made once. */
const PROCESS_FIELDS: readonly [string, (c: EdgeConfig) => unknown][] = [
  ['server.port', (c) => c.server.port],
  ['server.listeners', (c) => c.server.listeners],
  ['server.listen_backlog', (c) => c.server.listen_backlog],
  ['server.api.listen', (c) => c.server.api.listen],
  ['server.api.enabled', (c) => c.server.api.enabled],
  ['general.workers', (c) => c.general.workers],
];

interface Component {
  id: string;
  title: string;
  status: StartupComponent['status'];
  started?: number;
  finished?: number;
  details?: string;
}

export interface SupervisorOptions {
  readonly configPath: string;
  readonly logger: Logger;
  readonly engine: string;
  readonly startApi: (cp: ControlPlane, host: string, port: number) => Promise<{ port: number; close(): void }>;
}

export class Supervisor implements ControlPlane {
  readonly version = MTEDGE_VERSION;
  readonly engine: string;
  private snapshot!: ConfigSnapshot;
  private settings!: WorkerSettings;
  private readonly startedAt = Date.now();
  private readyAt: number | undefined;
  private reloadCount = 0;
  private lastReloadSec: number | undefined;
  private pool: WorkerPool | undefined;
  private reader!: StatsReader;
  private slots!: UserSlots;
  private ring = new EventsRing(256);
  private native: NativeAddon | undefined;
  private listenSockets: ListenSocket[] = [];
  /** The first listener's port as bound (differs from config when server.port = 0). */
  private boundPort: number | undefined;
  private api: { port: number; close(): void } | undefined;
  private watcher: FSWatcher | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private quota: QuotaState = {};
  private quotaTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private me: MeConfigSource | undefined;
  private stun: StunProber | undefined;
  private workerCount = 1;
  private publicPort = 0;
  private applying: Promise<unknown> = Promise.resolve();
  private meStatusCache: { atMs: number; value: Promise<MeStatusSnapshot | undefined> } | undefined;
  private readonly meGenerations = new Map<string, number>();
  private meFirstReadyAt: number | undefined;
  private kdfEwma = 0;
  private kdfLast: { atMs: number; total: number } | undefined;
  private readonly fallbackLog = new PerKeyLimiter(FALLBACK_LOG_WINDOW_MS);
  private readonly components: Component[] = [
    { id: 'config_load', title: 'Load and validate config.toml', status: 'pending' },
    { id: 'shared_stats', title: 'Allocate shared counters', status: 'pending' },
    { id: 'listeners', title: 'Bind client listeners', status: 'pending' },
    { id: 'workers', title: 'Start data-plane workers', status: 'pending' },
    { id: 'api', title: 'Start Control API', status: 'pending' },
  ];
  readonly configPath: string;
  private readonly log: Logger;

  constructor(private readonly o: SupervisorOptions) {
    this.configPath = resolve(o.configPath);
    this.engine = o.engine;
    this.log = o.logger.child({ module: 'supervisor' });
  }

  private step<T>(id: string, fn: () => T): T {
    const c = this.components.find((x) => x.id === id)!;
    c.status = 'running';
    c.started = Date.now();
    try {
      const r = fn();
      c.status = 'ready';
      c.finished = Date.now();
      return r;
    } catch (err) {
      c.status = 'failed';
      c.finished = Date.now();
      c.details = (err as Error).message;
      throw err;
    }
  }

  async start(): Promise<{ apiPort: number | undefined; listenPorts: number[] }> {
    const snap = await loadConfigFile(this.configPath);
    this.step('config_load', () => {
      this.snapshot = snap;
      this.logWarnings(snap);
    });
    const cfg = snap.config;
    this.ring.resize(cfg.server.api.runtime_edge_events_capacity);
    const workers = cfg.general.workers > 0 ? cfg.general.workers : os.availableParallelism();
    this.step('shared_stats', () => {
      const userCapacity = Math.max(4096, 4 * Object.keys(cfg.access.users).length);
      const bufs = createSharedStats({ maxWorkers: workers, userCapacity, ipSlotsPerUser: 16, ...replayGeometry(cfg.access.replay_check_len) });
      this.reader = new StatsReader(bufs);
      this.slots = new UserSlots(userCapacity);
    });
    this.quota = await readQuotaState(this.quotaPath());
    this.syncSlots(cfg);
    this.settings = buildWorkerSettings(cfg, snap.revision, this.slots.map);
    const listenPorts = this.step('listeners', () => this.bindListeners(cfg));
    this.workerCount = workers;
    this.publicPort = listenPorts[0] ?? cfg.server.port;
    await this.startMe(cfg);
    this.settings = this.withMe(this.settings);
    this.boundPort = listenPorts[0];
    this.components.find((c) => c.id === 'workers')!.status = 'running';
    this.components.find((c) => c.id === 'workers')!.started = Date.now();
    this.pool = new WorkerPool({
      count: workers,
      stats: this.reader.bufs,
      reader: this.reader,
      native: this.native!,
      listeners: this.listenSockets,
      settings: () => this.settings,
      logLevel: cfg.general.log_level,
      logger: this.log,
      onEvent: (t, c) => this.recordEvent(t, c),
    });
    try {
      await this.pool.start();
      const wc = this.components.find((c) => c.id === 'workers')!;
      wc.status = 'ready';
      wc.finished = Date.now();
      wc.details = `${workers} workers`;
    } catch (err) {
      const wc = this.components.find((c) => c.id === 'workers')!;
      wc.status = 'failed';
      wc.details = (err as Error).message;
      throw err;
    }
    let apiPort: number | undefined;
    const apiComp = this.components.find((c) => c.id === 'api')!;
    const api = cfg.server.api;
    const hp = splitListen(api.listen);
    if (api.enabled && hp && hp.port !== 0) {
      apiComp.status = 'running';
      apiComp.started = Date.now();
      try {
        this.api = await this.o.startApi(this, hp.host, hp.port);
        apiPort = this.api.port;
        apiComp.status = 'ready';
        apiComp.details = `${hp.host}:${apiPort}`;
      } catch (err) {
        // telemt: a failed API bind logs and the proxy keeps serving.
        apiComp.status = 'failed';
        apiComp.details = (err as Error).message;
        this.log.warn(`Control API did not start on ${api.listen}: ${(err as Error).message}`);
      }
      apiComp.finished = Date.now();
    } else {
      apiComp.status = 'skipped';
      apiComp.details = api.enabled ? 'listen port 0' : 'server.api.enabled = false';
    }
    this.readyAt = Date.now();
    this.watchConfig();
    this.quotaTimer = setInterval(() => void this.persistQuota(), 60_000);
    this.quotaTimer.unref();
    this.recordEvent('startup_ready', `workers=${workers} listeners=${this.listenSockets.map((l) => l.label).join(',')}`);
    return { apiPort, listenPorts };
  }

  /**
   * Middle-End mode: load proxy-secret and proxy-multi.conf before the workers start, then keep
   * them fresh. Without them the workers run direct (me2dc_fallback) and an event says why.
   */
  private async startMe(cfg: EdgeConfig): Promise<void> {
    if (!cfg.general.use_middle_proxy) return;
    this.me = new MeConfigSource(cfg, dirname(this.configPath), (t, c) => this.recordEvent(t, c), (m) => this.log.warn(m));
    // The public IPv4 for the KDF, learned while the inputs download; a configured
    // middle_proxy_nat_ip (or stun_use = false) keeps the prober idle.
    this.stun = new StunProber({
      settings: () => stunProbeSettings(this.snapshot),
      onChange: (ip) => {
        this.log.info(`Middle-End public IPv4 from STUN: ${ip ?? 'none'} (new ME links use it in the key derivation)`);
        this.meStatusCache = undefined;
        this.settings = this.withMe(this.settings);
        this.pool?.broadcast({ type: 'settings', settings: this.settings });
      },
      event: (t, c) => this.recordEvent(t, c),
    });
    const firstStun = this.stun.start().catch((err: Error) => this.recordEvent('stun_probe_failed', err.message));
    let waitTimer: NodeJS.Timeout | undefined;
    const stunWait = Promise.race([firstStun, new Promise<void>((r) => (waitTimer = setTimeout(r, STUN_FIRST_ROUND_WAIT_MS)))]).finally(() => clearTimeout(waitTimer));
    try {
      await this.me.refresh();
    } catch (err) {
      const how = cfg.general.me2dc_fallback ? 'clients go direct (me2dc_fallback)' : 'clients are refused (me2dc_fallback = false)';
      this.log.warn(`Middle-End not available until its inputs load, ${how}: ${(err as Error).message}`);
      this.recordEvent('me_unavailable', (err as Error).message);
    }
    await stunWait;
    this.me.start(() => {
      this.settings = this.withMe(this.settings);
      this.pool?.broadcast({ type: 'settings', settings: this.settings });
    });
  }

  private withMe(s: WorkerSettings): WorkerSettings {
    const inputs = this.me?.current;
    const cfg = this.snapshot.config;
    if (!cfg.general.use_middle_proxy) return s;
    const me = inputs ? buildMeSettings(cfg, inputs, this.workerCount, this.publicPort) : emptyMeSettings(cfg, this.workerCount, this.publicPort);
    // A configured middle_proxy_nat_ip always wins over the STUN answer. Writers read natIp when
    // they connect: links already up keep the keys they derived.
    return { ...s, me: { ...me, natIp: this.natIp() } };
  }

  /** The public IPv4 the ME key derivation uses: configured, else STUN-reflected, else none. */
  private natIp(): string | undefined {
    return this.snapshot.config.general.middle_proxy_nat_ip ?? this.stun?.natIp;
  }

  private quotaPath(): string {
    return resolve(dirname(this.configPath), this.snapshot.config.general.quota_state_path);
  }

  private logWarnings(snap: ConfigSnapshot): void {
    for (const w of snap.warnings) this.log.warn(`${w.key}: ${w.message}`, { code: w.code });
    if (Object.keys(snap.config.access.users).length === 0) this.log.warn('no users configured: clients are masked until a user is added (POST /v1/users)');
  }

  private bindListeners(cfg: EdgeConfig): number[] {
    this.native = nativeAddon();
    const ports: number[] = [];
    for (const l of cfg.server.listeners) {
      const v6 = l.ip.includes(':');
      // With both a v4 and a v6 wildcard listener, the v6 one must not also claim v4.
      const v6only = v6 && cfg.server.listeners.some((x) => !x.ip.includes(':'));
      const fd = this.native.listenTcp(l.ip, l.port, cfg.server.listen_backlog, v6only);
      const port = this.native.localPort(fd);
      ports.push(port);
      this.listenSockets.push({ fd, label: v6 ? `[${l.ip}]:${port}` : `${l.ip}:${port}` });
    }
    return ports;
  }

  private syncSlots(cfg: EdgeConfig): void {
    const { added } = this.slots.sync(Object.keys(cfg.access.users));
    for (const [name, slot] of added) {
      const q = this.quota[name];
      this.reader.claimSlot(slot, q?.used_bytes ?? 0, q?.last_reset_epoch_secs ?? 0);
    }
  }

  // ---- config ---------------------------------------------------------------------------------

  current(): ConfigSnapshot {
    return this.snapshot;
  }

  private apply(next: ConfigSnapshot): ReloadOutcome {
    const prev = this.snapshot;
    if (!this.slots.fits(Object.keys(next.config.access.users))) {
      throw new Error(`user capacity ${this.slots.capacity} reached; restart mtedge to grow the shared tables`);
    }
    const changed = changedSections(prev.raw, next.raw);
    const deferred = PROCESS_FIELDS.filter(([, get]) => JSON.stringify(get(prev.config)) !== JSON.stringify(get(next.config))).map(([k]) => k);
    this.syncSlots(next.config);
    this.snapshot = next;
    this.me?.setConfig(next.config);
    this.settings = this.withMe(buildWorkerSettings(next.config, next.revision, this.slots.map));
    this.ring.resize(next.config.server.api.runtime_edge_events_capacity);
    this.pool?.broadcast({ type: 'settings', settings: this.settings });
    this.reloadCount++;
    this.lastReloadSec = Math.floor(Date.now() / 1000);
    this.logWarnings(next);
    if (deferred.length > 0) this.log.warn(`config changes that need a restart to take effect: ${deferred.join(', ')}`);
    this.log.info(`config applied: revision ${next.revision.slice(0, 12)} (changed: ${changed.join(', ') || 'none'})`);
    this.recordEvent('config_applied', `revision=${next.revision.slice(0, 12)} changed=${changed.join(',') || 'none'}`);
    return { snapshot: next, changed, deferred_process_fields: deferred };
  }

  /** Serialises every apply, whichever path it came from (API, SIGHUP, file watcher). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.applying.then(fn, fn);
    this.applying = run.catch(() => undefined);
    return run;
  }

  commitConfigText(newText: string, expectedRevision: string): Promise<ReloadOutcome> {
    return this.serial(async () => {
      const parsed = parseConfigText(newText, this.configPath);
      if (!this.slots.fits(Object.keys(parsed.config.access.users))) {
        throw new Error(`user capacity ${this.slots.capacity} reached; restart mtedge to grow the shared tables`);
      }
      await writeFileAtomic(this.configPath, newText, { expectedRevision });
      return this.apply(parsed);
    });
  }

  reloadFromDisk(): Promise<ReloadOutcome> {
    return this.serial(async () => {
      const next = await loadConfigFile(this.configPath);
      if (next.revision === this.snapshot.revision) return { snapshot: this.snapshot, changed: [], deferred_process_fields: [] };
      return this.apply(next);
    });
  }

  /** SIGHUP and file edits: a bad file is refused, logged, and the running config stays. */
  async reloadQuietly(trigger: string): Promise<void> {
    try {
      await this.reloadFromDisk();
    } catch (err) {
      const e = err as Error & { code?: string };
      this.log.error(`config reload (${trigger}) refused, keeping revision ${this.snapshot.revision.slice(0, 12)}: ${e.message}`, { code: e.code });
      this.recordEvent('config_reload_refused', `${trigger}: ${e.message}`);
    }
  }

  private watchConfig(): void {
    try {
      const name = basename(this.configPath);
      // Watch the directory: editors and our own atomic writes replace the file (new inode).
      this.watcher = watch(dirname(this.configPath), (_ev, file) => {
        if (file !== null && file !== name) return;
        if (this.watchTimer) clearTimeout(this.watchTimer);
        this.watchTimer = setTimeout(() => void this.reloadQuietly('file change'), 150);
      });
      this.watcher.on('error', (err) => this.log.warn(`config watcher stopped: ${err.message}`));
    } catch (err) {
      this.log.warn(`cannot watch ${this.configPath}: ${(err as Error).message}; use SIGHUP to reload`);
    }
  }

  // ---- runtime --------------------------------------------------------------------------------

  counters(): CountersSnapshot {
    return this.reader.counterSnapshot();
  }

  userRuntime(username: string): UserRuntimeSnapshot {
    const slot = this.slots.map.get(username);
    if (slot === undefined) {
      return { current_connections: 0, active_ips: [], recent_ips: [], octets_from_client: 0, octets_to_client: 0, total_octets: 0, quota_used_bytes: 0, quota_last_reset_epoch_secs: undefined };
    }
    return this.reader.userSnapshot(slot, this.snapshot.config.access.user_max_unique_ips_window_secs);
  }

  runtimeUsers(): ReadonlySet<string> {
    return new Set(this.settings.users.map((u) => u.name));
  }

  async resetUserQuota(username: string): Promise<{ readonly last_reset_epoch_secs: number }> {
    const now = Math.floor(Date.now() / 1000);
    const slot = this.slots.map.get(username);
    if (slot !== undefined) this.reader.resetQuota(slot, now);
    this.recordEvent('user_quota_reset', `user=${username}`);
    await this.persistQuota();
    return { last_reset_epoch_secs: now };
  }

  private async persistQuota(): Promise<void> {
    const state: QuotaState = {};
    for (const [name, slot] of this.slots.map) {
      const u = this.reader.userSnapshot(slot, 0);
      state[name] = { used_bytes: u.quota_used_bytes, last_reset_epoch_secs: u.quota_last_reset_epoch_secs ?? 0 };
    }
    this.quota = state;
    try {
      await writeQuotaState(this.quotaPath(), state);
    } catch (err) {
      this.log.warn(`cannot persist quota state to ${this.quotaPath()}: ${(err as Error).message}`);
    }
  }

  disconnectUser(username: string): void {
    this.pool?.broadcast({ type: 'kick-user', username });
  }

  runtime(): RuntimeState {
    const comps: StartupComponent[] = this.components.map((c) => ({
      id: c.id,
      title: c.title,
      status: c.status,
      started_at_epoch_ms: c.started,
      finished_at_epoch_ms: c.finished,
      attempts: c.status === 'pending' ? 0 : 1,
      details: c.details,
    }));
    const done = comps.filter((c) => c.status === 'ready' || c.status === 'skipped').length;
    const failed = comps.find((c) => c.status === 'failed' && c.id !== 'api');
    const running = comps.find((c) => c.status === 'running');
    const workersReady = this.pool?.readyCount() ?? 0;
    const workersConfigured = this.pool?.size ?? 0;
    return {
      started_at_ms: this.startedAt,
      ready_at_ms: this.readyAt,
      status: failed ? 'failed' : this.readyAt !== undefined ? 'ready' : 'initializing',
      current_stage: failed ? failed.id : running ? running.id : this.readyAt !== undefined ? 'ready' : 'pending',
      progress_pct: Math.round((done / comps.length) * 1000) / 10,
      components: comps,
      admission_open: !this.stopped && workersReady > 0,
      workers_configured: workersConfigured,
      workers_ready: workersReady,
      worker_restarts_total: this.pool?.restarts ?? 0,
      total_upstreams: 1,
      healthy_upstreams: workersReady > 0 ? 1 : 0,
      config_reload_count: this.reloadCount,
      last_config_reload_epoch_secs: this.lastReloadSec,
    };
  }

  events(limit: number): EventsView {
    const events: ApiEventRecord[] = this.ring.recent(limit);
    return { capacity: this.ring.capacity, dropped_total: this.ring.dropped, events };
  }

  recordEvent(eventType: string, context: string): void {
    this.ring.push(eventType, context);
    if (eventType === 'me_fallback_direct' || eventType === 'me_no_writer') this.warnMeReroute(eventType, context);
    else if (eventType === 'dc_connect_failed' || eventType === 'worker_restart') this.log.warn(`${eventType}: ${context}`);
    else this.log.debug(`${eventType}: ${context}`);
  }

  /** No silent fallback, no log flood either: one warn line per DC per 10 s, with a count. */
  private warnMeReroute(eventType: string, context: string): void {
    const dc = /(?:^|\s)dc=(-?\d+)/.exec(context)?.[1] ?? '?';
    const held = this.fallbackLog.take(`${eventType}/${dc}`);
    if (held === undefined) return;
    const what = eventType === 'me_fallback_direct' ? 'ME cannot serve DC, client routed direct (me2dc_fallback)' : 'ME cannot serve DC, client closed (me2dc_fallback = false)';
    this.log.warn(`${what}: ${context}${held > 0 ? ` (+${held} more for dc=${dc} in the last ${FALLBACK_LOG_WINDOW_MS / 1000} s)` : ''}`);
  }

  // ---- Middle-End status ---------------------------------------------------------------------

  meStatus(): Promise<MeStatusSnapshot | undefined> {
    if (!this.snapshot.config.general.use_middle_proxy) return Promise.resolve(undefined);
    const now = Date.now();
    const c = this.meStatusCache;
    if (c && now - c.atMs < ME_STATUS_CACHE_MS) return c.value;
    const value = this.buildMeStatus();
    this.meStatusCache = { atMs: now, value };
    return value;
  }

  private generationSeq(hash: string): number {
    let n = this.meGenerations.get(hash);
    if (n === undefined) {
      n = this.meGenerations.size + 1;
      this.meGenerations.set(hash, n);
    }
    return n;
  }

  /** Handshake rejects per minute, smoothed with a one-minute time constant, sampled lazily. */
  private kdfRate(now: number): number {
    const total = this.reader.total(C.middleProxy.handshake_reject_total);
    const last = this.kdfLast;
    if (!last) {
      this.kdfLast = { atMs: now, total };
      return this.kdfEwma;
    }
    const dt = now - last.atMs;
    if (dt < 1000) return this.kdfEwma;
    const rate = ((total - last.total) * 60_000) / dt;
    this.kdfEwma += (1 - Math.exp(-dt / 60_000)) * (rate - this.kdfEwma);
    this.kdfLast = { atMs: now, total };
    return this.kdfEwma;
  }

  private async buildMeStatus(): Promise<MeStatusSnapshot> {
    const cfg = this.snapshot.config;
    const src = this.me;
    const inputs = src?.current;
    const replies = this.pool ? await this.pool.meStatus(ME_STATUS_TIMEOUT_MS) : { replies: new Map(), missing: [] as number[] };
    const now = Date.now();
    const writers: MeWriterView[] = [];
    const dcs = new Map<number, { endpoints: Set<string>; configured: number; quarantined: Map<string, number>; rr: MeDcView['reroute'][] }>();
    const dcOf = (dc: number): NonNullable<ReturnType<typeof dcs.get>> => {
      let d = dcs.get(dc);
      if (!d) dcs.set(dc, (d = { endpoints: new Set(), configured: 0, quarantined: new Map(), rr: [] }));
      return d;
    };
    for (const [worker, st] of replies.replies) {
      if (!st) continue;
      for (const w of st.pool?.writers ?? []) {
        writers.push({
          worker,
          writer_id: w.id,
          dc: w.dc,
          endpoint: w.endpoint,
          state: w.state,
          draining: w.draining,
          degraded: w.degraded,
          bound_clients: w.clients,
          generation: w.generation,
          warm: w.warm,
          started_at_ms: w.startedAtMs,
          ready_at_ms: w.readyAtMs,
          idle_ms: w.idleMs,
          rtt_ema_ms: w.rttEmaMs,
          local_addr: w.localAddr,
        });
      }
      for (const g of st.pool?.dcs ?? []) {
        const d = dcOf(g.dc);
        for (const e of g.endpoints) d.endpoints.add(e);
        d.configured += g.slots;
        for (const q of g.quarantined) d.quarantined.set(q.endpoint, Math.max(q.remainingMs, d.quarantined.get(q.endpoint) ?? 0));
      }
      for (const r of st.reroutes) dcOf(r.dc).rr.push({ active: r.active, since_ms: r.sinceMs, last_ms: r.lastMs, count: r.count, reason: r.reason });
    }
    const dcViews: MeDcView[] = [...dcs.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([dc, d]) => {
        const active = d.rr.filter((r) => r.active);
        const latest = [...d.rr].sort((a, b) => (b.last_ms ?? 0) - (a.last_ms ?? 0))[0];
        return {
          dc,
          endpoints: inputs?.config.dcs[String(dc)]?.map((e) => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`)) ?? [...d.endpoints],
          configured_writers: d.configured,
          quarantined: [...d.quarantined].map(([endpoint, remaining_ms]) => ({ endpoint, remaining_ms })),
          reroute: {
            active: active.length > 0,
            since_ms: active.length > 0 ? Math.min(...active.map((r) => r.since_ms ?? now)) : undefined,
            last_ms: latest?.last_ms,
            count: active.reduce((n, r) => n + r.count, 0),
            reason: latest?.reason,
          },
        };
      });
    const generations = this.meGenerationsView(replies.replies, writers, cfg.general.hardswap);
    const anyReady = writers.some((w) => w.state === 'ready' && !w.draining && !w.warm);
    if (anyReady && this.meFirstReadyAt === undefined) this.meFirstReadyAt = now;
    let status: MeStatusSnapshot['status'];
    let stage: string;
    let lastError = src?.lastError;
    if (!src) {
      status = 'failed';
      stage = 'restart_required';
      lastError = 'general.use_middle_proxy was turned on by a reload: restart mtedge to start the Middle-End';
    } else if (!inputs) {
      status = lastError !== undefined ? 'failed' : 'initializing';
      stage = 'load_inputs';
    } else if (anyReady) {
      status = 'ready';
      stage = 'ready';
    } else {
      status = 'initializing';
      stage = 'background_init';
    }
    const key = (e: { readonly host: string; readonly port: number }): string => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);
    const endpoints: Record<string, string[]> = {};
    const fallbackEndpoints: Record<string, string[]> = {};
    if (inputs) {
      for (const [dc, eps] of Object.entries(inputs.config.dcs)) endpoints[dc] = eps.map(key);
      for (const [dc, eps] of Object.entries(inputs.fallback ?? {})) fallbackEndpoints[dc] = eps.map(key);
    }
    const userTags = Object.keys(cfg.access.user_ad_tags).length > 0;
    return {
      generated_at_ms: now,
      status,
      stage,
      init_attempts: src?.attempts ?? 0,
      last_error: lastError,
      inputs: inputs && {
        generation: inputs.generation,
        generation_seq: this.generationSeq(inputs.generation),
        secret_from: inputs.secretFrom,
        secret_source: inputs.secretSource,
        config_from: inputs.configFrom,
        config_source: inputs.configSource,
        loaded_at_ms: inputs.loadedAtMs,
        date_skew_secs: inputs.dateSkewSecs,
        endpoints,
        fallback_endpoints: fallbackEndpoints,
        default_dc: inputs.config.defaultDc,
        key_select_hex: (proxySecretKeySelect(inputs.secret) >>> 0).toString(16).padStart(8, '0'),
      },
      fallback_enabled: cfg.general.me2dc_fallback,
      nat_ip: this.natIp(),
      pool_size_per_worker: this.settings.me?.poolSize ?? 0,
      workers_total: this.pool?.size ?? 0,
      workers_missing: replies.missing,
      partial: replies.missing.length > 0,
      writers,
      dcs: dcViews,
      skew_samples: (src?.skewSamples(now) ?? []).map((x) => ({ at_ms: x.atMs, skew_secs: x.skewSecs, source: x.source })),
      first_ready_at_ms: this.meFirstReadyAt,
      kdf_errors_ewma_per_min: this.kdfRate(now),
      ad_tag_configured: cfg.general.ad_tag !== undefined || userTags,
      generations,
    };
  }

  /**
   * The workers' pool generations in the supervisor's numbering (generationSeq), so that every
   * worker, and a restarted one, agrees with /v1/stats/me-writers. Older generations are numbered
   * first when first seen together.
   */
  private meGenerationsView(replies: ReadonlyMap<number, MeWorkerStatus | undefined>, writers: readonly MeWriterView[], hardswap: boolean): MeGenerationsView {
    const pools = [...replies.values()].flatMap((st) => (st?.pool ? [st.pool.generations] : []));
    // A generation without endpoints (inputs not loaded yet) has no writers: number 0.
    const seq = (g: { id: string; dcs: number } | undefined): number => (g === undefined || g.dcs === 0 ? 0 : this.generationSeq(g.id));
    const draining = new Set<number>();
    for (const p of pools) for (const d of p.draining) draining.add(seq(d));
    const actives = pools.map((p) => seq(p.active)).filter((n) => n > 0);
    const warms = pools.map((p) => seq(p.warm)).filter((n) => n > 0);
    const since = pools.flatMap((p) => (p.warm && p.warmSinceMs !== undefined ? [p.warmSinceMs] : []));
    const active = actives.length > 0 ? Math.min(...actives) : 0;
    const pending = warms.length > 0 ? Math.max(...warms) : 0;
    const seqOf: Record<string, number> = {};
    for (const w of writers) if (w.generation !== '' && seqOf[w.generation] === undefined) seqOf[w.generation] = this.generationSeq(w.generation);
    return {
      hardswap_enabled: hardswap,
      active,
      active_id: Object.keys(seqOf).find((id) => seqOf[id] === active) ?? pools.find((p) => seq(p.active) === active)?.active.id,
      warm: Math.max(active, pending, ...actives),
      pending,
      pending_since_ms: since.length > 0 ? Math.min(...since) : undefined,
      draining: [...draining].filter((n) => n > 0).sort((a, b) => a - b),
      seq_of: seqOf,
    };
  }

  natStun(): NatStunView | undefined {
    if (!this.snapshot.config.general.use_middle_proxy || !this.stun) return undefined;
    const st = this.stun.state();
    const refl = (r: typeof st.v4): NatStunView['v4'] => r && { ip: r.ip, port: r.port, at_ms: r.atMs, server: r.server };
    return {
      probe_enabled: st.enabled,
      running: st.running,
      rounds: st.rounds,
      configured: st.configured,
      live: st.live,
      servers: st.servers.map((r) => ({ server: r.server, at_ms: r.atMs, ok: r.ok, rtt_ms: r.rttMs, error: r.error })),
      v4: refl(st.v4),
      v6: refl(st.v6),
      backoff_remaining_ms: st.backoffRemainingMs,
    };
  }

  linkHosts(): readonly string[] {
    return resolveLinkHosts(this.snapshot.config);
  }

  linkPort(): number {
    const c = this.snapshot.config;
    return c.general.links.public_port ?? (c.server.port === 0 ? this.boundPort ?? 0 : c.server.port);
  }

  /** For tests and operators: kill a worker as if it crashed. */
  async crashWorker(index: number): Promise<void> {
    await this.pool?.crash(index);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.watcher?.close();
    this.me?.stop();
    this.stun?.stop();
    if (this.watchTimer) clearTimeout(this.watchTimer);
    if (this.quotaTimer) clearInterval(this.quotaTimer);
    this.api?.close();
    await this.pool?.stop();
    await this.persistQuota();
    for (const l of this.listenSockets) {
      try {
        this.native?.closeFd(l.fd);
      } catch {
        // already closed
      }
    }
  }
}

export function splitListen(s: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) return undefined;
  return { host: m[1]!, port: Number(m[2]) };
}

function changedSections(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}
