/**
 * The resolved, validated, frozen configuration mtedge runs on. Key names follow telemt's
 * config.toml (shared/spec/reference/telemt-CONFIG_PARAMS.en.md) so a telemt file maps 1:1.
 * Every field here is filled (defaults applied); optional ones are `undefined` when unset.
 */
export type LogLevel = 'debug' | 'verbose' | 'normal' | 'silent' | 'info' | 'warn' | 'error';

export interface ModesConfig {
  readonly classic: boolean;
  readonly secure: boolean;
  readonly tls: boolean;
}

export interface LinksConfig {
  /** '*' = every user, or an explicit list of usernames. */
  readonly show: '*' | readonly string[];
  readonly public_host: string | undefined;
  readonly public_port: number | undefined;
}

export interface GeneralConfig {
  readonly modes: ModesConfig;
  readonly links: LinksConfig;
  readonly ad_tag: string | undefined;
  readonly use_middle_proxy: boolean;
  readonly log_level: LogLevel;
  readonly me2dc_fallback: boolean;
  readonly fast_mode: boolean;
  /** Seconds, to connect to a DC. telemt: general.tg_connect (legacy: timeouts.tg_connect). */
  readonly tg_connect: number;
  readonly config_strict: boolean;
  readonly quota_state_path: string;
  readonly data_path: string | undefined;
  /** mtedge: worker threads; 0 = one per available core. */
  readonly workers: number;
  /** Seconds between ME config/secret refreshes (legacy: min of proxy_*_auto_reload_secs). */
  readonly update_every: number;
  readonly proxy_secret_path: string;
  readonly proxy_secret_url: string;
  readonly proxy_config_v4_cache_path: string;
  readonly proxy_config_v4_url: string;
  readonly proxy_config_v6_cache_path: string;
  readonly proxy_config_v6_url: string;
  /** Public IP to use in the ME key derivation when behind NAT. */
  readonly middle_proxy_nat_ip: string | undefined;
  /** ME writers per DC for the whole process (spread over the workers). */
  readonly middle_proxy_pool_size: number;
  readonly me_keepalive_enabled: boolean;
  readonly me_keepalive_interval_secs: number;
  readonly me_keepalive_jitter_secs: number;
  readonly me_reconnect_backoff_base_ms: number;
  readonly me_reconnect_backoff_cap_ms: number;
  /** How long a new client may wait for an ME writer of its DC (then fallback or close). */
  readonly me_route_hybrid_max_wait_ms: number;
  /** Writers of a replaced ME generation are closed after this long. */
  readonly me_pool_drain_ttl_secs: number;
  /** A new ME generation takes new clients only once warm (else: immediate cut-over). */
  readonly hardswap: boolean;
  /** Hardswap warm-up: each new writer dials a random [min, max] ms after the one before. */
  readonly me_hardswap_warmup_delay_min_ms: number;
  readonly me_hardswap_warmup_delay_max_ms: number;
  /** Retries of a warming writer that failed, base * 2^n ms apart, before the usual back-off. */
  readonly me_hardswap_warmup_extra_passes: number;
  readonly me_hardswap_warmup_pass_backoff_base_ms: number;
}

export interface ListenerConfig {
  readonly ip: string;
  readonly port: number;
  readonly announce: string | undefined;
  readonly announce_ip: string | undefined;
  readonly proxy_protocol: boolean | undefined;
}

export interface ApiConfig {
  readonly enabled: boolean;
  readonly listen: string;
  readonly whitelist: readonly string[];
  readonly auth_header: string;
  readonly request_body_limit_bytes: number;
  readonly minimal_runtime_enabled: boolean;
  readonly minimal_runtime_cache_ttl_ms: number;
  readonly runtime_edge_enabled: boolean;
  readonly runtime_edge_cache_ttl_ms: number;
  readonly runtime_edge_top_n: number;
  readonly runtime_edge_events_capacity: number;
  readonly read_only: boolean;
}

