/**
 * The route table: every endpoint of Control API v1 (telemt-API.md "Endpoint Matrix") with its
 * body contract and response schema. Pure data: the server binds handlers by `id`, and
 * scripts/gen-docs.mjs renders docs/API.md and docs/openapi.json from it.
 */
import type { RequestSchemaName, ResponseSchemaName } from './schemas/index.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** `none`: body ignored; `optional`: empty body allowed; `required`: a JSON object is needed. */
export type BodyMode = 'none' | 'optional' | 'required';

export interface RouteSpec {
  readonly id: RouteId;
  readonly method: HttpMethod;
  /** `{name}` segments match one non-empty path segment. */
  readonly path: string;
  readonly mutating: boolean;
  readonly body: BodyMode;
  readonly request?: RequestSchemaName;
  readonly response: ResponseSchemaName;
  readonly statuses: readonly number[];
  readonly summary: string;
  readonly query?: string;
}

export type RouteId =
  | 'health'
  | 'healthReady'
  | 'systemInfo'
  | 'runtimeGates'
  | 'runtimeInitialization'
  | 'limitsEffective'
  | 'securityPosture'
  | 'securityWhitelist'
  | 'statsSummary'
  | 'statsZeroAll'
  | 'statsUpstreams'
  | 'statsMinimalAll'
  | 'statsMeWriters'
  | 'statsDcs'
  | 'runtimeMePoolState'
  | 'runtimeMeQuality'
  | 'runtimeUpstreamQuality'
  | 'runtimeNatStun'
  | 'runtimeMeSelftest'
  | 'runtimeConnectionsSummary'
  | 'runtimeEventsRecent'
  | 'runtimeTlsFingerprints'
  | 'statsUsersActiveIps'
  | 'statsUsers'
  | 'getConfig'
  | 'patchConfig'
  | 'systemReload'
  | 'systemReloadStatus'
  | 'listUsers'
  | 'createUser'
  | 'getUser'
  | 'patchUser'
  | 'deleteUser'
  | 'rotateSecret'
  | 'enableUser'
  | 'disableUser'
  | 'resetQuota';

const get = (id: RouteId, path: string, response: ResponseSchemaName, summary: string, extra: Partial<RouteSpec> = {}): RouteSpec => ({
  id,
  method: 'GET',
  path,
  mutating: false,
  body: 'none',
  response,
  statuses: [200],
  summary,
  ...extra,
});

