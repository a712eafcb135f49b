/**
 * Response `data` contracts (telemt-API.md "Response Data Contracts"). Field names, types and
 * optionality follow the contract tables; `engine` in SystemInfoData is an mtedge addition.
 */
import { arr, bool, counters, d, f64, i64, obj, oneOfStr, str, strArr, u64, type JsonSchema } from './builders.js';
import { DESYNC_FIELDS, ME_EDGE_FIELDS, UPSTREAM_FIELDS } from '@mtedge/stats';

const u64Arr = arr(u64);

// --- health / system -------------------------------------------------------------------------
export const HealthData = obj('HealthData', {
  status: d({ const: 'ok' }, 'Always `"ok"`.'),
  read_only: d(bool, 'Mirrors current API `read_only` mode.'),
});

export const HealthReadyData = obj(
  'HealthReadyData',
  {
    ready: d(bool, '`true` when admission is open and at least one upstream is healthy.'),
    status: d(oneOfStr(['ready', 'not_ready']), '`ready` or `not_ready`.'),
    admission_open: d(bool, 'Current admission-gate state.'),
    healthy_upstreams: d(u64, 'Healthy upstream entries (direct mode counts as one).'),
    total_upstreams: d(u64, 'Configured upstream entries.'),
  },
  { reason: d(oneOfStr(['admission_closed', 'no_healthy_upstreams']), 'Present when not ready.') },
);

export const SystemInfoData = obj(
  'SystemInfoData',
  {
    version: d(str, 'mtedge version.'),
    target_arch: d(str, 'CPU architecture (`process.arch`).'),
    target_os: d(str, 'Operating system (`process.platform`).'),
    build_profile: d(str, '`release` unless NODE_ENV=development.'),
    engine: d(str, 'mtedge: HTTP engine and native binary in use.'),
    process_started_at_epoch_secs: d(u64, 'Process start, Unix seconds.'),
    uptime_seconds: d(f64, 'Process uptime in seconds.'),
    config_path: d(str, 'Active config file path.'),
    config_hash: d(str, 'Same value as the envelope `revision`.'),
    config_reload_count: d(u64, 'Config updates applied since process start.'),
    workers: d(
      obj('SystemInfoWorkers', {
        configured: u64,
        ready: u64,
        restarts_total: d(u64, 'Workers restarted after a crash since start.'),
        accepts_by_worker: d(u64Arr, 'Client connections accepted by each worker thread (the kernel spreads accepts).'),
      }),
      'mtedge: data-plane worker threads.',
    ),
  },
  {
    git_commit: d(str, 'Not reported by mtedge.'),
    build_time_utc: d(str, 'Not reported by mtedge.'),
    rustc_version: d(str, 'Not applicable (telemt field).'),
    last_config_reload_epoch_secs: d(u64, 'Latest applied config update, Unix seconds; absent before the first.'),
  },
);

const startupStatus = oneOfStr(['pending', 'initializing', 'ready', 'failed', 'skipped']);

export const RuntimeGatesData = obj(
  'RuntimeGatesData',
  {
    accepting_new_connections: bool,
    conditional_cast_enabled: bool,
    me_runtime_ready: bool,
    me2dc_fallback_enabled: bool,
    me2dc_fast_enabled: bool,
    use_middle_proxy: bool,
    route_mode: str,
    reroute_active: bool,
    startup_status: startupStatus,
    startup_stage: str,
    startup_progress_pct: f64,
  },
  {
    reroute_to_direct_at_epoch_secs: u64,
    reroute_reason: d(str, '`startup_direct_fallback` (ME never ready yet) or `strict_grace_fallback` (a DC has no ready writer) while reroute is active.'),
    ad_tag_served: d(bool, 'mtedge: `true` when ME serves clients with an ad tag configured and no DC is rerouted to Direct-DC.'),
  },
);

export const RuntimeInitializationMeData = obj(
  'RuntimeInitializationMeData',
  { status: startupStatus, current_stage: str, progress_pct: f64, init_attempt: u64, retry_limit: str },
  { last_error: str },
);

export const RuntimeInitializationComponentData = obj(
  'RuntimeInitializationComponentData',
  { id: str, title: str, status: oneOfStr(['pending', 'running', 'ready', 'failed', 'skipped']), attempts: u64 },
  { started_at_epoch_ms: u64, finished_at_epoch_ms: u64, duration_ms: u64, details: str },
);

export const RuntimeInitializationData = obj(
  'RuntimeInitializationData',
  {
    status: startupStatus,
    degraded: bool,
    current_stage: str,
    progress_pct: f64,
    started_at_epoch_secs: u64,
    total_elapsed_ms: u64,
    transport_mode: oneOfStr(['middle_proxy', 'direct']),
    me: RuntimeInitializationMeData,
    components: arr(RuntimeInitializationComponentData),
  },
  { ready_at_epoch_secs: u64 },
);

