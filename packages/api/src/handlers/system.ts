/** /v1/system/info, /v1/limits/effective, /v1/security/*. */
import type { Handler } from './context.js';
import { contractLogLevel, nowSecs, uptimeSeconds } from './common.js';

export const systemInfo: Handler = ({ cp }) => {
  const snap = cp.current();
  const rt = cp.runtime();
  const data: Record<string, unknown> = {
    version: cp.version,
    target_arch: process.arch,
    target_os: process.platform,
    build_profile: process.env['NODE_ENV'] === 'development' ? 'debug' : 'release',
    engine: cp.engine,
    process_started_at_epoch_secs: Math.floor(rt.started_at_ms / 1000),
    uptime_seconds: uptimeSeconds(cp),
    config_path: snap.path,
    config_hash: snap.revision,
    config_reload_count: rt.config_reload_count,
    workers: {
      configured: rt.workers_configured,
      ready: rt.workers_ready,
      restarts_total: rt.worker_restarts_total,
      accepts_by_worker: cp.counters().accepts_by_worker,
    },
  };
  if (rt.last_config_reload_epoch_secs !== undefined) data['last_config_reload_epoch_secs'] = rt.last_config_reload_epoch_secs;
  return { data, revision: snap.revision };
};

/**
 * telemt defaults for the settings mtedge's config does not model (telemt-CONFIG_PARAMS.en.md);
 * they are what a telemt file without those keys would run with.
 */
const TELEMT_DEFAULTS = {
  update_every_secs: 300,
  me_reinit_every_secs: 900,
  me_pool_force_close_secs: 300,
  me_one_retry: 12,
  me_one_timeout_ms: 1200,
  upstream: {
    connect_retry_attempts: 2,
    connect_retry_backoff_ms: 100,
    connect_budget_ms: 3000,
    unhealthy_fail_threshold: 5,
    connect_failfast_hard_errors: false,
  },
} as const;

export function upstreamPolicy(): Record<string, number | boolean> {
  return { ...TELEMT_DEFAULTS.upstream };
}

export const limitsEffective: Handler = ({ cp }) => {
  const c = cp.current().config;
  return {
    data: {
      update_every_secs: TELEMT_DEFAULTS.update_every_secs,
      me_reinit_every_secs: TELEMT_DEFAULTS.me_reinit_every_secs,
      me_pool_force_close_secs: TELEMT_DEFAULTS.me_pool_force_close_secs,
      timeouts: {
        client_handshake_secs: c.timeouts.client_handshake,
        client_first_byte_idle_secs: c.timeouts.client_first_byte_idle_secs,
        tg_connect_secs: c.general.tg_connect,
        client_keepalive_secs: c.timeouts.client_keepalive,
        client_ack_secs: c.timeouts.client_ack,
        me_one_retry: TELEMT_DEFAULTS.me_one_retry,
        me_one_timeout_ms: TELEMT_DEFAULTS.me_one_timeout_ms,
      },
      upstream: upstreamPolicy(),
      middle_proxy: {
        floor_mode: 'adaptive',
        adaptive_floor_idle_secs: 90,
        adaptive_floor_min_writers_single_endpoint: 1,
        adaptive_floor_min_writers_multi_endpoint: 1,
        adaptive_floor_recover_grace_secs: 180,
        adaptive_floor_writers_per_core_total: 48,
        adaptive_floor_cpu_cores_override: 0,
        adaptive_floor_max_extra_writers_single_per_core: 1,
        adaptive_floor_max_extra_writers_multi_per_core: 2,
        adaptive_floor_max_active_writers_per_core: 64,
        adaptive_floor_max_warm_writers_per_core: 64,
        adaptive_floor_max_active_writers_global: 256,
        adaptive_floor_max_warm_writers_global: 256,
        reconnect_max_concurrent_per_dc: 8,
        reconnect_backoff_base_ms: 500,
        reconnect_backoff_cap_ms: 30000,
        reconnect_fast_retry_count: 16,
        writer_pick_mode: 'p2c',
        writer_pick_sample_size: 3,
        me2dc_fallback: c.general.me2dc_fallback,
        me2dc_fast: false,
      },
      user_ip_policy: {
        global_each: c.access.user_max_unique_ips_global_each,
        mode: c.access.user_max_unique_ips_mode,
        window_secs: c.access.user_max_unique_ips_window_secs,
      },
      user_tcp_policy: { global_each: c.access.user_max_tcp_conns_global_each },
    },
  };
};

export const securityPosture: Handler = ({ cp }) => {
  const c = cp.current().config;
  const api = c.server.api;
  return {
    data: {
      api_read_only: api.read_only,
      api_whitelist_enabled: api.whitelist.length > 0,
      api_whitelist_entries: api.whitelist.length,
      api_auth_header_enabled: api.auth_header !== '',
      proxy_protocol_enabled: c.server.proxy_protocol,
      log_level: contractLogLevel(c.general.log_level),
      telemetry_core_enabled: true,
      telemetry_user_enabled: true,
      telemetry_me_level: 'normal',
    },
  };
};

export const securityWhitelist: Handler = ({ cp }) => {
  const list = cp.current().config.server.api.whitelist;
  return {
    data: { generated_at_epoch_secs: nowSecs(), enabled: list.length > 0, entries_total: list.length, entries: [...list] },
  };
};
