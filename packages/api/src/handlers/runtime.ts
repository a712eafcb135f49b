/**
 * /v1/runtime/*. The Middle-End is not built yet, so its endpoints answer with the contract's
 * `source_unavailable` shapes (telemt-API.md "Runtime State Matrix"), never invented figures.
 */
import type { ControlPlane } from '../control-plane.js';
import type { Handler } from './context.js';
import { nowSecs, sortedUsernames } from './common.js';
import { upstreamPolicy } from './system.js';

/** Text of the ME's absence, surfaced where the contract has an error/detail slot. */
const ME_UNAVAILABLE = 'middle-end runtime is not available in this build';

export const runtimeGates: Handler = ({ cp }) => {
  const c = cp.current().config;
  const rt = cp.runtime();
  // Without an ME, a use_middle_proxy config runs every session over Direct-DC.
  const reroute = c.general.use_middle_proxy;
  const data: Record<string, unknown> = {
    accepting_new_connections: rt.admission_open,
    conditional_cast_enabled: c.general.use_middle_proxy,
    me_runtime_ready: false,
    me2dc_fallback_enabled: c.general.me2dc_fallback,
    me2dc_fast_enabled: false,
    use_middle_proxy: c.general.use_middle_proxy,
    route_mode: 'direct',
    reroute_active: reroute,
    startup_status: rt.status,
    startup_stage: rt.current_stage,
    startup_progress_pct: rt.progress_pct,
  };
  if (reroute) {
    data['reroute_reason'] = 'startup_direct_fallback';
    data['reroute_to_direct_at_epoch_secs'] = Math.floor(rt.started_at_ms / 1000);
  }
  return { data };
};

export const runtimeInitialization: Handler = ({ cp }) => {
  const c = cp.current().config;
  const rt = cp.runtime();
  const me: Record<string, unknown> = {
    status: 'skipped',
    current_stage: 'skipped',
    progress_pct: 0,
    init_attempt: 0,
    retry_limit: 'unlimited',
  };
  if (c.general.use_middle_proxy) me['last_error'] = ME_UNAVAILABLE;
  const components = rt.components.map((comp) => {
    const row: Record<string, unknown> = { id: comp.id, title: comp.title, status: comp.status, attempts: comp.attempts };
    if (comp.started_at_epoch_ms !== undefined) row['started_at_epoch_ms'] = comp.started_at_epoch_ms;
    if (comp.finished_at_epoch_ms !== undefined) row['finished_at_epoch_ms'] = comp.finished_at_epoch_ms;
    if (comp.started_at_epoch_ms !== undefined && comp.finished_at_epoch_ms !== undefined) {
      row['duration_ms'] = Math.max(0, comp.finished_at_epoch_ms - comp.started_at_epoch_ms);
    }
    if (comp.details !== undefined) row['details'] = comp.details;
    return row;
  });
  const data: Record<string, unknown> = {
    status: rt.status,
    degraded: c.general.use_middle_proxy || rt.status === 'failed',
    current_stage: rt.current_stage,
    progress_pct: rt.progress_pct,
    started_at_epoch_secs: Math.floor(rt.started_at_ms / 1000),
    total_elapsed_ms: Math.max(0, Math.round((rt.ready_at_ms ?? Date.now()) - rt.started_at_ms)),
    transport_mode: c.general.use_middle_proxy ? 'middle_proxy' : 'direct',
    me,
    components,
  };
  if (rt.ready_at_ms !== undefined) data['ready_at_epoch_secs'] = Math.floor(rt.ready_at_ms / 1000);
  return { data };
};

function unavailable(): Handler {
  return () => ({ data: { enabled: false, reason: 'source_unavailable', generated_at_epoch_secs: nowSecs(), data: null } });
}

export const runtimeMePoolState = unavailable();
export const runtimeMeQuality = unavailable();
export const runtimeNatStun = unavailable();
export const runtimeMeSelftest = unavailable();

export function upstreamCounters(cp: ControlPlane, names: readonly string[]): Record<string, number> {
  const src = cp.counters().upstream;
  const out: Record<string, number> = {};
  for (const n of names) out[n] = src[n] ?? 0;
  return out;
}

/** Policy and counters are real; per-upstream runtime rows have no source yet. */
export const runtimeUpstreamQuality: Handler = ({ cp }) => ({
  data: {
    enabled: false,
    reason: 'source_unavailable',
    generated_at_epoch_secs: nowSecs(),
    policy: upstreamPolicy(),
    counters: upstreamCounters(cp, ['connect_attempt_total', 'connect_success_total', 'connect_fail_total', 'connect_failfast_hard_error_total']),
  },
});

