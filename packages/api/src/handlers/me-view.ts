/**
 * Middle-End status (ControlPlane.meStatus) turned into the contract's blocks: MeWritersData,
 * DcStatusData, the runtime ME payloads and the gate/readiness facts. Pure functions of one
 * snapshot, so every route answering in the same request agrees with the others.
 *
 * Definitions mtedge uses where the contract leaves room:
 * - summary coverage_pct: DCs with at least one ready writer / DCs with endpoints * 100;
 * - per-DC available_pct: ready writers / configured writers * 100;
 * - "alive" = ready, not draining and not warming (takes new clients); "fresh" = alive and of the
 *   generation in force (the pools' active one; before the first status, the inputs' one).
 */
import type { CountersSnapshot } from '@mtedge/stats';
import type { MeDcView, MeStatusSnapshot, MeWriterView } from '../control-plane.js';

const pct = (n: number, d: number): number => (d > 0 ? Math.round((Math.min(n, d) / d) * 10000) / 100 : 0);
const secs = (ms: number): number => Math.floor(ms / 1000);

const alive = (w: MeWriterView): boolean => w.state === 'ready' && !w.draining && !w.warm;

/** Contract writer id: unique over workers (each worker numbers its writers from 1). */
export const contractWriterId = (w: MeWriterView): number => w.worker * 1_000_000 + w.writer_id;

interface DcFacts {
  readonly dc: number;
  readonly endpoints: readonly string[];
  readonly configured: number;
  readonly writers: readonly MeWriterView[];
  readonly alive: number;
  readonly fresh: number;
  readonly view: MeDcView | undefined;
}

/** Hash of the generation new clients bind to. */
function activeId(m: MeStatusSnapshot): string | undefined {
  return m.generations.active_id ?? m.inputs?.generation;
}

function isFresh(m: MeStatusSnapshot, w: MeWriterView): boolean {
  return alive(w) && m.inputs !== undefined && w.generation === activeId(m);
}

/** DCs that have endpoints in the table in force, numerically sorted, with their writers. */
export function dcFacts(m: MeStatusSnapshot): DcFacts[] {
  const table = m.inputs?.endpoints ?? {};
  const replied = Math.max(0, m.workers_total - m.workers_missing.length);
  return Object.keys(table)
    .map(Number)
    .filter((dc) => Number.isInteger(dc) && (table[String(dc)]?.length ?? 0) > 0)
    .sort((a, b) => a - b)
    .map((dc) => {
      const view = m.dcs.find((d) => d.dc === dc);
      const writers = m.writers.filter((w) => w.dc === dc);
      return {
        dc,
        endpoints: table[String(dc)] ?? [],
        configured: view?.configured_writers ?? m.pool_size_per_worker * replied,
        writers,
        alive: writers.filter(alive).length,
        fresh: writers.filter((w) => isFresh(m, w)).length,
        view,
      };
    });
}

/** ME can serve clients: its inputs are loaded and at least one writer is ready. */
export function meReady(m: MeStatusSnapshot): boolean {
  return m.inputs !== undefined && m.writers.some(alive);
}

export interface RerouteFacts {
  readonly active: boolean;
  readonly since_ms: number | undefined;
  readonly reason: string | undefined;
}

/**
 * Whether new sessions go direct somewhere: before ME was ever ready (fallback on) everything
 * does ("startup_direct_fallback"); after that, a DC without a ready writer does.
 */
export function reroute(m: MeStatusSnapshot, startedAtMs: number): RerouteFacts {
  if (!m.fallback_enabled) return { active: false, since_ms: undefined, reason: undefined };
  if (!meReady(m) && m.first_ready_at_ms === undefined) return { active: true, since_ms: startedAtMs, reason: 'startup_direct_fallback' };
  const active = m.dcs.filter((d) => d.reroute.active);
  if (!meReady(m)) {
    const since = Math.min(...active.map((d) => d.reroute.since_ms ?? m.generated_at_ms), m.generated_at_ms);
    return { active: true, since_ms: since, reason: 'strict_grace_fallback' };
  }
  if (active.length === 0) return { active: false, since_ms: undefined, reason: undefined };
  return { active: true, since_ms: Math.min(...active.map((d) => d.reroute.since_ms ?? m.generated_at_ms)), reason: 'strict_grace_fallback' };
}