export const ROUTES: readonly RouteSpec[] = [
  get('health', '/v1/health', 'HealthData', 'API liveness and the current `read_only` flag.'),
  get('healthReady', '/v1/health/ready', 'HealthReadyData', 'Readiness from admission state and upstream health (with ME on and me2dc_fallback = false: a ready ME writer); `503` (still an `ok:true` envelope) when not ready.', {
    statuses: [200, 503],
  }),
  get('systemInfo', '/v1/system/info', 'SystemInfoData', 'Build metadata, engine, uptime, config path/hash and reload counters.'),
  get('runtimeGates', '/v1/runtime/gates', 'RuntimeGatesData', 'Admission, ME readiness, fallback/reroute and startup gate state.'),
  get('runtimeInitialization', '/v1/runtime/initialization', 'RuntimeInitializationData', 'Startup progress, ME initialization status and per-component timeline.'),
  get('limitsEffective', '/v1/limits/effective', 'EffectiveLimitsData', 'Effective timeout, upstream, ME, unique-IP and TCP policy values.'),
  get('securityPosture', '/v1/security/posture', 'SecurityPostureData', 'API/security/telemetry posture flags.'),
  get('securityWhitelist', '/v1/security/whitelist', 'SecurityWhitelistData', 'Configured API whitelist CIDRs.'),
  get('statsSummary', '/v1/stats/summary', 'SummaryData', 'Compact core counters and classed failure counters.'),
  get('statsZeroAll', '/v1/stats/zero/all', 'ZeroAllData', 'Zero-cost core, upstream, ME, pool and desync counters.'),
  get('statsUpstreams', '/v1/stats/upstreams', 'UpstreamsData', 'Upstream zero counters and, when available, runtime upstream health rows.'),
  get('statsMinimalAll', '/v1/stats/minimal/all', 'MinimalAllData', 'Minimal ME writer/DC/network-path snapshot (`me_runtime` is null); `feature_disabled` when minimal_runtime_enabled = false, `source_unavailable` with ME off.'),
  get('statsMeWriters', '/v1/stats/me-writers', 'MeWritersData', 'ME writer coverage (DCs with a ready writer) and per-writer rows from every worker; `feature_disabled` / `source_unavailable` shapes when off.'),
  get('statsDcs', '/v1/stats/dcs', 'DcStatusData', 'Per-DC endpoint/writer/load rows with the DC\'s direct-fallback (reroute) state; `feature_disabled` / `source_unavailable` shapes when off.'),
  get('runtimeMePoolState', '/v1/runtime/me_pool_state', 'RuntimeMePoolStateData', 'ME pool generations, writers and refill state (`source_unavailable` with ME off).'),
  get('runtimeMeQuality', '/v1/runtime/me_quality', 'RuntimeMeQualityData', 'ME lifecycle/route-drop counters and per-DC RTT (`source_unavailable` with ME off).'),
  get('runtimeUpstreamQuality', '/v1/runtime/upstream_quality', 'RuntimeUpstreamQualityData', 'Upstream policy and counters, plus runtime rows when available.'),
  get('runtimeNatStun', '/v1/runtime/nat_stun', 'RuntimeNatStunData', 'NAT/STUN state: the STUN prober\'s live servers, reflected public endpoints and back-off while `network.stun_use` probes (configured values only when it does not; `source_unavailable` with ME off).'),
  get('runtimeMeSelftest', '/v1/runtime/me-selftest', 'RuntimeMeSelftestData', 'ME self-test: KDF errors and inputs, Date-header clock skew of the secret download, IP family (`source_unavailable` with ME off).'),
  get('runtimeConnectionsSummary', '/v1/runtime/connections/summary', 'RuntimeEdgeConnectionsSummaryData', 'Connection totals and top-N users; cached for `runtime_edge_cache_ttl_ms`.'),
  get('runtimeEventsRecent', '/v1/runtime/events/recent', 'RuntimeEdgeEventsData', 'Recent runtime/API events.', {
    query: '`limit=<usize>`: default 50, clamped to [1, 1000] and to the ring capacity.',
  }),
  get('runtimeTlsFingerprints', '/v1/runtime/tls-fingerprints', 'RuntimeEdgeTlsFingerprintsData', 'TLS ClientHello fingerprint leaderboards.', {
    query: '`limit=1..1000` (optional).',
  }),
  get('statsUsersActiveIps', '/v1/stats/users/active-ips', 'UserActiveIpsList', 'Users with a non-empty active source-IP list.'),
  get('statsUsers', '/v1/stats/users', 'UserInfoList', 'Alias of `GET /v1/users`.'),
  get('getConfig', '/v1/config', 'ConfigData', 'The editable config sections (never `access`, `server`, `network`) and the revision.'),
  {
    id: 'patchConfig',
    method: 'PATCH',
    path: '/v1/config',
    mutating: true,
    body: 'required',
    request: 'PatchConfigRequest',
    response: 'PatchConfigResponse',
    statuses: [200, 202],
    summary: 'Deep-merge a sparse patch into the editable sections, validate, write atomically and apply.',
    query: '`reload=instant|drain`, `timeout_secs=1..3600` (drain only), `failure_policy=keep_new|rollback` (optional).',
  },
  {
    id: 'systemReload',
    method: 'POST',
    path: '/v1/system/reload',
    mutating: true,
    body: 'optional',
    request: 'ReloadRequest',
    response: 'ReloadAccepted',
    statuses: [202],
    summary: 'Re-read and validate config.toml from disk and apply it to the running edge.',
  },
  get('systemReloadStatus', '/v1/system/reload/{id}', 'ReloadStatus', 'One retained reload operation (the last 32 are kept).'),
  get('listUsers', '/v1/users', 'UserInfoList', 'Disk-first user views sorted by username.'),
  {
    id: 'createUser',
    method: 'POST',
    path: '/v1/users',
    mutating: true,
    body: 'required',
    request: 'CreateUserRequest',
    response: 'CreateUserResponse',
    statuses: [201],
    summary: 'Create a user (secret generated when missing).',
  },
  get('getUser', '/v1/users/{username}', 'UserInfo', 'One disk-first user view.'),
  {
    id: 'patchUser',
    method: 'PATCH',
    path: '/v1/users/{username}',
    mutating: true,
    body: 'required',
    request: 'PatchUserRequest',
    response: 'UserInfo',
    statuses: [200],
    summary: 'JSON Merge Patch of per-user fields; `null` removes a setting.',
  },
  {
    id: 'deleteUser',
    method: 'DELETE',
    path: '/v1/users/{username}',
    mutating: true,
    body: 'none',
    response: 'DeleteUserResponse',
    statuses: [200],
    summary: 'Delete a user and its entries in every `access.user_*` map; the last user cannot be deleted.',
  },
  {
    id: 'rotateSecret',
    method: 'POST',
    path: '/v1/users/{username}/rotate-secret',
    mutating: true,
    body: 'optional',
    request: 'RotateSecretRequest',
    response: 'CreateUserResponse',
    statuses: [200],
    summary: "Replace the user's secret (given or generated) and close its live sessions.",
  },
  {
    id: 'enableUser',
    method: 'POST',
    path: '/v1/users/{username}/enable',
    mutating: true,
    body: 'optional',
    response: 'UserInfo',
    statuses: [200],
    summary: 'Remove the disabled override (idempotent).',
  },
  {
    id: 'disableUser',
    method: 'POST',
    path: '/v1/users/{username}/disable',
    mutating: true,
    body: 'optional',
    response: 'UserInfo',
    statuses: [200],
    summary: 'Write `access.user_enabled[username] = false` (idempotent) and close live sessions.',
  },
  {
    id: 'resetQuota',
    method: 'POST',
    path: '/v1/users/{username}/reset-quota',
    mutating: true,
    body: 'optional',
    response: 'ResetUserQuotaResponse',
    statuses: [200],
    summary: "Reset the user's runtime quota counter and persist it; config is not modified.",
  },
];