// --- limits / security ------------------------------------------------------------------------
export const EffectiveTimeoutLimits = obj('EffectiveTimeoutLimits', {
  client_handshake_secs: u64,
  client_first_byte_idle_secs: u64,
  tg_connect_secs: u64,
  client_keepalive_secs: u64,
  client_ack_secs: u64,
  me_one_retry: u64,
  me_one_timeout_ms: u64,
});

export const EffectiveUpstreamLimits = obj('EffectiveUpstreamLimits', {
  connect_retry_attempts: u64,
  connect_retry_backoff_ms: u64,
  connect_budget_ms: u64,
  unhealthy_fail_threshold: u64,
  connect_failfast_hard_errors: bool,
});

export const EffectiveMiddleProxyLimits = obj('EffectiveMiddleProxyLimits', {
  floor_mode: oneOfStr(['static', 'adaptive']),
  adaptive_floor_idle_secs: u64,
  adaptive_floor_min_writers_single_endpoint: u64,
  adaptive_floor_min_writers_multi_endpoint: u64,
  adaptive_floor_recover_grace_secs: u64,
  adaptive_floor_writers_per_core_total: u64,
  adaptive_floor_cpu_cores_override: u64,
  adaptive_floor_max_extra_writers_single_per_core: u64,
  adaptive_floor_max_extra_writers_multi_per_core: u64,
  adaptive_floor_max_active_writers_per_core: u64,
  adaptive_floor_max_warm_writers_per_core: u64,
  adaptive_floor_max_active_writers_global: u64,
  adaptive_floor_max_warm_writers_global: u64,
  reconnect_max_concurrent_per_dc: u64,
  reconnect_backoff_base_ms: u64,
  reconnect_backoff_cap_ms: u64,
  reconnect_fast_retry_count: u64,
  writer_pick_mode: oneOfStr(['sorted_rr', 'p2c']),
  writer_pick_sample_size: u64,
  me2dc_fallback: bool,
  me2dc_fast: bool,
});

export const EffectiveLimitsData = obj('EffectiveLimitsData', {
  update_every_secs: u64,
  me_reinit_every_secs: u64,
  me_pool_force_close_secs: u64,
  timeouts: EffectiveTimeoutLimits,
  upstream: EffectiveUpstreamLimits,
  middle_proxy: EffectiveMiddleProxyLimits,
  user_ip_policy: obj('EffectiveUserIpPolicyLimits', {
    global_each: u64,
    mode: oneOfStr(['active_window', 'time_window', 'combined']),
    window_secs: u64,
  }),
  user_tcp_policy: obj('EffectiveUserTcpPolicyLimits', { global_each: u64 }),
});

export const SecurityPostureData = obj('SecurityPostureData', {
  api_read_only: bool,
  api_whitelist_enabled: bool,
  api_whitelist_entries: u64,
  api_auth_header_enabled: bool,
  proxy_protocol_enabled: bool,
  log_level: oneOfStr(['debug', 'verbose', 'normal', 'silent']),
  telemetry_core_enabled: bool,
  telemetry_user_enabled: bool,
  telemetry_me_level: str,
});

export const SecurityWhitelistData = obj('SecurityWhitelistData', {
  generated_at_epoch_secs: u64,
  enabled: bool,
  entries_total: u64,
  entries: strArr,
});

// --- stats ------------------------------------------------------------------------------------
// The counter registry in @mtedge/stats names these fields once; the contract reuses its lists.
export const ZERO_UPSTREAM_FIELDS = UPSTREAM_FIELDS;
export const ZERO_DESYNC_FIELDS = DESYNC_FIELDS;
const ClassCount = obj('ClassCount', { class: str, total: u64 });
const StageCount = obj('StageCount', { stage: str, total: u64 });

export const SummaryData = obj('SummaryData', {
  uptime_seconds: f64,
  connections_total: u64,
  connections_bad_total: u64,
  connections_bad_by_class: arr(ClassCount),
  handshake_failures_by_class: arr(ClassCount),
  handshake_failures_by_stage: arr(StageCount),
  handshake_timeouts_total: u64,
  configured_users: u64,
});

