/**
 * MinimalMeRuntimeData (`me_runtime` of /v1/stats/minimal/all): the pools' generations and
 * hardswap state, and the ME knobs as the config sets them.
 *
 * mtedge keeps a static writer floor (general.middle_proxy_pool_size writers per DC), so
 * floor_mode is "static" and the adaptive_floor_* knobs are reported as configured (telemt's
 * documented defaults when unset) with no effect. Derived caps follow the knobs' documented
 * meaning: effective cores = override or detected; raw global cap = cores * writers_per_core_total;
 * effective caps = min(global cap, cores * per-core cap). Current counts are real.
 */
import type { ConfigSnapshot } from '@mtedge/config';
import type { MeStatusSnapshot } from '../control-plane.js';
import { dcFacts, meGenerationFacts, writerState } from './me-view.js';

/** A key of [general] from the file as parsed, else telemt's default (accepted keys: no effect in mtedge). */
function rawGeneral(snap: ConfigSnapshot): {
  num(key: string, d: number): number;
  bool(key: string, d: boolean): boolean;
  str(key: string, d: string): string;
} {
  const g = snap.raw['general'];
  const t: Readonly<Record<string, unknown>> = typeof g === 'object' && g !== null && !Array.isArray(g) ? (g as Record<string, unknown>) : {};
  return {
    num(key, d) {
      const v = t[key];
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      if (typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
      return d;
    },
    bool(key, d) {
      const v = t[key];
      if (typeof v === 'boolean') return v;
      if (v === 0 || v === 1) return v === 1;
      return d;
    },
    str(key, d) {
      const v = t[key];
      return typeof v === 'string' ? v : d;
    },
  };
}

export function meRuntimeData(m: MeStatusSnapshot, snap: ConfigSnapshot, cpuCoresDetected: number): Record<string, unknown> {
  const g = snap.config.general;
  const raw = rawGeneral(snap);
  const gen = meGenerationFacts(m);

  const override = raw.num('me_adaptive_floor_cpu_cores_override', 0);
  const cores = override > 0 ? override : Math.max(1, cpuCoresDetected);
  const perCoreTotal = raw.num('me_adaptive_floor_writers_per_core_total', 48);
  const activePerCore = raw.num('me_adaptive_floor_max_active_writers_per_core', 64);
  const warmPerCore = raw.num('me_adaptive_floor_max_warm_writers_per_core', 64);
  const activeGlobal = raw.num('me_adaptive_floor_max_active_writers_global', 256);
  const warmGlobal = raw.num('me_adaptive_floor_max_warm_writers_global', 256);
  const capRaw = cores * perCoreTotal;
  const activeCap = Math.min(activeGlobal, cores * activePerCore);
  const warmCap = Math.min(warmGlobal, cores * warmPerCore);
  const live = m.writers.filter((w) => !w.draining);

  // Quarantine over every worker and DC: the longest remaining time per endpoint.
  const quarantine = new Map<string, number>();
  for (const d of m.dcs) for (const q of d.quarantined) quarantine.set(q.endpoint, Math.max(q.remaining_ms, quarantine.get(q.endpoint) ?? 0));
  const quarantined = [...quarantine].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([endpoint, remaining_ms]) => ({ endpoint, remaining_ms }));

  const out: Record<string, unknown> = {
    active_generation: gen.active_generation,
    warm_generation: gen.warm_generation,
    pending_hardswap_generation: gen.pending_hardswap_generation,
    hardswap_enabled: m.generations.hardswap_enabled,
    floor_mode: 'static',
    adaptive_floor_idle_secs: raw.num('me_adaptive_floor_idle_secs', 90),
    adaptive_floor_min_writers_single_endpoint: raw.num('me_adaptive_floor_min_writers_single_endpoint', 1),
    adaptive_floor_min_writers_multi_endpoint: raw.num('me_adaptive_floor_min_writers_multi_endpoint', 1),
    adaptive_floor_recover_grace_secs: raw.num('me_adaptive_floor_recover_grace_secs', 180),
    adaptive_floor_writers_per_core_total: perCoreTotal,
    adaptive_floor_cpu_cores_override: override,
    adaptive_floor_max_extra_writers_single_per_core: raw.num('me_adaptive_floor_max_extra_writers_single_per_core', 1),
    adaptive_floor_max_extra_writers_multi_per_core: raw.num('me_adaptive_floor_max_extra_writers_multi_per_core', 2),
    adaptive_floor_max_active_writers_per_core: activePerCore,
    adaptive_floor_max_warm_writers_per_core: warmPerCore,
    adaptive_floor_max_active_writers_global: activeGlobal,
    adaptive_floor_max_warm_writers_global: warmGlobal,
    adaptive_floor_cpu_cores_detected: cpuCoresDetected,
    adaptive_floor_cpu_cores_effective: cores,
    adaptive_floor_global_cap_raw: capRaw,
    adaptive_floor_global_cap_effective: Math.min(capRaw, activeCap),
    // Static floor: the target is the writer slots the pools keep for the DCs in the table.
    adaptive_floor_target_writers_total: dcFacts(m).reduce((n, d) => n + d.configured, 0),
    adaptive_floor_active_cap_configured: activeGlobal,
    adaptive_floor_active_cap_effective: activeCap,
    adaptive_floor_warm_cap_configured: warmGlobal,
    adaptive_floor_warm_cap_effective: warmCap,
    adaptive_floor_active_writers_current: live.filter((w) => writerState(w) === 'active').length,
    adaptive_floor_warm_writers_current: live.filter((w) => writerState(w) === 'warm').length,
    me_keepalive_enabled: g.me_keepalive_enabled,
    me_keepalive_interval_secs: g.me_keepalive_interval_secs,
    me_keepalive_jitter_secs: g.me_keepalive_jitter_secs,
    me_keepalive_payload_random: raw.bool('me_keepalive_payload_random', true),
    rpc_proxy_req_every_secs: raw.num('rpc_proxy_req_every', 0),
    me_reconnect_max_concurrent_per_dc: raw.num('me_reconnect_max_concurrent_per_dc', 8),
    me_reconnect_backoff_base_ms: g.me_reconnect_backoff_base_ms,
    me_reconnect_backoff_cap_ms: Math.max(g.me_reconnect_backoff_base_ms, g.me_reconnect_backoff_cap_ms),
    me_reconnect_fast_retry_count: raw.num('me_reconnect_fast_retry_count', 16),
    me_pool_drain_ttl_secs: g.me_pool_drain_ttl_secs,
    // mtedge force-closes a draining writer when its drain TTL ends: that is its hard close.
    me_pool_force_close_secs: g.me_pool_drain_ttl_secs,
    me_pool_min_fresh_ratio: raw.num('me_pool_min_fresh_ratio', 0.8),
    me_bind_stale_mode: raw.str('me_bind_stale_mode', 'ttl'),
    me_bind_stale_ttl_secs: raw.num('me_bind_stale_ttl_secs', 90),
    me_single_endpoint_shadow_writers: raw.num('me_single_endpoint_shadow_writers', 2),
    me_single_endpoint_outage_mode_enabled: raw.bool('me_single_endpoint_outage_mode_enabled', true),
    me_single_endpoint_outage_disable_quarantine: raw.bool('me_single_endpoint_outage_disable_quarantine', true),
    me_single_endpoint_outage_backoff_min_ms: raw.num('me_single_endpoint_outage_backoff_min_ms', 250),
    me_single_endpoint_outage_backoff_max_ms: raw.num('me_single_endpoint_outage_backoff_max_ms', 3000),
    me_single_endpoint_shadow_rotate_every_secs: raw.num('me_single_endpoint_shadow_rotate_every_secs', 900),
    me_deterministic_writer_sort: raw.bool('me_deterministic_writer_sort', true),
    me_writer_pick_mode: raw.str('me_writer_pick_mode', 'p2c'),
    me_writer_pick_sample_size: raw.num('me_writer_pick_sample_size', 3),
    me_socks_kdf_policy: raw.str('me_socks_kdf_policy', 'strict'),
    quarantined_endpoints_total: quarantined.length,
    quarantined_endpoints: quarantined,
  };
  if (gen.pending_hardswap_age_secs !== undefined) out['pending_hardswap_age_secs'] = gen.pending_hardswap_age_secs;
  return out;
}