/** The contract's writer contour: active takes new clients, warm not yet, draining no more. */
export function writerState(w: MeWriterView): 'warm' | 'active' | 'draining' {
  if (w.draining) return 'draining';
  return w.state === 'ready' && !w.warm ? 'active' : 'warm';
}

export function meWritersData(m: MeStatusSnapshot): Record<string, unknown> {
  const dcs = dcFacts(m);
  let endpoints = 0;
  let availableEndpoints = 0;
  for (const d of dcs) {
    endpoints += d.endpoints.length;
    availableEndpoints += d.endpoints.filter((e) => d.writers.some((w) => w.endpoint === e && alive(w))).length;
  }
  const required = dcs.reduce((n, d) => n + d.configured, 0);
  const aliveWriters = dcs.reduce((n, d) => n + d.alive, 0);
  const fresh = dcs.reduce((n, d) => n + d.fresh, 0);
  const seq = m.inputs?.generation_seq ?? 0;
  const summary = {
    configured_dc_groups: dcs.length,
    configured_endpoints: endpoints,
    available_endpoints: availableEndpoints,
    available_pct: pct(availableEndpoints, endpoints),
    required_writers: required,
    alive_writers: aliveWriters,
    coverage_pct: pct(dcs.filter((d) => d.alive > 0).length, dcs.length),
    fresh_alive_writers: fresh,
    fresh_coverage_pct: pct(fresh, required),
  };
  const writers = [...m.writers]
    .sort((a, b) => a.dc - b.dc || contractWriterId(a) - contractWriterId(b))
    .map((w) => {
      const current = m.inputs !== undefined && w.generation === activeId(m);
      const row: Record<string, unknown> = {
        writer_id: contractWriterId(w),
        dc: w.dc,
        endpoint: w.endpoint,
        generation: m.generations.seq_of[w.generation] ?? (w.generation === m.inputs?.generation ? seq : Math.max(0, seq - 1)),
        state: writerState(w),
        draining: w.draining,
        degraded: w.degraded,
        bound_clients: w.bound_clients,
        matches_active_generation: current,
        in_desired_map: (m.inputs?.endpoints[String(w.dc)] ?? []).includes(w.endpoint),
        allow_drain_fallback: false,
        drain_over_ttl: false,
        worker: w.worker,
      };
      if (w.state === 'ready' && w.bound_clients === 0) row['idle_for_secs'] = secs(w.idle_ms);
      if (w.rtt_ema_ms !== undefined) row['rtt_ema_ms'] = Math.round(w.rtt_ema_ms * 100) / 100;
      return row;
    });
  return { middle_proxy_enabled: true, generated_at_epoch_secs: secs(m.generated_at_ms), summary, writers };
}

function avgRtt(ws: readonly MeWriterView[]): number | undefined {
  const r = ws.filter((w) => alive(w) && w.rtt_ema_ms !== undefined).map((w) => w.rtt_ema_ms!);
  return r.length === 0 ? undefined : Math.round((r.reduce((a, b) => a + b, 0) / r.length) * 100) / 100;
}