function featureDisabled(): Record<string, unknown> {
  return { enabled: false, reason: 'feature_disabled', generated_at_epoch_secs: nowSecs(), data: null };
}

interface UserRow {
  username: string;
  current_connections: number;
  total_octets: number;
}

function buildEdgeSummary(cp: ControlPlane, ttlMs: number, topN: number): Record<string, unknown> {
  const counters = cp.counters();
  const rows: UserRow[] = sortedUsernames(cp).map((username) => {
    const u = cp.userRuntime(username);
    return { username, current_connections: u.current_connections, total_octets: u.total_octets };
  });
  const byConnections = rows
    .filter((r) => r.current_connections > 0)
    .sort((a, b) => b.current_connections - a.current_connections || (a.username < b.username ? -1 : 1))
    .slice(0, topN);
  const byThroughput = rows
    .filter((r) => r.total_octets > 0)
    .sort((a, b) => b.total_octets - a.total_octets || (a.username < b.username ? -1 : 1))
    .slice(0, topN);
  return {
    cache: { ttl_ms: ttlMs, served_from_cache: false, stale_cache_used: false },
    totals: {
      current_connections: counters.current_connections,
      current_connections_me: counters.current_connections_me,
      current_connections_direct: counters.current_connections_direct,
      active_users: rows.filter((r) => r.current_connections > 0).length,
    },
    top: { limit: topN, by_connections: byConnections, by_throughput: byThroughput },
    telemetry: { user_enabled: true, throughput_is_cumulative: true },
  };
}

export const runtimeConnectionsSummary: Handler = ({ cp, state }) => {
  const api = cp.current().config.server.api;
  if (!api.runtime_edge_enabled) return { data: featureDisabled() };
  const now = Date.now();
  const ttl = api.runtime_edge_cache_ttl_ms;
  const cached = state.edgeSummaryCache;
  let payload: Record<string, unknown>;
  if (ttl > 0 && cached !== undefined && now - cached.atMs < ttl) {
    const base = cached.payload as Record<string, unknown>;
    payload = { ...base, cache: { ttl_ms: ttl, served_from_cache: true, stale_cache_used: false } };
  } else {
    payload = buildEdgeSummary(cp, ttl, api.runtime_edge_top_n);
    state.edgeSummaryCache = ttl > 0 ? { atMs: now, payload } : undefined;
  }
  return { data: { enabled: true, generated_at_epoch_secs: nowSecs(), data: payload } };
};

export const EVENTS_DEFAULT_LIMIT = 50;
export const EVENTS_MAX_LIMIT = 1000;

/** Invalid or missing `limit` falls back to 50; clamp to [1, 1000] and the ring capacity. */
export function eventsLimit(raw: string | null, capacity: number): number {
  let n = EVENTS_DEFAULT_LIMIT;
  if (raw !== null && /^[0-9]+$/.test(raw.trim())) n = Number(raw.trim());
  n = Math.min(Math.max(n, 1), EVENTS_MAX_LIMIT);
  return Math.max(1, Math.min(n, capacity));
}

export const runtimeEventsRecent: Handler = ({ cp, query }) => {
  const api = cp.current().config.server.api;
  if (!api.runtime_edge_enabled) return { data: featureDisabled() };
  const view = cp.events(eventsLimit(query.get('limit'), api.runtime_edge_events_capacity));
  return {
    data: {
      enabled: true,
      generated_at_epoch_secs: nowSecs(),
      data: {
        capacity: Math.min(view.capacity, api.runtime_edge_events_capacity),
        dropped_total: view.dropped_total,
        events: view.events.map((e) => ({ seq: e.seq, ts_epoch_secs: e.ts_epoch_secs, event_type: e.event_type, context: e.context })),
      },
    },
  };
};

/** No fingerprint collector exists yet: an honest empty payload with zero capacity. */
export const runtimeTlsFingerprints: Handler = ({ cp, query }) => {
  const api = cp.current().config.server.api;
  if (!api.runtime_edge_enabled) return { data: featureDisabled() };
  const raw = query.get('limit');
  let limit = api.runtime_edge_top_n;
  if (raw !== null && /^[0-9]+$/.test(raw.trim())) limit = Math.min(Math.max(Number(raw.trim()), 1), 1000);
  return {
    data: {
      enabled: true,
      generated_at_epoch_secs: nowSecs(),
      data: {
        limit,
        retention_secs: 0,
        capacity: 0,
        dropped_total: 0,
        parse_error_total: 0,
        by_fingerprint: [],
        by_ip: [],
        by_cidr: [],
        by_user: [],
      },
    },
  };
};