export const ZERO_MIDDLE_PROXY_FIELDS = [
  'keepalive_sent_total',
  'keepalive_failed_total',
  'keepalive_pong_total',
  'keepalive_timeout_total',
  'rpc_proxy_req_signal_sent_total',
  'rpc_proxy_req_signal_failed_total',
  'rpc_proxy_req_signal_skipped_no_meta_total',
  'rpc_proxy_req_signal_response_total',
  'rpc_proxy_req_signal_close_sent_total',
  'reconnect_attempt_total',
  'reconnect_success_total',
  'handshake_reject_total',
  'reader_eof_total',
  'idle_close_by_peer_total',
  'route_drop_no_conn_total',
  'route_drop_channel_closed_total',
  'route_drop_queue_full_total',
  'route_drop_queue_full_base_total',
  'route_drop_queue_full_high_total',
  'd2c_batches_total',
  'd2c_batch_frames_total',
  'd2c_batch_bytes_total',
  'd2c_flush_reason_queue_drain_total',
  'd2c_flush_reason_batch_frames_total',
  'd2c_flush_reason_batch_bytes_total',
  'd2c_flush_reason_max_delay_total',
  'd2c_flush_reason_ack_immediate_total',
  'd2c_flush_reason_close_total',
  'd2c_data_frames_total',
  'd2c_ack_frames_total',
  'd2c_payload_bytes_total',
  'd2c_write_mode_coalesced_total',
  'd2c_write_mode_split_total',
  'd2c_quota_reject_pre_write_total',
  'd2c_quota_reject_post_write_total',
  'd2c_frame_buf_shrink_total',
  'd2c_frame_buf_shrink_bytes_total',
  'socks_kdf_strict_reject_total',
  'socks_kdf_compat_fallback_total',
  'endpoint_quarantine_total',
  'kdf_drift_total',
  'kdf_port_only_drift_total',
  'hardswap_pending_reuse_total',
  'hardswap_pending_ttl_expired_total',
  'single_endpoint_outage_enter_total',
  'single_endpoint_outage_exit_total',
  'single_endpoint_outage_reconnect_attempt_total',
  'single_endpoint_outage_reconnect_success_total',
  'single_endpoint_quarantine_bypass_total',
  'single_endpoint_shadow_rotate_total',
  'single_endpoint_shadow_rotate_skipped_quarantine_total',
  'floor_mode_switch_total',
  'floor_mode_switch_static_to_adaptive_total',
  'floor_mode_switch_adaptive_to_static_total',
] as const;

export const ZERO_POOL_FIELDS = [
  'pool_swap_total',
  'pool_drain_active',
  'pool_force_close_total',
  'pool_stale_pick_total',
  'writer_removed_total',
  'writer_removed_unexpected_total',
  'refill_triggered_total',
  'refill_skipped_inflight_total',
  'refill_failed_total',
  'writer_restored_same_endpoint_total',
  'writer_restored_fallback_total',
] as const;

export const ZeroUpstreamData = counters('ZeroUpstreamData', ZERO_UPSTREAM_FIELDS);

export const ZeroCoreData = obj('ZeroCoreData', {
  uptime_seconds: f64,
  connections_total: u64,
  connections_bad_total: u64,
  connections_bad_by_class: arr(ClassCount),
  handshake_failures_by_class: arr(ClassCount),
  handshake_failures_by_stage: arr(StageCount),
  handshake_timeouts_total: u64,
  accept_permit_timeout_total: u64,
  configured_users: u64,
  telemetry_core_enabled: bool,
  telemetry_user_enabled: bool,
  telemetry_me_level: str,
  conntrack_control_enabled: bool,
  conntrack_control_available: bool,
  conntrack_pressure_active: bool,
  conntrack_event_queue_depth: u64,
  conntrack_rule_apply_ok: bool,
  conntrack_delete_attempt_total: u64,
  conntrack_delete_success_total: u64,
  conntrack_delete_not_found_total: u64,
  conntrack_delete_error_total: u64,
  conntrack_close_event_drop_total: u64,
});

export const ZeroAllData = obj('ZeroAllData', {
  generated_at_epoch_secs: u64,
  core: ZeroCoreData,
  upstream: ZeroUpstreamData,
  middle_proxy: counters('ZeroMiddleProxyData', ZERO_MIDDLE_PROXY_FIELDS, {
    handshake_error_codes: arr(obj('ZeroCodeCount', { code: i64, total: u64 })),
    // mtedge additions: routing outcomes (fallback, refused) and RPC traffic of the ME path.
    ...Object.fromEntries(ME_EDGE_FIELDS.map((f) => [f, d(u64, 'mtedge ME counter.')])),
  }),
  pool: counters('ZeroPoolData', ZERO_POOL_FIELDS),
  desync: counters('ZeroDesyncData', ZERO_DESYNC_FIELDS),
});

const upstreamSummaryFields = {
  configured_total: u64,
  healthy_total: u64,
  unhealthy_total: u64,
  direct_total: u64,
  socks4_total: u64,
  socks5_total: u64,
  shadowsocks_total: u64,
};
const routeKind = oneOfStr(['direct', 'socks4', 'socks5', 'shadowsocks']);
const ipPreference = oneOfStr(['unknown', 'prefer_v4', 'prefer_v6', 'both_work', 'unavailable']);
const upstreamRow = (title: string, dcTitle: string, latencyKey: string): JsonSchema =>
  obj(
    title,
    {
      upstream_id: u64,
      route_kind: routeKind,
      address: str,
      weight: u64,
      scopes: str,
      healthy: bool,
      fails: u64,
      last_check_age_secs: u64,
      dc: arr(obj(dcTitle, { dc: i64, ip_preference: ipPreference }, { [latencyKey]: f64 })),
    },
    { effective_latency_ms: f64 },
  );