export function dcStatusData(m: MeStatusSnapshot): Record<string, unknown> {
  const rows = dcFacts(m).map((d) => {
    const byEndpoint = d.endpoints.map((e) => ({ endpoint: e, active_writers: d.writers.filter((w) => w.endpoint === e && alive(w)).length }));
    const rr = d.view?.reroute;
    const row: Record<string, unknown> = {
      dc: d.dc,
      endpoints: [...d.endpoints],
      endpoint_writers: byEndpoint,
      available_endpoints: byEndpoint.filter((e) => e.active_writers > 0).length,
      available_pct: pct(d.alive, d.configured),
      required_writers: d.configured,
      floor_min: Math.min(1, d.configured),
      floor_target: d.configured,
      floor_max: d.configured,
      floor_capped: false,
      alive_writers: d.alive,
      coverage_pct: pct(d.alive, d.configured),
      fresh_alive_writers: d.fresh,
      fresh_coverage_pct: pct(d.fresh, d.configured),
      load: d.writers.reduce((n, w) => n + w.bound_clients, 0),
      reroute_active: rr?.active ?? false,
      fallback_total: rr?.count ?? 0,
    };
    const rtt = avgRtt(d.writers);
    if (rtt !== undefined) row['rtt_ms'] = rtt;
    if (rr?.active) {
      if (rr.since_ms !== undefined) row['reroute_since_epoch_secs'] = secs(rr.since_ms);
      row['reroute_reason'] = m.fallback_enabled ? 'strict_grace_fallback' : 'no_writer_client_closed';
      if (rr.reason !== undefined) row['reroute_detail'] = rr.reason;
    }
    return row;
  });
  return { middle_proxy_enabled: true, generated_at_epoch_secs: secs(m.generated_at_ms), dcs: rows };
}

const family = (endpoint: string): 'V4' | 'V6' => (endpoint.startsWith('[') ? 'V6' : 'V4');

/**
 * MinimalDcPathData from the table in force (the v4 and v6 tables already merged per
 * network.prefer): ip_preference is the family of the DC's first endpoint, where the pool puts
 * its first writer (`both_work` while up writers of both families serve it); selected_addr_v4/v6
 * is the endpoint of an up writer of that family (on the other family's fallback endpoints too,
 * while the preferred ones fail), else the table's first of that family.
 */
export function networkPath(m: MeStatusSnapshot): Record<string, unknown>[] {
  // The pool shows IPv6 endpoints bracketed, "[v6]:port", in its tables and writer views alike.
  const isV6 = (e: string): boolean => family(e) === 'V6';
  return dcFacts(m).map((d) => {
    const row: Record<string, unknown> = { dc: d.dc };
    const table = d.endpoints;
    const fallback = m.inputs?.fallback_endpoints?.[String(d.dc)] ?? [];
    const up = d.writers.filter(alive).map((w) => w.endpoint).filter((e) => table.includes(e) || fallback.includes(e));
    const pick = (v6: boolean): string | undefined => up.find((e) => isV6(e) === v6) ?? table.find((e) => isV6(e) === v6);
    const both = up.some(isV6) && up.some((e) => !isV6(e));
    row['ip_preference'] = both ? 'both_work' : table[0] !== undefined && isV6(table[0]) ? 'prefer_v6' : 'prefer_v4';
    const v4 = pick(false);
    const v6 = pick(true);
    if (v4 !== undefined) row['selected_addr_v4'] = v4;
    if (v6 !== undefined) row['selected_addr_v6'] = v6;
    return row;
  });
}


/** Generation numbers of the pools (hardswap state), shared by me_pool_state and me_runtime. */
export function meGenerationFacts(m: MeStatusSnapshot): {
  active_generation: number;
  warm_generation: number;
  pending_hardswap_generation: number;
  pending_hardswap_age_secs: number | undefined;
  draining_generations: number[];
} {
  const g = m.generations;
  const since = g.pending > 0 ? g.pending_since_ms : undefined;
  return {
    active_generation: g.active,
    warm_generation: g.warm,
    pending_hardswap_generation: g.pending,
    pending_hardswap_age_secs: since === undefined ? undefined : secs(Math.max(0, m.generated_at_ms - since)),
    draining_generations: [...g.draining],
  };
}

