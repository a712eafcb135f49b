/**
 * What the stats readers hand to the Control API: sums over every worker's stripe, read
 * lock-free from the SharedArrayBuffers. Scalar keys use the Control API's field names
 * (shared/spec/reference/telemt-API.md, ZeroAllData) so handlers copy them through.
 */
export interface CoreCountersSnapshot {
  readonly connections_total: number;
  readonly connections_bad_total: number;
  readonly handshake_timeouts_total: number;
  readonly accept_permit_timeout_total: number;
  /** class label -> total (only non-zero classes). */
  readonly connections_bad_by_class: Readonly<Record<string, number>>;
  readonly handshake_failures_by_class: Readonly<Record<string, number>>;
  /** stage label -> total: first_packet_prelude, tls_clienthello_body, tls_core, tls_post_serverhello_mtproto, direct_mtproto. */
  readonly handshake_failures_by_stage: Readonly<Record<string, number>>;
}

export interface CountersSnapshot {
  readonly generated_at_ms: number;
  readonly core: CoreCountersSnapshot;
  /** ZeroUpstreamData field -> value (every field present). */
  readonly upstream: Readonly<Record<string, number>>;
  /** ZeroMiddleProxyData scalar field -> value (fields the edge has not fed are absent = 0). */
  readonly middle_proxy: Readonly<Record<string, number>>;
  /** ZeroPoolData field -> value (fields the edge has not fed are absent = 0). */
  readonly pool: Readonly<Record<string, number>>;
  /** mtedge ME counters without a contract name (ME_EDGE_FIELDS), every field present. */
  readonly me: Readonly<Record<string, number>>;
  readonly desync: Readonly<Record<string, number>>;
  readonly current_connections: number;
  readonly current_connections_me: number;
  readonly current_connections_direct: number;
  /** Totals of relayed octets, client->proxy and proxy->client. */
  readonly octets_from_clients: number;
  readonly octets_to_clients: number;
  /** Per worker index: accepted connections (to show the accept spread). */
  readonly accepts_by_worker: readonly number[];
}

export interface UserRuntimeSnapshot {
  readonly current_connections: number;
  readonly active_ips: readonly string[];
  readonly recent_ips: readonly string[];
  readonly octets_from_client: number;
  readonly octets_to_client: number;
  readonly total_octets: number;
  /** Octets counted against the quota since the last reset. */
  readonly quota_used_bytes: number;
  readonly quota_last_reset_epoch_secs: number | undefined;
}