export const UpstreamsData = obj(
  'UpstreamsData',
  { enabled: bool, generated_at_epoch_secs: u64, zero: ZeroUpstreamData },
  {
    reason: oneOfStr(['feature_disabled', 'source_unavailable']),
    summary: obj('UpstreamSummaryData', upstreamSummaryFields),
    upstreams: arr(upstreamRow('UpstreamStatus', 'UpstreamDcStatus', 'latency_ema_ms')),
  },
);

// --- ME (Middle-End) blocks: real snapshots with ME on, the unavailable shapes otherwise -----
const availabilityReason = oneOfStr(['feature_disabled', 'source_unavailable']);

export const MeWritersData = obj(
  'MeWritersData',
  {
    middle_proxy_enabled: bool,
    generated_at_epoch_secs: u64,
    summary: obj('MeWritersSummary', {
      configured_dc_groups: u64,
      configured_endpoints: u64,
      available_endpoints: u64,
      available_pct: f64,
      required_writers: u64,
      alive_writers: u64,
      coverage_pct: f64,
      fresh_alive_writers: u64,
      fresh_coverage_pct: f64,
    }),
    writers: arr(
      obj(
        'MeWriterStatus',
        {
          writer_id: u64,
          endpoint: str,
          generation: u64,
          state: oneOfStr(['warm', 'active', 'draining']),
          draining: bool,
          degraded: bool,
          bound_clients: u64,
          matches_active_generation: bool,
          in_desired_map: bool,
          allow_drain_fallback: bool,
          drain_over_ttl: bool,
        },
        {
          dc: i64,
          idle_for_secs: u64,
          rtt_ema_ms: f64,
          drain_started_at_epoch_secs: u64,
          drain_deadline_epoch_secs: u64,
          worker: d(u64, 'mtedge: index of the worker thread that owns this writer.'),
        },
      ),
    ),
  },
  { reason: availabilityReason },
);

export const DcStatusData = obj(
  'DcStatusData',
  {
    middle_proxy_enabled: bool,
    generated_at_epoch_secs: u64,
    dcs: arr(
      obj(
        'DcStatus',
        {
          dc: i64,
          endpoints: strArr,
          endpoint_writers: arr(obj('DcEndpointWriters', { endpoint: str, active_writers: u64 })),
          available_endpoints: u64,
          available_pct: f64,
          required_writers: u64,
          floor_min: u64,
          floor_target: u64,
          floor_max: u64,
          floor_capped: bool,
          alive_writers: u64,
          coverage_pct: f64,
          fresh_alive_writers: u64,
          fresh_coverage_pct: f64,
          load: u64,
        },
        {
          rtt_ms: f64,
          reroute_active: d(bool, 'mtedge: new clients of this DC are routed to Direct-DC (fallback) or refused (no fallback).'),
          reroute_since_epoch_secs: d(u64, 'mtedge: when the current reroute began.'),
          reroute_reason: d(str, 'mtedge: `strict_grace_fallback` (routed direct) or `no_writer_client_closed` (me2dc_fallback = false).'),
          reroute_detail: d(str, 'mtedge: last reason text from the workers.'),
          fallback_total: d(u64, 'mtedge: clients of this DC that ME could not take during the current reroute.'),
        },
      ),
    ),
  },
  { reason: availabilityReason },
);

/**
 * MinimalMeRuntimeData: generations and hardswap from the pools; knobs as configured. mtedge's
 * writer floor is static, so the adaptive_floor_* knobs have no effect there.
 */