export function mePoolStatePayload(m: MeStatusSnapshot): Record<string, unknown> {
  const ws = m.writers;
  const draining = ws.filter((w) => w.draining);
  const live = ws.filter((w) => !w.draining);
  const degraded = live.filter((w) => w.degraded).length;
  const inflight = live.filter((w) => !w.warm && (w.state === 'connecting' || w.state === 'handshake'));
  const byDc = new Map<string, { dc: number; family: 'V4' | 'V6'; inflight: number }>();
  for (const w of inflight) {
    const k = `${w.dc}/${family(w.endpoint)}`;
    const r = byDc.get(k) ?? { dc: w.dc, family: family(w.endpoint), inflight: 0 };
    r.inflight++;
    byDc.set(k, r);
  }
  const gen = meGenerationFacts(m);
  const generations: Record<string, unknown> = {
    active_generation: gen.active_generation,
    warm_generation: gen.warm_generation,
    pending_hardswap_generation: gen.pending_hardswap_generation,
    draining_generations: gen.draining_generations,
  };
  if (gen.pending_hardswap_age_secs !== undefined) generations['pending_hardswap_age_secs'] = gen.pending_hardswap_age_secs;
  return {
    generations,
    hardswap: { enabled: m.generations.hardswap_enabled, pending: gen.pending_hardswap_generation > 0 },
    writers: {
      total: ws.length,
      alive_non_draining: live.filter(alive).length,
      draining: draining.length,
      degraded,
      // warm: not (yet) taking clients, i.e. (re)connecting or of the generation warming for a swap.
      contour: { warm: live.filter((w) => writerState(w) === 'warm').length, active: live.filter((w) => writerState(w) === 'active').length, draining: draining.length },
      health: { healthy: live.length - degraded, degraded, draining: draining.length },
    },
    refill: {
      inflight_endpoints_total: inflight.length,
      inflight_dc_total: byDc.size,
      by_dc: [...byDc.values()].sort((a, b) => a.dc - b.dc || (a.family < b.family ? -1 : 1)),
    },
  };
}

export function meQualityPayload(m: MeStatusSnapshot, c: CountersSnapshot): Record<string, unknown> {
  const mp = c.middle_proxy;
  const n = (k: string): number => mp[k] ?? 0;
  const dcs = dcFacts(m);
  const now = secs(m.generated_at_ms);
  const families = new Set(dcs.flatMap((d) => d.endpoints.map(family)));
  const familyStates = [...families].sort().map((f) => {
    const up = m.writers.some((w) => alive(w) && family(w.endpoint) === f);
    const since = up ? (m.first_ready_at_ms ?? m.generated_at_ms) : (m.inputs?.loaded_at_ms ?? m.generated_at_ms);
    return { family: f, state: up ? 'healthy' : 'down', state_since_epoch_secs: secs(since), fail_streak: 0, recover_success_streak: 0 };
  });
  const covered = dcs.filter((d) => d.alive > 0).length;
  const quorum = dcs.length > 0 && covered === dcs.length;
  const redundant = dcs.every((d) => d.alive >= Math.min(2, d.configured));
  return {
    counters: {
      idle_close_by_peer_total: n('idle_close_by_peer_total'),
      reader_eof_total: n('reader_eof_total'),
      kdf_drift_total: n('kdf_drift_total'),
      kdf_port_only_drift_total: n('kdf_port_only_drift_total'),
      reconnect_attempt_total: n('reconnect_attempt_total'),
      reconnect_success_total: n('reconnect_success_total'),
    },
    route_drops: {
      no_conn_total: n('route_drop_no_conn_total'),
      channel_closed_total: n('route_drop_channel_closed_total'),
      queue_full_total: n('route_drop_queue_full_total'),
      queue_full_base_total: n('route_drop_queue_full_base_total'),
      queue_full_high_total: n('route_drop_queue_full_high_total'),
    },
    family_states: familyStates,
    drain_gate: {
      route_quorum_ok: quorum,
      redundancy_ok: redundant,
      block_reason: !quorum ? 'dc_coverage' : !redundant ? 'redundancy' : 'none',
      updated_at_epoch_secs: now,
    },
    dc_rtt: dcs.map((d) => {
      const row: Record<string, unknown> = { dc: d.dc, alive_writers: d.alive, required_writers: d.configured, coverage_pct: pct(d.alive, d.configured) };
      const rtt = avgRtt(d.writers);
      if (rtt !== undefined) row['rtt_ema_ms'] = rtt;
      return row;
    }),
  };
}

