import { isTable } from './legacy.js';
import type { PlainTable, PlainValue } from './toml.js';
import type {
  AccessConfig,
  ApiConfig,
  CensorshipConfig,
  EdgeConfig,
  GeneralConfig,
  ListenerConfig,
  LogLevel,
  NetworkConfig,
  RateLimitBps,
  ServerConfig,
  TimeoutsConfig,
  UniqueIpsMode,
  UnknownSniAction,
} from './types.js';

/**
 * Defaults. telemt's documented defaults unless a comment says "mtedge:"; docs/CONFIG.md lists
 * each difference.
 */
export const DEFAULTS = {
  tlsDomain: 'petrovich.ru',
  apiListen: '0.0.0.0:9091',
  apiWhitelist: ['127.0.0.0/8'],
  metricsWhitelist: ['127.0.0.1/32', '::1/128'],
  // mtedge: telemt's built-in list has 13 hosts; these are the widely used public ones.
  stunServers: ['stun.l.google.com:19302', 'stun1.l.google.com:19302', 'stun.stunprotocol.org:3478'],
} as const;

/** Validated document (legacy keys already mapped) -> EdgeConfig with every default filled. */
export function resolveConfig(doc: PlainTable): EdgeConfig {
  const g = sub(doc, 'general');
  const net = sub(doc, 'network');
  const srv = sub(doc, 'server');
  const to = sub(doc, 'timeouts');
  const cen = sub(doc, 'censorship');
  const acc = sub(doc, 'access');

  const modes = sub(g, 'modes');
  const links = sub(g, 'links');
  const general: GeneralConfig = {
    modes: { classic: bool(modes, 'classic', false), secure: bool(modes, 'secure', false), tls: bool(modes, 'tls', true) },
    links: {
      show: showList(links['show']),
      public_host: optStr(links, 'public_host'),
      public_port: optNum(links, 'public_port'),
    },
    ad_tag: optStr(g, 'ad_tag'),
    // mtedge: the Middle-End is opt-in (it downloads from Telegram at start); telemt defaults to true.
    use_middle_proxy: bool(g, 'use_middle_proxy', false),
    log_level: (optStr(g, 'log_level') ?? 'normal') as LogLevel,
    me2dc_fallback: bool(g, 'me2dc_fallback', true),
    fast_mode: bool(g, 'fast_mode', true),
    tg_connect: num(g, 'tg_connect', 10),
    config_strict: bool(g, 'config_strict', false),
    quota_state_path: optStr(g, 'quota_state_path') ?? 'telemt.limit.json',
    data_path: optStr(g, 'data_path'),
    workers: num(g, 'workers', 0),
    update_every: num(g, 'update_every', 300),
    proxy_secret_path: optStr(g, 'proxy_secret_path') ?? 'proxy-secret',
    proxy_secret_url: optStr(g, 'proxy_secret_url') ?? 'https://core.telegram.org/getProxySecret',
    proxy_config_v4_cache_path: optStr(g, 'proxy_config_v4_cache_path') ?? 'cache/proxy-config-v4.txt',
    proxy_config_v4_url: optStr(g, 'proxy_config_v4_url') ?? 'https://core.telegram.org/getProxyConfig',
    proxy_config_v6_cache_path: optStr(g, 'proxy_config_v6_cache_path') ?? 'cache/proxy-config-v6.txt',
    proxy_config_v6_url: optStr(g, 'proxy_config_v6_url') ?? 'https://core.telegram.org/getProxyConfigV6',
    middle_proxy_nat_ip: optStr(g, 'middle_proxy_nat_ip'),
    middle_proxy_pool_size: num(g, 'middle_proxy_pool_size', 8),
    me_keepalive_enabled: bool(g, 'me_keepalive_enabled', true),
    me_keepalive_interval_secs: num(g, 'me_keepalive_interval_secs', 8),
    me_keepalive_jitter_secs: num(g, 'me_keepalive_jitter_secs', 2),
    me_reconnect_backoff_base_ms: num(g, 'me_reconnect_backoff_base_ms', 500),
    me_reconnect_backoff_cap_ms: num(g, 'me_reconnect_backoff_cap_ms', 30000),
    me_route_hybrid_max_wait_ms: num(g, 'me_route_hybrid_max_wait_ms', 3000),
    me_pool_drain_ttl_secs: num(g, 'me_pool_drain_ttl_secs', 90),
    hardswap: bool(g, 'hardswap', true),
    me_hardswap_warmup_delay_min_ms: num(g, 'me_hardswap_warmup_delay_min_ms', 1000),
    me_hardswap_warmup_delay_max_ms: num(g, 'me_hardswap_warmup_delay_max_ms', 2000),
    me_hardswap_warmup_extra_passes: num(g, 'me_hardswap_warmup_extra_passes', 3),
    me_hardswap_warmup_pass_backoff_base_ms: num(g, 'me_hardswap_warmup_pass_backoff_base_ms', 500),
  };

  const ipv4 = bool(net, 'ipv4', true);
  const ipv6 = bool(net, 'ipv6', false);
  let prefer: 4 | 6 = optNum(net, 'prefer') === 6 ? 6 : 4;
  // telemt: a preference for a disabled family flips to the other one.
  if (prefer === 4 && !ipv4 && ipv6) prefer = 6;
  if (prefer === 6 && !ipv6) prefer = 4;
  const network: NetworkConfig = {
    ipv4,
    ipv6,
    prefer,
    stun_use: bool(net, 'stun_use', true),
    stun_servers: dedupe(strList(net['stun_servers']) ?? [...DEFAULTS.stunServers]),
  };

  const port = num(srv, 'port', 443);
  const proxyProtocol = bool(srv, 'proxy_protocol', false);
  const listenV4 = optStr(srv, 'listen_addr_ipv4');
  const listenV6 = optStr(srv, 'listen_addr_ipv6');
  const server: ServerConfig = {
    port,
    listen_addr_ipv4: listenV4,
    listen_addr_ipv6: listenV6,
    listeners: listeners(srv['listeners'], port, { ipv4, ipv6, listenV4, listenV6 }),
    listen_backlog: num(srv, 'listen_backlog', 1024),
    proxy_protocol: proxyProtocol,
    proxy_protocol_header_timeout_ms: num(srv, 'proxy_protocol_header_timeout_ms', 500),
    proxy_protocol_trusted_cidrs: strList(srv['proxy_protocol_trusted_cidrs']) ?? [],
    max_connections: num(srv, 'max_connections', 10000),
    api: api(sub(srv, 'api')),
    metrics_port: optNum(srv, 'metrics_port'),
    metrics_listen: optStr(srv, 'metrics_listen'),
    metrics_whitelist: strList(srv['metrics_whitelist']) ?? [...DEFAULTS.metricsWhitelist],
  };

  const timeouts: TimeoutsConfig = {
    client_handshake: num(to, 'client_handshake', 30),
    client_first_byte_idle_secs: num(to, 'client_first_byte_idle_secs', 300),
    client_keepalive: num(to, 'client_keepalive', 15),
    client_ack: num(to, 'client_ack', 90),
    relay_client_idle_hard_secs: num(to, 'relay_client_idle_hard_secs', 360),
  };

  const tlsDomain = optStr(cen, 'tls_domain') ?? DEFAULTS.tlsDomain;
  const mpp = cen['mask_proxy_protocol'];
  const censorship: CensorshipConfig = {
    tls_domain: tlsDomain,
    // telemt: merged with tls_domain, deduplicated, primary first.
    tls_domains: dedupe([tlsDomain, ...(strList(cen['tls_domains']) ?? [])]),
    unknown_sni_action: (optStr(cen, 'unknown_sni_action') ?? 'drop') as UnknownSniAction,
    mask: bool(cen, 'mask', true),
    mask_host: optStr(cen, 'mask_host') ?? tlsDomain,
    mask_port: num(cen, 'mask_port', 443),
    mask_proxy_protocol: mpp === true || mpp === 1 ? 1 : mpp === 2 ? 2 : 0,
    fake_cert_len: num(cen, 'fake_cert_len', 2048),
    tls_emulation: bool(cen, 'tls_emulation', true),
    mask_relay_max_bytes: num(cen, 'mask_relay_max_bytes', 5_242_880),
    mask_relay_timeout_ms: num(cen, 'mask_relay_timeout_ms', 60_000),
    mask_relay_idle_timeout_ms: num(cen, 'mask_relay_idle_timeout_ms', 5_000),
  };

  const access: AccessConfig = {
    // mtedge: no users by default (telemt: one all-zero "default" user).
    users: record(acc['users'], (v) => (typeof v === 'string' ? v.toLowerCase() : undefined)),
    user_enabled: record(acc['user_enabled'], (v) => (typeof v === 'boolean' ? v : undefined)),
    user_ad_tags: record(acc['user_ad_tags'], (v) => (typeof v === 'string' ? v.toLowerCase() : undefined)),
    user_max_tcp_conns: record(acc['user_max_tcp_conns'], numOrUndef),
    user_max_tcp_conns_global_each: num(acc, 'user_max_tcp_conns_global_each', 0),
    user_expirations: record(acc['user_expirations'], (v) => (typeof v === 'string' ? v : undefined)),
    user_data_quota: record(acc['user_data_quota'], numOrUndef),
    user_max_unique_ips: record(acc['user_max_unique_ips'], numOrUndef),
    user_max_unique_ips_global_each: num(acc, 'user_max_unique_ips_global_each', 0),
    user_max_unique_ips_mode: (optStr(acc, 'user_max_unique_ips_mode') ?? 'active_window') as UniqueIpsMode,
    user_max_unique_ips_window_secs: num(acc, 'user_max_unique_ips_window_secs', 30),
    user_source_deny: record(acc['user_source_deny'], (v) => strList(v)),
    user_rate_limits: record(acc['user_rate_limits'], rateLimit),
    replay_check_len: num(acc, 'replay_check_len', 65536),
    replay_window_secs: num(acc, 'replay_window_secs', 120),
    ignore_time_skew: bool(acc, 'ignore_time_skew', false),
  };

  const dcOverrides = record(doc['dc_overrides'], (v) => {
    const list = (typeof v === 'string' ? [v] : (strList(v) ?? [])).filter((s) => s !== '');
    return list.length > 0 ? list : undefined;
  });

  return {
    general,
    network,
    server,
    timeouts,
    censorship,
    access,
    dc_overrides: dcOverrides,
    default_dc: optNum(doc, 'default_dc'),
  };
}