const MinimalMeRuntimeData = obj(
  'MinimalMeRuntimeData',
  {
    active_generation: d(u64, 'Generation new clients bind to (0: ME inputs not loaded).'),
    warm_generation: d(u64, 'Newest generation held: the one warming while a hardswap is pending, else the active one.'),
    pending_hardswap_generation: d(u64, 'Generation warming and waiting to be swapped in; 0 when none.'),
    hardswap_enabled: d(bool, '`general.hardswap`.'),
    floor_mode: d(oneOfStr(['static', 'adaptive']), 'mtedge: always `static` (middle_proxy_pool_size writers per DC).'),
    adaptive_floor_idle_secs: d(u64, 'As configured (no effect: static floor).'),
    adaptive_floor_min_writers_single_endpoint: d(u64, 'As configured (no effect: static floor).'),
    adaptive_floor_min_writers_multi_endpoint: d(u64, 'As configured (no effect: static floor).'),
    adaptive_floor_recover_grace_secs: d(u64, 'As configured (no effect: static floor).'),
    adaptive_floor_writers_per_core_total: d(u64, 'As configured (no effect: static floor).'),
    adaptive_floor_cpu_cores_override: d(u64, 'As configured; `0` = auto-detect.'),
    adaptive_floor_max_extra_writers_single_per_core: d(u64, 'As configured (no effect: static floor).'),
    adaptive_floor_max_extra_writers_multi_per_core: d(u64, 'As configured (no effect: static floor).'),
    adaptive_floor_max_active_writers_per_core: d(u64, 'As configured (no effect: static floor).'),
    adaptive_floor_max_warm_writers_per_core: d(u64, 'As configured (no effect: static floor).'),
    adaptive_floor_max_active_writers_global: d(u64, 'As configured (no effect: static floor).'),
    adaptive_floor_max_warm_writers_global: d(u64, 'As configured (no effect: static floor).'),
    adaptive_floor_cpu_cores_detected: d(u64, 'Logical CPU cores available to the process.'),
    adaptive_floor_cpu_cores_effective: d(u64, 'The override when set, else the detected count.'),
    adaptive_floor_global_cap_raw: d(u64, 'Effective cores * writers_per_core_total.'),
    adaptive_floor_global_cap_effective: d(u64, 'Raw global cap clamped to the effective active cap.'),
    adaptive_floor_target_writers_total: d(u64, 'Writer slots the pools keep for the DCs in the table (static floor).'),
    adaptive_floor_active_cap_configured: d(u64, 'max_active_writers_global.'),
    adaptive_floor_active_cap_effective: d(u64, 'min(max_active_writers_global, effective cores * max_active_writers_per_core).'),
    adaptive_floor_warm_cap_configured: d(u64, 'max_warm_writers_global.'),
    adaptive_floor_warm_cap_effective: d(u64, 'min(max_warm_writers_global, effective cores * max_warm_writers_per_core).'),
    adaptive_floor_active_writers_current: d(u64, 'Writers taking new clients now.'),
    adaptive_floor_warm_writers_current: d(u64, 'Writers not taking clients yet: (re)connecting, or of the generation warming.'),
    me_keepalive_enabled: bool,
    me_keepalive_interval_secs: u64,
    me_keepalive_jitter_secs: u64,
    me_keepalive_payload_random: d(bool, 'As configured (accepted, no effect).'),
    rpc_proxy_req_every_secs: d(u64, 'As configured (accepted, no effect).'),
    me_reconnect_max_concurrent_per_dc: d(u64, 'As configured (accepted, no effect).'),
    me_reconnect_backoff_base_ms: u64,
    me_reconnect_backoff_cap_ms: u64,
    me_reconnect_fast_retry_count: d(u64, 'As configured (accepted, no effect).'),
    me_pool_drain_ttl_secs: u64,
    me_pool_force_close_secs: d(u64, 'mtedge: a draining writer is closed when me_pool_drain_ttl_secs ends.'),
    me_pool_min_fresh_ratio: d(f64, 'As configured (accepted, no effect).'),
    me_bind_stale_mode: d(str, 'As configured (accepted, no effect).'),
    me_bind_stale_ttl_secs: d(u64, 'As configured (accepted, no effect).'),
    me_single_endpoint_shadow_writers: d(u64, 'As configured (accepted, no effect).'),
    me_single_endpoint_outage_mode_enabled: d(bool, 'As configured (accepted, no effect).'),
    me_single_endpoint_outage_disable_quarantine: d(bool, 'As configured (accepted, no effect).'),
    me_single_endpoint_outage_backoff_min_ms: d(u64, 'As configured (accepted, no effect).'),
    me_single_endpoint_outage_backoff_max_ms: d(u64, 'As configured (accepted, no effect).'),
    me_single_endpoint_shadow_rotate_every_secs: d(u64, 'As configured (accepted, no effect).'),
    me_deterministic_writer_sort: d(bool, 'As configured (accepted, no effect).'),
    me_writer_pick_mode: d(str, 'As configured (accepted; mtedge picks the least loaded writer).'),
    me_writer_pick_sample_size: d(u64, 'As configured (accepted, no effect).'),
    me_socks_kdf_policy: d(str, 'As configured (accepted; mtedge has no SOCKS upstreams).'),
    quarantined_endpoints_total: u64,
    quarantined_endpoints: arr(obj('MinimalQuarantineData', { endpoint: str, remaining_ms: u64 })),
  },
  { pending_hardswap_age_secs: d(u64, 'Age of the pending hardswap; absent when none.') },
);

export const MinimalAllData = obj(
  'MinimalAllData',
  { enabled: bool, generated_at_epoch_secs: u64 },
  {
    reason: availabilityReason,
    data: obj(
      'MinimalAllPayload',
      {
        me_writers: MeWritersData,
        dcs: DcStatusData,
        network_path: arr(obj('MinimalDcPathData', { dc: i64 }, { ip_preference: str, selected_addr_v4: str, selected_addr_v6: str })),
      },
      { me_runtime: MinimalMeRuntimeData },
    ),
  },
);

/** Runtime payloads whose `data` is null while their source is unavailable. */
function runtimeEnvelope(title: string, payload: JsonSchema, reasons: readonly string[]): JsonSchema {
  return obj(title, { enabled: bool, generated_at_epoch_secs: u64 }, { reason: oneOfStr(reasons), data: payload });
}

const ipFamily = oneOfStr(['V4', 'V6']);