/** good / bogon / loopback, as the self-test classifies interface addresses. */
export function ipClass(ip: string): 'good' | 'bogon' | 'loopback' {
  const a = ip.toLowerCase().replace(/^::ffff:/, '');
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (m) {
    const [o1, o2] = [Number(m[1]), Number(m[2])];
    if (o1 === 127) return 'loopback';
    if (o1 === 0 || o1 === 10 || (o1 === 172 && o2 >= 16 && o2 <= 31) || (o1 === 192 && o2 === 168) || (o1 === 100 && o2 >= 64 && o2 <= 127) || (o1 === 169 && o2 === 254) || o1 >= 224) {
      return 'bogon';
    }
    return 'good';
  }
  if (a === '::1') return 'loopback';
  if (a === '::' || /^f[cd]/.test(a) || /^fe[89ab]/.test(a) || a.startsWith('2001:db8')) return 'bogon';
  return 'good';
}

function hostOf(addr: string): string {
  const b = /^\[([^\]]+)\]:\d+$/.exec(addr);
  if (b) return b[1]!;
  const i = addr.lastIndexOf(':');
  return i > 0 ? addr.slice(0, i) : addr;
}

/** KDF errors/min above which the self-test reports `error`. */
export const KDF_ERROR_THRESHOLD_PER_MIN = 6;
const SKEW_ERROR_SECS = 60;

export function meSelftestPayload(m: MeStatusSnapshot, c: CountersSnapshot, kdfEwmaPerMin: number, pid: number): Record<string, unknown> {
  const errorsTotal = (c.middle_proxy['handshake_reject_total'] ?? 0) + (c.middle_proxy['kdf_drift_total'] ?? 0) + (c.middle_proxy['socks_kdf_strict_reject_total'] ?? 0);
  const local = [...new Set(m.writers.map((w) => w.local_addr).filter((a): a is string => a !== undefined).map(hostOf))].sort();
  const kdf: Record<string, unknown> = {
    state: kdfEwmaPerMin > KDF_ERROR_THRESHOLD_PER_MIN ? 'error' : 'ok',
    ewma_errors_per_min: Math.round(kdfEwmaPerMin * 1000) / 1000,
    threshold_errors_per_min: KDF_ERROR_THRESHOLD_PER_MIN,
    errors_total: errorsTotal,
    local_addrs: local,
  };
  if (m.inputs) kdf['key_select'] = m.inputs.key_select_hex;
  if (m.nat_ip !== undefined) kdf['nat_ip'] = m.nat_ip;

  const samples = m.skew_samples;
  const timeskew: Record<string, unknown> = { state: 'ok', samples_15m: samples.length };
  if (samples.length > 0) {
    const last = samples[samples.length - 1]!;
    const max = Math.max(...samples.map((s) => Math.abs(s.skew_secs)));
    timeskew['state'] = max > SKEW_ERROR_SECS ? 'error' : 'ok';
    timeskew['max_skew_secs_15m'] = max;
    timeskew['last_skew_secs'] = Math.abs(last.skew_secs);
    timeskew['last_source'] = last.source;
    timeskew['last_seen_age_secs'] = Math.max(0, secs(m.generated_at_ms - last.at_ms));
  }

  // The address the KDF mixed in: the NAT IP when set, else the link's own local address.
  const ip: Record<string, unknown> = {};
  const addrs = m.nat_ip !== undefined ? [m.nat_ip, ...local] : local;
  const v4 = addrs.find((a) => !a.includes(':') || a.startsWith('::ffff:'));
  const v6 = addrs.find((a) => a.includes(':') && !a.startsWith('::ffff:'));
  if (v4 !== undefined) ip['v4'] = { addr: v4.replace(/^::ffff:/, ''), state: ipClass(v4) };
  if (v6 !== undefined) ip['v6'] = { addr: v6, state: ipClass(v6) };

  return {
    kdf,
    timeskew,
    ip,
    pid: { pid, state: pid === 1 ? 'one' : 'non-one' },
    // No SOCKS upstreams in mtedge: nothing to observe, nothing wrong.
    bnd: { addr_state: 'ok', port_state: 'ok' },
  };
}
