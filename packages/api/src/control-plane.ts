/**
 * The seam between the Control API and the rest of the edge. The supervisor implements it; the
 * API package never touches workers, sockets or SharedArrayBuffers directly. Tests implement it
 * with an in-memory fake over a temp config file.
 */
import type { ConfigSnapshot } from '@mtedge/config';
import type { CountersSnapshot, UserRuntimeSnapshot } from '@mtedge/stats';

export interface ApiEventRecord {
  readonly seq: number;
  readonly ts_epoch_secs: number;
  readonly event_type: string;
  readonly context: string;
}

export interface EventsView {
  readonly capacity: number;
  readonly dropped_total: number;
  readonly events: readonly ApiEventRecord[];
}

export type StartupStatus = 'pending' | 'initializing' | 'ready' | 'failed' | 'skipped';
export type ComponentStatus = 'pending' | 'running' | 'ready' | 'failed' | 'skipped';

export interface StartupComponent {
  readonly id: string;
  readonly title: string;
  readonly status: ComponentStatus;
  readonly started_at_epoch_ms: number | undefined;
  readonly finished_at_epoch_ms: number | undefined;
  readonly attempts: number;
  readonly details: string | undefined;
}

export interface RuntimeState {
  readonly started_at_ms: number;
  readonly ready_at_ms: number | undefined;
  readonly status: StartupStatus;
  readonly current_stage: string;
  readonly progress_pct: number;
  readonly components: readonly StartupComponent[];
  /** New client connections are accepted (workers listening, not shutting down). */
  readonly admission_open: boolean;
  readonly workers_configured: number;
  readonly workers_ready: number;
  readonly worker_restarts_total: number;
  /** Upstreams (telemt's [[upstreams]]; direct mode = 1) and how many are healthy. */
  readonly total_upstreams: number;
  readonly healthy_upstreams: number;
  readonly config_reload_count: number;
  readonly last_config_reload_epoch_secs: number | undefined;
}

export interface ReloadOutcome {
  readonly snapshot: ConfigSnapshot;
  /** Top-level sections that changed, e.g. ["censorship"]. */
  readonly changed: readonly string[];
  /** Fields that need a process restart to take effect (listeners, API bind...). */
  readonly deferred_process_fields: readonly string[];
}

export interface ControlPlane {
  readonly version: string;
  /** Native engine line for /v1/system/info, e.g. "uWebSockets.js 20.30.0 (uws_linux_x64_115)". */
  readonly engine: string;

  /** The config as currently on disk and applied. Cheap; no I/O. */
  current(): ConfigSnapshot;
  /**
   * Validate `newText`, and if the file on disk still has `expectedRevision`, write it
   * atomically (tmp + fsync + rename) and apply it to the running workers.
   * Throws ConfigError (invalid), RevisionConflictError (disk changed), ConfigWriteError (I/O).
   * On any throw the file and the running config are unchanged.
   */
  commitConfigText(newText: string, expectedRevision: string): Promise<ReloadOutcome>;
  /** Re-read the file from disk and apply it if valid (SIGHUP path). */
  reloadFromDisk(): Promise<ReloadOutcome>;

  counters(): CountersSnapshot;
  /** Runtime view of one user; zeros when the user has no runtime state. */
  userRuntime(username: string): UserRuntimeSnapshot;
  /** Users present in the running (applied) config. */
  runtimeUsers(): ReadonlySet<string>;
  /** Zero the user's quota counter and persist it; returns the reset time. */
  resetUserQuota(username: string): Promise<{ readonly last_reset_epoch_secs: number }>;
  /** Close every live session of this user (disable, delete, rotate). */
  disconnectUser(username: string): void;

  runtime(): RuntimeState;
  events(limit: number): EventsView;
  recordEvent(eventType: string, context: string): void;
  /** Hosts to put in tg:// links, resolved per the contract's link rules. */
  linkHosts(): readonly string[];
  /** Port to put in tg:// links: general.links.public_port, else the port actually bound. */
  linkPort(): number;
}
