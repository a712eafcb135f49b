/**
 * /v1/stats/*: counters from the stats snapshot; the ME blocks from the supervisor's ME status,
 * or their feature_disabled / source_unavailable shapes (telemt-API.md "Runtime State Matrix").
 */
import os from 'node:os';
import type { CountersSnapshot } from '@mtedge/stats';
import type { ControlPlane } from '../control-plane.js';
import {
  ZERO_DESYNC_FIELDS,
  ZERO_MIDDLE_PROXY_FIELDS,
  ZERO_POOL_FIELDS,
  ZERO_UPSTREAM_FIELDS,
} from '../schemas/index.js';
import type { Handler } from './context.js';
import { nowSecs, sortedUsernames, uptimeSeconds } from './common.js';
import { upstreamCounters } from './runtime.js';
import { dcStatusData, meWritersData, networkPath } from './me-view.js';
import { meRuntimeData } from './me-runtime.js';
import { ME_EDGE_FIELDS } from '@mtedge/stats';

function classCounts(src: Readonly<Record<string, number>>, key: 'class' | 'stage'): Record<string, string | number>[] {
  return Object.keys(src)
    .sort()
    .map((label) => ({ [key]: label, total: src[label] ?? 0 }));
}

function pick(src: Readonly<Record<string, number>>, names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = src[n] ?? 0;
  return out;
}

function coreBlock(cp: ControlPlane, counters: CountersSnapshot = cp.counters()): Record<string, unknown> {
  const core = counters.core;
  return {
    uptime_seconds: uptimeSeconds(cp),
    connections_total: core.connections_total,
    connections_bad_total: core.connections_bad_total,
    connections_bad_by_class: classCounts(core.connections_bad_by_class, 'class'),
    handshake_failures_by_class: classCounts(core.handshake_failures_by_class, 'class'),
    handshake_failures_by_stage: classCounts(core.handshake_failures_by_stage, 'stage'),
    handshake_timeouts_total: core.handshake_timeouts_total,
  };
}

export const statsSummary: Handler = ({ cp }) => ({
  data: { ...coreBlock(cp), configured_users: Object.keys(cp.current().config.access.users).length },
});

export const statsZeroAll: Handler = ({ cp }) => {
  const counters = cp.counters();
  return {
    data: {
      generated_at_epoch_secs: nowSecs(),
      core: {
        ...coreBlock(cp, counters),
        accept_permit_timeout_total: counters.core.accept_permit_timeout_total,
        configured_users: Object.keys(cp.current().config.access.users).length,
        telemetry_core_enabled: true,
        telemetry_user_enabled: true,
        telemetry_me_level: 'normal',
        // mtedge has no conntrack control backend.
        conntrack_control_enabled: false,
        conntrack_control_available: false,
        conntrack_pressure_active: false,
        conntrack_event_queue_depth: 0,
        conntrack_rule_apply_ok: false,
        conntrack_delete_attempt_total: 0,
        conntrack_delete_success_total: 0,
        conntrack_delete_not_found_total: 0,
        conntrack_delete_error_total: 0,
        conntrack_close_event_drop_total: 0,
      },
      upstream: pick(counters.upstream, ZERO_UPSTREAM_FIELDS),
      middle_proxy: { ...pick(counters.middle_proxy, ZERO_MIDDLE_PROXY_FIELDS), handshake_error_codes: [], ...pick(counters.me, ME_EDGE_FIELDS) },
      pool: pick(counters.pool, ZERO_POOL_FIELDS),
      desync: pick(counters.desync, ZERO_DESYNC_FIELDS),
    },
  };
};

/** Runtime rows need a non-blocking upstream snapshot that does not exist yet: zero only. */
export const statsUpstreams: Handler = ({ cp }) => {
  const enabled = cp.current().config.server.api.minimal_runtime_enabled;
  return {
    data: {
      enabled,
      reason: enabled ? 'source_unavailable' : 'feature_disabled',
      generated_at_epoch_secs: nowSecs(),
      zero: upstreamCounters(cp, ZERO_UPSTREAM_FIELDS),
    },
  };
};

function meReason(cp: ControlPlane): 'feature_disabled' | 'source_unavailable' {
  return cp.current().config.server.api.minimal_runtime_enabled ? 'source_unavailable' : 'feature_disabled';
}

function meWritersBlock(reason: string, at: number): Record<string, unknown> {
  return {
    middle_proxy_enabled: false,
    reason,
    generated_at_epoch_secs: at,
    summary: {
      configured_dc_groups: 0,
      configured_endpoints: 0,
      available_endpoints: 0,
      available_pct: 0,
      required_writers: 0,
      alive_writers: 0,
      coverage_pct: 0,
      fresh_alive_writers: 0,
      fresh_coverage_pct: 0,
    },
    writers: [],
  };
}

function dcsBlock(reason: string, at: number): Record<string, unknown> {
  return { middle_proxy_enabled: false, reason, generated_at_epoch_secs: at, dcs: [] };
}

export const statsMinimalAll: Handler = async ({ cp }) => {
  const reason = meReason(cp);
  const at = nowSecs();
  if (reason === 'feature_disabled') return { data: { enabled: false, reason, generated_at_epoch_secs: at, data: null } };
  const m = await cp.meStatus();
  if (m !== undefined) {
    return {
      data: {
        enabled: true,
        generated_at_epoch_secs: at,
        data: { me_writers: meWritersData(m), dcs: dcStatusData(m), me_runtime: meRuntimeData(m, cp.current(), os.availableParallelism()), network_path: networkPath(m) },
      },
    };
  }
  return {
    data: {
      enabled: true,
      reason,
      generated_at_epoch_secs: at,
      data: { me_writers: meWritersBlock(reason, at), dcs: dcsBlock(reason, at), me_runtime: null, network_path: [] },
    },
  };
};

export const statsMeWriters: Handler = async ({ cp }) => {
  const reason = meReason(cp);
  const m = reason === 'feature_disabled' ? undefined : await cp.meStatus();
  return { data: m !== undefined ? meWritersData(m) : meWritersBlock(reason, nowSecs()) };
};

export const statsDcs: Handler = async ({ cp }) => {
  const reason = meReason(cp);
  const m = reason === 'feature_disabled' ? undefined : await cp.meStatus();
  return { data: m !== undefined ? dcStatusData(m) : dcsBlock(reason, nowSecs()) };
};

export const statsUsersActiveIps: Handler = ({ cp }) => ({
  data: sortedUsernames(cp)
    .map((username) => ({ username, active_ips: [...cp.userRuntime(username).active_ips] }))
    .filter((row) => row.active_ips.length > 0),
});