const RuntimeMePoolStatePayload = obj('RuntimeMePoolStatePayload', {
  generations: obj(
    'RuntimeMePoolStateGenerationData',
    { active_generation: u64, warm_generation: u64, pending_hardswap_generation: u64, draining_generations: u64Arr },
    { pending_hardswap_age_secs: u64 },
  ),
  hardswap: obj('RuntimeMePoolStateHardswapData', { enabled: bool, pending: bool }),
  writers: obj('RuntimeMePoolStateWriterData', {
    total: u64,
    alive_non_draining: u64,
    draining: u64,
    degraded: u64,
    contour: obj('RuntimeMePoolStateWriterContourData', { warm: u64, active: u64, draining: u64 }),
    health: obj('RuntimeMePoolStateWriterHealthData', { healthy: u64, degraded: u64, draining: u64 }),
  }),
  refill: obj('RuntimeMePoolStateRefillData', {
    inflight_endpoints_total: u64,
    inflight_dc_total: u64,
    by_dc: arr(obj('RuntimeMePoolStateRefillDcData', { dc: i64, family: ipFamily, inflight: u64 })),
  }),
});

const RuntimeMeQualityPayload = obj('RuntimeMeQualityPayload', {
  counters: counters('RuntimeMeQualityCountersData', [
    'idle_close_by_peer_total',
    'reader_eof_total',
    'kdf_drift_total',
    'kdf_port_only_drift_total',
    'reconnect_attempt_total',
    'reconnect_success_total',
  ]),
  route_drops: counters('RuntimeMeQualityRouteDropData', ['no_conn_total', 'channel_closed_total', 'queue_full_total', 'queue_full_base_total', 'queue_full_high_total']),
  family_states: arr(
    obj(
      'RuntimeMeQualityFamilyStateData',
      { family: ipFamily, state: str, state_since_epoch_secs: u64, fail_streak: u64, recover_success_streak: u64 },
      { suppressed_until_epoch_secs: u64 },
    ),
  ),
  drain_gate: obj('RuntimeMeQualityDrainGateData', { route_quorum_ok: bool, redundancy_ok: bool, block_reason: str, updated_at_epoch_secs: u64 }),
  dc_rtt: arr(obj('RuntimeMeQualityDcRttData', { dc: i64, alive_writers: u64, required_writers: u64, coverage_pct: f64 }, { rtt_ema_ms: f64 })),
});

const natReflection = obj('RuntimeNatStunReflectionData', { addr: str, age_secs: u64 });
const RuntimeNatStunPayload = obj(
  'RuntimeNatStunPayload',
  {
    flags: obj('RuntimeNatStunFlagsData', { nat_probe_enabled: bool, nat_probe_disabled_runtime: bool, nat_probe_attempts: u64 }),
    servers: obj('RuntimeNatStunServersData', { configured: strArr, live: strArr, live_total: u64 }),
    reflection: obj('RuntimeNatStunReflectionBlockData', {}, { v4: natReflection, v6: natReflection }),
  },
  { stun_backoff_remaining_ms: u64 },
);

const selftestIp = obj('RuntimeMeSelftestIpFamilyData', { addr: str, state: oneOfStr(['good', 'bogon', 'loopback']) });
const RuntimeMeSelftestPayload = obj('RuntimeMeSelftestPayload', {
  kdf: obj(
    'RuntimeMeSelftestKdfData',
    { state: oneOfStr(['ok', 'error']), ewma_errors_per_min: f64, threshold_errors_per_min: f64, errors_total: u64 },
    {
      key_select: d(str, 'mtedge: proxy-secret key selector (hex) the KDF keys on.'),
      nat_ip: d(str, 'mtedge: general.middle_proxy_nat_ip mixed into the KDF instead of the local address.'),
      local_addrs: d(strArr, 'mtedge: local addresses of the live ME links (KDF client address without NAT).'),
    },
  ),
  timeskew: obj(
    'RuntimeMeSelftestTimeskewData',
    { state: oneOfStr(['ok', 'error']), samples_15m: u64 },
    { max_skew_secs_15m: u64, last_skew_secs: u64, last_source: str, last_seen_age_secs: u64 },
  ),
  ip: obj('RuntimeMeSelftestIpData', {}, { v4: selftestIp, v6: selftestIp }),
  pid: obj('RuntimeMeSelftestPidData', { pid: u64, state: oneOfStr(['one', 'non-one']) }),
  bnd: obj(
    'RuntimeMeSelftestBndData',
    { addr_state: oneOfStr(['ok', 'bogon', 'error']), port_state: oneOfStr(['ok', 'zero', 'error']) },
    { last_addr: str, last_seen_age_secs: u64 },
  ),
});

export const RuntimeMePoolStateData = runtimeEnvelope('RuntimeMePoolStateData', RuntimeMePoolStatePayload, ['source_unavailable']);
export const RuntimeMeQualityData = runtimeEnvelope('RuntimeMeQualityData', RuntimeMeQualityPayload, ['source_unavailable']);
export const RuntimeNatStunData = runtimeEnvelope('RuntimeNatStunData', RuntimeNatStunPayload, ['source_unavailable']);
export const RuntimeMeSelftestData = runtimeEnvelope('RuntimeMeSelftestData', RuntimeMeSelftestPayload, ['source_unavailable']);