function api(t: PlainTable): ApiConfig {
  return {
    enabled: bool(t, 'enabled', true),
    listen: optStr(t, 'listen') ?? DEFAULTS.apiListen,
    whitelist: strList(t['whitelist']) ?? [...DEFAULTS.apiWhitelist],
    auth_header: optStr(t, 'auth_header') ?? '',
    request_body_limit_bytes: num(t, 'request_body_limit_bytes', 65536),
    minimal_runtime_enabled: bool(t, 'minimal_runtime_enabled', true),
    minimal_runtime_cache_ttl_ms: num(t, 'minimal_runtime_cache_ttl_ms', 1000),
    runtime_edge_enabled: bool(t, 'runtime_edge_enabled', false),
    runtime_edge_cache_ttl_ms: num(t, 'runtime_edge_cache_ttl_ms', 1000),
    runtime_edge_top_n: num(t, 'runtime_edge_top_n', 10),
    runtime_edge_events_capacity: num(t, 'runtime_edge_events_capacity', 256),
    read_only: bool(t, 'read_only', false),
  };
}

/**
 * Explicit [[server.listeners]] win. Without them the legacy listen_addr_ipv4/ipv6 are the
 * listeners: IPv4 unless network.ipv4 = false (default 0.0.0.0), IPv6 when listen_addr_ipv6 is
 * written or network.ipv6 = true (default ::).
 */
