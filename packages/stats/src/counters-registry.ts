/**
 * Every scalar counter the workers feed, named once. The index of a name in COUNTER_NAMES is its
 * slot in each worker's stripe. Labels for the by-class / by-stage families follow telemt's
 * Prometheus labels where it has them.
 */
export const HANDSHAKE_STAGES = [
  'first_packet_prelude',
  'tls_clienthello_body',
  'tls_core',
  'tls_post_serverhello_mtproto',
  'direct_mtproto',
] as const;
export type HandshakeStage = (typeof HANDSHAKE_STAGES)[number];

/** Why a connection was not served. */
export const FAILURE_CLASSES = [
  'unknown_secret',
  'bad_tls_hello',
  'tls_time_skew',
  'tls_unknown_sni',
  'mode_disabled',
  'replay',
  'http_probe',
  'unexpected_eof',
  'timeout',
  'proxy_protocol_invalid',
  'user_disabled',
  'user_expired',
  'user_quota_exceeded',
  'user_tcp_limit',
  'user_ip_limit',
  'user_source_denied',
  'max_connections',
  'dc_connect_failed',
  'dc_unknown',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

export const UPSTREAM_FIELDS = [
  'connect_attempt_total',
  'connect_success_total',
  'connect_fail_total',
  'connect_failfast_hard_error_total',
  'connect_attempts_bucket_1',
  'connect_attempts_bucket_2',
  'connect_attempts_bucket_3_4',
  'connect_attempts_bucket_gt_4',
  'connect_duration_success_bucket_le_100ms',
  'connect_duration_success_bucket_101_500ms',
  'connect_duration_success_bucket_501_1000ms',
  'connect_duration_success_bucket_gt_1000ms',
  'connect_duration_fail_bucket_le_100ms',
  'connect_duration_fail_bucket_101_500ms',
  'connect_duration_fail_bucket_501_1000ms',
  'connect_duration_fail_bucket_gt_1000ms',
] as const;

export const DESYNC_FIELDS = [
  'secure_padding_invalid_total',
  'desync_total',
  'desync_full_logged_total',
  'desync_suppressed_total',
  'desync_frames_bucket_0',
  'desync_frames_bucket_1_2',
  'desync_frames_bucket_3_10',
  'desync_frames_bucket_gt_10',
] as const;

/** ZeroMiddleProxyData fields the edge feeds (the contract's names; the rest answer 0). */
export const MIDDLE_PROXY_FIELDS = [
  'keepalive_sent_total',
  'keepalive_pong_total',
  'keepalive_timeout_total',
  'reconnect_attempt_total',
  'reconnect_success_total',
  'handshake_reject_total',
  'reader_eof_total',
  'route_drop_no_conn_total',
  'd2c_data_frames_total',
  'd2c_ack_frames_total',
  'd2c_payload_bytes_total',
  'endpoint_quarantine_total',
] as const;

/** ZeroPoolData fields the edge feeds. `pool_drain_active` is a gauge (add/sub per worker). */
export const POOL_FIELDS = [
  'pool_swap_total',
  'pool_drain_active',
  'pool_force_close_total',
  'writer_removed_total',
  'writer_removed_unexpected_total',
  'refill_triggered_total',
  'writer_restored_same_endpoint_total',
  'writer_restored_fallback_total',
] as const;

/** mtedge's own ME counters (no contract name): routing outcomes and RPC traffic. */
export const ME_EDGE_FIELDS = [
  'me_fallback_direct_total',
  'me_no_writer_closed_total',
  'me_writer_stalls_total',
  'me_close_ext_total',
  'me_unknown_conn_answers_total',
  'me_clients_lost_total',
  'me_proxy_req_total',
  'me_proxy_req_bytes_total',
  'me_proxy_req_ad_tag_total',
  'me_close_conn_sent_total',
] as const;

const CORE_FIELDS = [
  'connections_total',
  'connections_bad_total',
  'handshake_timeouts_total',
  'accept_permit_timeout_total',
  'octets_from_clients',
  'octets_to_clients',
  /** Gauges: each worker adds on open and subtracts on close, so the stripe sum is the live count. */
  'current_connections',
  'current_connections_direct',
  'current_connections_me',
  'masked_total',
  'mask_octets_from_clients',
  'mask_octets_to_clients',
] as const;

export const COUNTER_NAMES: readonly string[] = [
  ...CORE_FIELDS,
  ...FAILURE_CLASSES.map((c) => `bad_class:${c}`),
  ...FAILURE_CLASSES.map((c) => `hs_class:${c}`),
  ...HANDSHAKE_STAGES.map((s) => `hs_stage:${s}`),
  ...UPSTREAM_FIELDS.map((f) => `upstream:${f}`),
  ...DESYNC_FIELDS.map((f) => `desync:${f}`),
  ...MIDDLE_PROXY_FIELDS.map((f) => `middle_proxy:${f}`),
  ...POOL_FIELDS.map((f) => `pool:${f}`),
  ...ME_EDGE_FIELDS.map((f) => `me:${f}`),
];

const INDEX = new Map(COUNTER_NAMES.map((n, i) => [n, i]));

function indexOf(name: string): number {
  const i = INDEX.get(name);
  if (i === undefined) throw new Error(`unknown counter ${name}`);
  return i;
}

export type CoreField = (typeof CORE_FIELDS)[number];
export type UpstreamField = (typeof UPSTREAM_FIELDS)[number];
export type DesyncField = (typeof DESYNC_FIELDS)[number];
export type MiddleProxyField = (typeof MIDDLE_PROXY_FIELDS)[number];
export type PoolField = (typeof POOL_FIELDS)[number];
export type MeEdgeField = (typeof ME_EDGE_FIELDS)[number];

/** Resolved slot numbers, so hot paths index arrays without string lookups. */
export const C = Object.freeze({
  core: Object.fromEntries(CORE_FIELDS.map((f) => [f, indexOf(f)])) as Record<CoreField, number>,
  badClass: Object.fromEntries(FAILURE_CLASSES.map((c) => [c, indexOf(`bad_class:${c}`)])) as Record<FailureClass, number>,
  hsClass: Object.fromEntries(FAILURE_CLASSES.map((c) => [c, indexOf(`hs_class:${c}`)])) as Record<FailureClass, number>,
  hsStage: Object.fromEntries(HANDSHAKE_STAGES.map((s) => [s, indexOf(`hs_stage:${s}`)])) as Record<HandshakeStage, number>,
  upstream: Object.fromEntries(UPSTREAM_FIELDS.map((f) => [f, indexOf(`upstream:${f}`)])) as Record<UpstreamField, number>,
  desync: Object.fromEntries(DESYNC_FIELDS.map((f) => [f, indexOf(`desync:${f}`)])) as Record<DesyncField, number>,
  middleProxy: Object.fromEntries(MIDDLE_PROXY_FIELDS.map((f) => [f, indexOf(`middle_proxy:${f}`)])) as Record<MiddleProxyField, number>,
  pool: Object.fromEntries(POOL_FIELDS.map((f) => [f, indexOf(`pool:${f}`)])) as Record<PoolField, number>,
  me: Object.fromEntries(ME_EDGE_FIELDS.map((f) => [f, indexOf(`me:${f}`)])) as Record<MeEdgeField, number>,
});

export const COUNTER_COUNT = COUNTER_NAMES.length;