export const RuntimeUpstreamQualityData = obj(
  'RuntimeUpstreamQualityData',
  {
    enabled: bool,
    generated_at_epoch_secs: u64,
    policy: obj('RuntimeUpstreamQualityPolicyData', {
      connect_retry_attempts: u64,
      connect_retry_backoff_ms: u64,
      connect_budget_ms: u64,
      unhealthy_fail_threshold: u64,
      connect_failfast_hard_errors: bool,
    }),
    counters: counters('RuntimeUpstreamQualityCountersData', [
      'connect_attempt_total',
      'connect_success_total',
      'connect_fail_total',
      'connect_failfast_hard_error_total',
    ]),
  },
  {
    reason: oneOfStr(['source_unavailable']),
    summary: obj('RuntimeUpstreamQualitySummaryData', upstreamSummaryFields),
    upstreams: arr(upstreamRow('RuntimeUpstreamQualityUpstreamData', 'RuntimeUpstreamQualityDcData', 'latency_ema_ms')),
  },
);

// --- runtime edge -----------------------------------------------------------------------------
const ConnectionUser = obj('RuntimeEdgeConnectionUserData', { username: str, current_connections: u64, total_octets: u64 });

export const RuntimeEdgeConnectionsSummaryData = obj(
  'RuntimeEdgeConnectionsSummaryData',
  { enabled: bool, generated_at_epoch_secs: u64 },
  {
    reason: availabilityReason,
    data: obj('RuntimeEdgeConnectionsSummaryPayload', {
      cache: obj('RuntimeEdgeConnectionCacheData', { ttl_ms: u64, served_from_cache: bool, stale_cache_used: bool }),
      totals: obj('RuntimeEdgeConnectionTotalsData', {
        current_connections: u64,
        current_connections_me: u64,
        current_connections_direct: u64,
        active_users: u64,
      }),
      top: obj('RuntimeEdgeConnectionTopData', { limit: u64, by_connections: arr(ConnectionUser), by_throughput: arr(ConnectionUser) }),
      telemetry: obj('RuntimeEdgeConnectionTelemetryData', { user_enabled: bool, throughput_is_cumulative: bool }),
    }),
  },
);

export const ApiEventRecord = obj('ApiEventRecord', { seq: u64, ts_epoch_secs: u64, event_type: str, context: str });

export const RuntimeEdgeEventsData = obj(
  'RuntimeEdgeEventsData',
  { enabled: bool, generated_at_epoch_secs: u64 },
  {
    reason: oneOfStr(['feature_disabled']),
    data: obj('RuntimeEdgeEventsPayload', { capacity: u64, dropped_total: u64, events: arr(ApiEventRecord) }),
  },
);

const TlsFingerprintRow = obj(
  'RuntimeEdgeTlsFingerprintRow',
  {
    ja3: str,
    ja3_raw: str,
    ja4: str,
    ja4_raw: str,
    total: u64,
    auth_success: u64,
    bad_or_probe: u64,
    first_seen_epoch_secs: u64,
    last_seen_epoch_secs: u64,
  },
  { scope: str },
);

export const RuntimeEdgeTlsFingerprintsData = obj(
  'RuntimeEdgeTlsFingerprintsData',
  { enabled: bool, generated_at_epoch_secs: u64 },
  {
    reason: oneOfStr(['feature_disabled']),
    data: obj('RuntimeEdgeTlsFingerprintsPayload', {
      limit: u64,
      retention_secs: u64,
      capacity: u64,
      dropped_total: u64,
      parse_error_total: u64,
      by_fingerprint: arr(TlsFingerprintRow),
      by_ip: arr(TlsFingerprintRow),
      by_cidr: arr(TlsFingerprintRow),
      by_user: arr(TlsFingerprintRow),
    }),
  },
);

// --- users ------------------------------------------------------------------------------------
export const UserLinks = obj('UserLinks', {
  classic: d(strArr, 'Always present, possibly empty.'),
  secure: d(strArr, 'Always present, possibly empty.'),
  tls: d(strArr, 'Always present, possibly empty.'),
  tls_domains: arr(obj('TlsDomainLink', { domain: str, link: str })),
});