export interface ServerConfig {
  readonly port: number;
  readonly listen_addr_ipv4: string | undefined;
  readonly listen_addr_ipv6: string | undefined;
  /** Resolved: explicit [[server.listeners]], else derived from listen_addr_ipv4/ipv6. */
  readonly listeners: readonly ListenerConfig[];
  readonly listen_backlog: number;
  readonly proxy_protocol: boolean;
  readonly proxy_protocol_header_timeout_ms: number;
  readonly proxy_protocol_trusted_cidrs: readonly string[];
  /** 0 = unlimited. */
  readonly max_connections: number;
  readonly api: ApiConfig;
  readonly metrics_port: number | undefined;
  /** "IP:PORT"; wins over metrics_port when set. */
  readonly metrics_listen: string | undefined;
  readonly metrics_whitelist: readonly string[];
}

export interface TimeoutsConfig {
  /** Seconds for the whole client handshake. */
  readonly client_handshake: number;
  readonly client_first_byte_idle_secs: number;
  readonly client_keepalive: number;
  readonly client_ack: number;
  readonly relay_client_idle_hard_secs: number;
}

export type UnknownSniAction = 'drop' | 'mask' | 'accept' | 'reject_handshake';

export interface CensorshipConfig {
  readonly tls_domain: string;
  readonly tls_domains: readonly string[];
  readonly unknown_sni_action: UnknownSniAction;
  readonly mask: boolean;
  /** Defaults to tls_domain when unset. */
  readonly mask_host: string;
  readonly mask_port: number;
  /** PROXY protocol header sent to the mask host: 0 off, 1 v1 text, 2 v2 binary. */
  readonly mask_proxy_protocol: 0 | 1 | 2;
  readonly fake_cert_len: number;
  readonly tls_emulation: boolean;
  readonly mask_relay_max_bytes: number;
  readonly mask_relay_timeout_ms: number;
  readonly mask_relay_idle_timeout_ms: number;
}

export type UniqueIpsMode = 'active_window' | 'time_window' | 'combined';

export interface RateLimitBps {
  readonly up_bps: number | undefined;
  readonly down_bps: number | undefined;
}

export interface AccessConfig {
  /** username -> 32 hex chars. */
  readonly users: Readonly<Record<string, string>>;
  readonly user_enabled: Readonly<Record<string, boolean>>;
  readonly user_ad_tags: Readonly<Record<string, string>>;
  readonly user_max_tcp_conns: Readonly<Record<string, number>>;
  readonly user_max_tcp_conns_global_each: number;
  /** RFC 3339 strings as written in the file. */
  readonly user_expirations: Readonly<Record<string, string>>;
  readonly user_data_quota: Readonly<Record<string, number>>;
  readonly user_max_unique_ips: Readonly<Record<string, number>>;
  readonly user_max_unique_ips_global_each: number;
  readonly user_max_unique_ips_mode: UniqueIpsMode;
  readonly user_max_unique_ips_window_secs: number;
  readonly user_source_deny: Readonly<Record<string, readonly string[]>>;
  readonly user_rate_limits: Readonly<Record<string, RateLimitBps>>;
  readonly replay_check_len: number;
  readonly replay_window_secs: number;
  readonly ignore_time_skew: boolean;
}

export interface NetworkConfig {
  readonly ipv4: boolean;
  readonly ipv6: boolean | undefined;
  readonly prefer: 4 | 6;
  readonly stun_use: boolean;
  readonly stun_servers: readonly string[];
}

export interface EdgeConfig {
  readonly general: GeneralConfig;
  readonly network: NetworkConfig;
  readonly server: ServerConfig;
  readonly timeouts: TimeoutsConfig;
  readonly censorship: CensorshipConfig;
  readonly access: AccessConfig;
  /** DC index (as written, e.g. "2", "-2", "203") -> one or more "ip:port". */
  readonly dc_overrides: Readonly<Record<string, readonly string[]>>;
  readonly default_dc: number | undefined;
}

/** A loaded file: its bytes' revision, its text and what it resolves to. */
export interface ConfigSnapshot {
  readonly path: string;
  readonly text: string;
  /** SHA-256 hex of the file's bytes. */
  readonly revision: string;
  readonly config: EdgeConfig;
  /** The parsed TOML document before defaults (for GET /v1/config and splicing). */
  readonly raw: Readonly<Record<string, unknown>>;
  readonly warnings: readonly ConfigWarning[];
}

export interface ConfigWarning {
  readonly code: string;
  /** Dotted key path, e.g. "censorship.mask_proxy_protocol". */
  readonly key: string;
  readonly message: string;
}
