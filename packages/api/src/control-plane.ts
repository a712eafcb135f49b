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

/** One ME writer as a worker reported it. */
export interface MeWriterView {
  readonly worker: number;
  readonly writer_id: number;
  readonly dc: number;
  readonly endpoint: string;
  readonly state: 'connecting' | 'handshake' | 'ready' | 'closed';
  readonly draining: boolean;
  readonly degraded: boolean;
  readonly bound_clients: number;
  /** Generation hash of the inputs this writer was made for. */
  readonly generation: string;
  /** Of the generation warming for a hardswap and not taking new clients (yet). */
  readonly warm: boolean;
  readonly started_at_ms: number;
  readonly ready_at_ms: number | undefined;
  readonly idle_ms: number;
  readonly rtt_ema_ms: number | undefined;
  /** Our end of the link ("ip:port"), the address the key derivation used unless NAT is set. */
  readonly local_addr: string | undefined;
}

/** Clients of a DC that ME could not take, summed over the workers. */
export interface MeRerouteView {
  readonly active: boolean;
  readonly since_ms: number | undefined;
  readonly last_ms: number | undefined;
  readonly count: number;
  readonly reason: string | undefined;
}

export interface MeDcView {
  readonly dc: number;
  readonly endpoints: readonly string[];
  /** Writer slots for this DC over every worker that answered. */
  readonly configured_writers: number;
  readonly quarantined: readonly { readonly endpoint: string; readonly remaining_ms: number }[];
  readonly reroute: MeRerouteView;
}

/** What the supervisor loaded for the ME (proxy-secret, proxy-multi.conf). */
export interface MeInputsView {
  readonly generation: string;
  /** Sequence number of this generation since start (1 = first load). */
  readonly generation_seq: number;
  readonly secret_from: 'url' | 'cache';
  readonly secret_source: string;
  readonly config_from: 'url' | 'cache';
  readonly config_source: string;
  readonly loaded_at_ms: number;
  /** Server clock minus ours from the secret download's Date header; undefined from cache. */
  readonly date_skew_secs: number | undefined;
  /** DC id (decimal) -> "host:port" endpoints. */
  readonly endpoints: Readonly<Record<string, readonly string[]>>;
  /** DC id -> the other IP family's endpoints, used while the preferred ones fail (IPv6 on only). */
  readonly fallback_endpoints?: Readonly<Record<string, readonly string[]>>;
  readonly default_dc: number | undefined;
  /** proxy-secret key selector (first 4 bytes, hex): what the KDF keys on. */
  readonly key_select_hex: string;
}

/**
 * The pools' generations (hardswap), summed over the workers that answered. Numbers are the
 * supervisor's sequence of input generations (1 = first loaded), as MeInputsView.generation_seq;
 * 0 = none.
 */
export interface MeGenerationsView {
  /** general.hardswap as the workers run it. */
  readonly hardswap_enabled: boolean;
  /** The generation new clients bind to (the oldest any worker still binds to). */
  readonly active: number;
  readonly active_id: string | undefined;
  /** The newest generation the pools hold: the warming one while a swap is pending, else the active one. */
  readonly warm: number;
  /** The generation warming and waiting to be swapped in; 0 = no swap pending. */
  readonly pending: number;
  /** When the pending swap began (earliest over the workers). */
  readonly pending_since_ms: number | undefined;
  /** Older generations whose writers still drain. */
  readonly draining: readonly number[];
  /** Generation hash -> number, for every generation a writer belongs to. */
  readonly seq_of: Readonly<Record<string, number>>;
}

export interface MeStatusSnapshot {
  readonly generated_at_ms: number;
  /** ME start-up as the supervisor sees it (input load, then writers). */
  readonly status: StartupStatus;
  readonly stage: string;
  readonly init_attempts: number;
  readonly last_error: string | undefined;
  readonly inputs: MeInputsView | undefined;
  readonly fallback_enabled: boolean;
  /** The NAT IP the KDF uses: general.middle_proxy_nat_ip, else the STUN-reflected IPv4. */
  readonly nat_ip: string | undefined;
  /** Writers per DC per worker. */
  readonly pool_size_per_worker: number;
  readonly workers_total: number;
  /** Workers that did not answer within the status timeout: their writers are missing here. */
  readonly workers_missing: readonly number[];
  readonly partial: boolean;
  readonly writers: readonly MeWriterView[];
  readonly dcs: readonly MeDcView[];
  /** Date-header skew samples of the last 15 minutes. */
  readonly skew_samples: readonly { readonly at_ms: number; readonly skew_secs: number; readonly source: string }[];
  /** When ME first had a ready writer (undefined: never yet). */
  readonly first_ready_at_ms: number | undefined;
  /** Handshake (KDF) rejects per minute, exponentially smoothed over about a minute. */
  readonly kdf_errors_ewma_per_min: number;
  /** Whether clients get an ad tag at all (general.ad_tag or any user's). */
  readonly ad_tag_configured: boolean;
  readonly generations: MeGenerationsView;
}

/** One STUN server's last probe. */
export interface NatStunServerView {
  readonly server: string;
  readonly at_ms: number;
  readonly ok: boolean;
  readonly rtt_ms: number | undefined;
  readonly error: string | undefined;
}

/** A reflected public address ("what the STUN server saw") and when it was learned. */
export interface NatStunReflectionView {
  readonly ip: string;
  readonly port: number;
  readonly at_ms: number;
  readonly server: string;
}

/** The supervisor's STUN prober, for /v1/runtime/nat_stun. */
export interface NatStunView {
  /** Probing wanted by the config: ME on, network.stun_use, no general.middle_proxy_nat_ip. */
  readonly probe_enabled: boolean;
  /** The prober runs (false when wanted but not started, e.g. ME turned on by a reload). */
  readonly running: boolean;
  /** Probe rounds made since start. */
  readonly rounds: number;
  readonly configured: readonly string[];
  readonly live: readonly string[];
  readonly servers: readonly NatStunServerView[];
  readonly v4: NatStunReflectionView | undefined;
  readonly v6: NatStunReflectionView | undefined;
  /** Until the next try after a failed round; undefined when not backing off. */
  readonly backoff_remaining_ms: number | undefined;
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
  /**
   * Middle-End status: inputs, writers per worker, fallback per DC. Undefined when
   * general.use_middle_proxy = false. Never hangs: slow workers are left out and flagged.
   */
  meStatus(): Promise<MeStatusSnapshot | undefined>;
  /** STUN prober state; undefined when general.use_middle_proxy = false (no prober exists). */
  natStun(): NatStunView | undefined;
  events(limit: number): EventsView;
  recordEvent(eventType: string, context: string): void;
  /** Hosts to put in tg:// links, resolved per the contract's link rules. */
  linkHosts(): readonly string[];
  /** Port to put in tg:// links: general.links.public_port, else the port actually bound. */
  linkPort(): number;
}