function listeners(
  v: PlainValue | undefined,
  port: number,
  o: { ipv4: boolean; ipv6: boolean; listenV4: string | undefined; listenV6: string | undefined },
): ListenerConfig[] {
  if (Array.isArray(v) && v.length > 0) {
    return v.filter(isTable).map((l) => ({
      ip: optStr(l, 'ip') ?? (o.ipv4 ? '0.0.0.0' : '::'),
      port: optNum(l, 'port') ?? port,
      announce: optStr(l, 'announce') ?? optStr(l, 'announce_ip'),
      announce_ip: optStr(l, 'announce_ip'),
      proxy_protocol: optBool(l, 'proxy_protocol'),
    }));
  }
  const out: ListenerConfig[] = [];
  const mk = (ip: string): ListenerConfig => ({
    ip,
    port,
    announce: undefined,
    announce_ip: undefined,
    proxy_protocol: undefined,
  });
  if (o.listenV4 !== undefined || o.ipv4) out.push(mk(o.listenV4 ?? '0.0.0.0'));
  if (o.listenV6 !== undefined || o.ipv6) out.push(mk(o.listenV6 ?? '::'));
  return out;
}

function sub(t: PlainTable, k: string): PlainTable {
  const v = t[k];
  return isTable(v) ? v : {};
}
function bool(t: PlainTable, k: string, d: boolean): boolean {
  const v = t[k];
  return typeof v === 'boolean' ? v : d;
}
function optBool(t: PlainTable, k: string): boolean | undefined {
  const v = t[k];
  return typeof v === 'boolean' ? v : undefined;
}
function num(t: PlainTable, k: string, d: number): number {
  const v = t[k];
  return typeof v === 'number' ? v : d;
}
function optNum(t: PlainTable, k: string): number | undefined {
  const v = t[k];
  return typeof v === 'number' ? v : undefined;
}
function numOrUndef(v: PlainValue): number | undefined {
  return typeof v === 'number' ? v : undefined;
}
function optStr(t: PlainTable, k: string): string | undefined {
  const v = t[k];
  return typeof v === 'string' ? v : undefined;
}
function strList(v: PlainValue | undefined): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
}
function dedupe(list: readonly string[]): string[] {
  return [...new Set(list.map((s) => s.trim()).filter((s) => s !== ''))];
}
function showList(v: PlainValue | undefined): '*' | string[] {
  if (v === undefined || v === '*') return '*';
  return strList(v) ?? [];
}
function rateLimit(v: PlainValue): RateLimitBps | undefined {
  if (!isTable(v)) return undefined;
  return { up_bps: optNum(v, 'up_bps'), down_bps: optNum(v, 'down_bps') };
}
function record<T>(v: PlainValue | undefined, f: (x: PlainValue) => T | undefined): Record<string, T> {
  const out: Record<string, T> = {};
  if (!isTable(v)) return out;
  for (const k of Object.keys(v)) {
    const r = f(v[k] as PlainValue);
    if (r !== undefined) Object.defineProperty(out, k, { value: r, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