export const UserInfo = obj(
  'UserInfo',
  {
    username: d(str, 'Username.'),
    enabled: d(bool, 'Effective enable flag; a missing config entry reads as `true`.'),
    in_runtime: d(bool, 'Whether the running config already contains this user.'),
    current_connections: d(u64, 'Current live connections.'),
    active_unique_ips: d(u64, 'Current active unique source IPs.'),
    active_unique_ips_list: d(strArr, 'Current active unique source IPs.'),
    recent_unique_ips: d(u64, 'Unique source IPs inside the configured recent window.'),
    recent_unique_ips_list: d(strArr, 'Unique source IPs inside the configured recent window.'),
    total_octets: d(u64, 'Total traffic octets for this user (both directions).'),
    links: d(UserLinks, '`tg://proxy` links from the current config (`general.links.public_host`/listeners, `public_port` or `server.port`, enabled modes).'),
  },
  {
    user_ad_tag: d(str, 'Per-user ad tag (32 hex chars).'),
    max_tcp_conns: d(u64, 'Per-user max concurrent TCP connections.'),
    expiration_rfc3339: d(str, 'Expiration timestamp as written in config (starts with the date).'),
    data_quota_bytes: d(u64, 'Per-user traffic quota in bytes.'),
    rate_limit_up_bps: d(u64, 'Upload rate limit, bits per second.'),
    rate_limit_down_bps: d(u64, 'Download rate limit, bits per second.'),
    max_unique_ips: d(u64, 'Per-user unique source IP limit.'),
  },
);

export const UserInfoList = arr(UserInfo);

export const UserActiveIpsList = arr(obj('UserActiveIps', { username: str, active_ips: strArr }));

export const CreateUserResponse = obj('CreateUserResponse', { user: UserInfo, secret: d(str, 'Effective user secret (32 hex).') });
export const DeleteUserResponse = obj('DeleteUserResponse', {
  username: d(str, 'Deleted username.'),
  in_runtime: d(bool, '`true` while the running config still has the user.'),
});
export const ResetUserQuotaResponse = obj('ResetUserQuotaResponse', {
  username: d(str, 'User whose quota counter was reset.'),
  used_bytes: d(u64, 'Used bytes after the reset: always `0`.'),
  last_reset_epoch_secs: d(u64, 'Time of the reset, Unix seconds.'),
});

// --- config / reload --------------------------------------------------------------------------
const anyObject: JsonSchema = { type: 'object' };
const anyValue: JsonSchema = {};

export const ConfigData: JsonSchema = {
  title: 'ConfigData',
  description: 'The editable sections present in config.toml, plus `revision` (also in the envelope).',
  type: 'object',
  properties: {
    revision: str,
    general: anyObject,
    timeouts: anyObject,
    censorship: anyObject,
    upstreams: anyValue,
    show_link: anyValue,
    dc_overrides: anyObject,
  },
  required: ['revision'],
  additionalProperties: false,
};

const reloadState = oneOfStr(['accepted', 'preparing', 'activating', 'draining', 'succeeded', 'rolled_back', 'failed']);
const reloadFields = {
  reload_id: u64,
  target_generation: u64,
  config_revision: str,
  state: reloadState,
  mode: oneOfStr(['instant', 'drain']),
  failure_policy: oneOfStr(['keep_new', 'rollback']),
};

export const ReloadAccepted = obj('ReloadAccepted', reloadFields, { timeout_secs: u64 });

export const ReloadStatus = obj('ReloadStatus', { ...reloadFields, started_at_epoch_secs: u64 }, {
  timeout_secs: u64,
  finished_at_epoch_secs: u64,
  error: str,
  warnings: strArr,
  deferred_process_fields: strArr,
});

export const PatchConfigResponse = obj(
  'PatchConfigResponse',
  {
    revision: d(str, 'SHA-256 hex of the file after the write.'),
    restart_required: d(bool, 'Legacy flag: equals `process_restart_required` (mtedge applies every other field in-process).'),
    runtime_reload_required: d(bool, 'Always `false`: the write is applied to the running edge before the response.'),
    process_restart_required: d(bool, '`true` when process-owned sockets or paths changed.'),
    deferred_process_fields: d(strArr, 'Process-owned fields that need a restart.'),
    changed: d(strArr, 'Top-level sections that differ between the old and new file.'),
  },
  { reload: d(ReloadAccepted, 'Present when the request had a valid `reload` query.') },
);

export const RESPONSE_SCHEMAS = {
  HealthData,
  HealthReadyData,
  SystemInfoData,
  RuntimeGatesData,
  RuntimeInitializationData,
  EffectiveLimitsData,
  SecurityPostureData,
  SecurityWhitelistData,
  SummaryData,
  ZeroAllData,
  UpstreamsData,
  MinimalAllData,
  MeWritersData,
  DcStatusData,
  RuntimeMePoolStateData,
  RuntimeMeQualityData,
  RuntimeUpstreamQualityData,
  RuntimeNatStunData,
  RuntimeMeSelftestData,
  RuntimeEdgeConnectionsSummaryData,
  RuntimeEdgeEventsData,
  RuntimeEdgeTlsFingerprintsData,
  UserActiveIpsList,
  UserInfoList,
  UserInfo,
  CreateUserResponse,
  DeleteUserResponse,
  ResetUserQuotaResponse,
  ConfigData,
  PatchConfigResponse,
  ReloadAccepted,
  ReloadStatus,
} as const;

export type ResponseSchemaName = keyof typeof RESPONSE_SCHEMAS;
