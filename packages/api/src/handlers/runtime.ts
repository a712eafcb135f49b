/**
 * /v1/runtime/*. The Middle-End endpoints answer from the supervisor's ME status while
 * general.use_middle_proxy = true, and with the contract's `source_unavailable` shapes otherwise
 * (telemt-API.md "Runtime State Matrix"), never with invented figures.
 */
import type { ControlPlane, MeStatusSnapshot } from '../control-plane.js';
import type { Handler } from './context.js';
import { nowSecs, sortedUsernames } from './common.js';
import { upstreamPolicy } from './system.js';
import { dcFacts, mePoolStatePayload, meQualityPayload, meReady, meSelftestPayload, reroute } from './me-view.js';

export const runtimeGates: Handler = async ({ cp }) => {
  const c = cp.current().config;
  const rt = cp.runtime();
  const m = c.general.use_middle_proxy ? await cp.meStatus() : undefined;
  const ready = m !== undefined && meReady(m);
  const rr = m !== undefined ? reroute(m, rt.started_at_ms) : { active: false, since_ms: undefined, reason: undefined };
  const data: Record<string, unknown> = {
    accepting_new_connections: rt.admission_open,
    conditional_cast_enabled: c.general.use_middle_proxy,
    me_runtime_ready: ready,
    me2dc_fallback_enabled: c.general.me2dc_fallback,
    me2dc_fast_enabled: false,
    use_middle_proxy: c.general.use_middle_proxy,
    // Without fallback an unready ME still owns the route: its clients are refused, not sent direct.
    route_mode: c.general.use_middle_proxy && (ready || !c.general.me2dc_fallback) ? 'middle' : 'direct',
    reroute_active: rr.active,
    startup_status: rt.status,
    startup_stage: rt.current_stage,
    startup_progress_pct: rt.progress_pct,
    // mtedge: is the ad tag reaching Telegram right now (ME serving, nothing rerouted)?
    ad_tag_served: m !== undefined && m.ad_tag_configured && ready && !rr.active,
  };
  if (rr.active) {
    if (rr.reason !== undefined) data['reroute_reason'] = rr.reason;
    if (rr.since_ms !== undefined) data['reroute_to_direct_at_epoch_secs'] = Math.floor(rr.since_ms / 1000);
  }
  return { data };
};

/** ME start-up progress: half for the inputs, half for the DCs that have a ready writer. */
function meProgress(m: MeStatusSnapshot): number {
  if (m.status === 'ready') return 100;
  if (m.inputs === undefined) return 0;
  const dcs = dcFacts(m);
  const covered = dcs.filter((d) => d.alive > 0).length;
  return Math.round((50 + (dcs.length > 0 ? (50 * covered) / dcs.length : 0)) * 10) / 10;
}

export const runtimeInitialization: Handler = async ({ cp }) => {
  const c = cp.current().config;
  const rt = cp.runtime();
  const m = c.general.use_middle_proxy ? await cp.meStatus() : undefined;
  const me: Record<string, unknown> = {
    status: 'skipped',
    current_stage: 'skipped',
    progress_pct: 0,
    init_attempt: 0,
    retry_limit: 'unlimited',
  };
  if (m !== undefined) {
    me['status'] = m.status;
    me['current_stage'] = m.stage;
    me['progress_pct'] = meProgress(m);
    me['init_attempt'] = m.init_attempts;
    if (m.last_error !== undefined) me['last_error'] = m.last_error;
  } else if (c.general.use_middle_proxy) {
    me['status'] = 'pending';
    me['current_stage'] = 'pending';
  }
  const meDegraded = c.general.use_middle_proxy && (m === undefined || m.status !== 'ready' || reroute(m, rt.started_at_ms).active);
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
    degraded: meDegraded || rt.status === 'failed',
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

/** An ME runtime route: the payload from the ME status, or source_unavailable without one. */
function fromMe(build: (m: MeStatusSnapshot, cp: ControlPlane) => Record<string, unknown>): Handler {
  return async ({ cp }) => {
    const m = cp.current().config.general.use_middle_proxy ? await cp.meStatus() : undefined;
    if (m === undefined) return { data: { enabled: false, reason: 'source_unavailable', generated_at_epoch_secs: nowSecs(), data: null } };
    return { data: { enabled: true, generated_at_epoch_secs: Math.floor(m.generated_at_ms / 1000), data: build(m, cp) } };
  };
}

export const runtimeMePoolState = fromMe((m) => mePoolStatePayload(m));
export const runtimeMeQuality = fromMe((m, cp) => meQualityPayload(m, cp.counters()));
export const runtimeMeSelftest = fromMe((m, cp) => meSelftestPayload(m, cp.counters(), m.kdf_errors_ewma_per_min, process.pid));

/**
 * NAT/STUN: with probing off (`stun_use = false`, or a fixed middle_proxy_nat_ip wins) only the
 * configured values, and an empty reflection block since nothing was observed. With probing on,
 * the supervisor's prober: live servers, the reflected v4/v6 endpoints and the failure back-off.
 */
export const runtimeNatStun = fromMe((_m, cp) => {
  const net = cp.current().config.network;
  // m.nat_ip is the NAT IP in use, STUN-learned or configured: only a configured one stops probing.
  const wanted = net.stun_use && cp.current().config.general.middle_proxy_nat_ip === undefined;
  const st = wanted ? cp.natStun() : undefined;
  if (st === undefined || !st.probe_enabled) {
    return {
      flags: {
        nat_probe_enabled: false,
        // Probing is wanted by the config but no prober runs in this process.
        nat_probe_disabled_runtime: wanted && st === undefined,
        nat_probe_attempts: 0,
      },
      servers: { configured: [...net.stun_servers], live: [], live_total: 0 },
      reflection: {},
    };
  }
  const now = Date.now();
  const reflection: Record<string, unknown> = {};
  if (st.v4) reflection['v4'] = { addr: `${st.v4.ip}:${st.v4.port}`, age_secs: Math.max(0, Math.floor((now - st.v4.at_ms) / 1000)) };
  if (st.v6) reflection['v6'] = { addr: `[${st.v6.ip}]:${st.v6.port}`, age_secs: Math.max(0, Math.floor((now - st.v6.at_ms) / 1000)) };
  const data: Record<string, unknown> = {
    flags: {
      nat_probe_enabled: st.running,
      nat_probe_disabled_runtime: !st.running,
      // The contract types it u8: probe rounds made, saturating.
      nat_probe_attempts: Math.min(255, st.rounds),
    },
    servers: { configured: [...st.configured], live: [...st.live], live_total: st.live.length },
    reflection,
  };
  if (st.backoff_remaining_ms !== undefined) data['stun_backoff_remaining_ms'] = Math.max(0, Math.round(st.backoff_remaining_ms));
  return data;
});

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
