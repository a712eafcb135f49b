/** Config for an edge in Middle-End mode whose every ME input comes from the fake ME on loopback. */
import type { FakeMeHttp } from '@mtedge/testkit';

export interface MeTomlOptions {
  readonly adTag: string;
  readonly poolSize: number;
  readonly fallback: boolean;
  readonly backoffCapMs?: number;
}

/** Keys for [general]: inputs from the fake ME's HTTP server, fast keepalive and back-off for tests. */
export function meGeneralToml(http: FakeMeHttp, o: MeTomlOptions): string {
  return [
    `ad_tag = "${o.adTag}"`,
    `proxy_secret_url = "${http.secretUrl}"`,
    `proxy_secret_path = "proxy-secret"`,
    `proxy_config_v4_url = "${http.configUrl}"`,
    `proxy_config_v4_cache_path = "cache/proxy-config-v4.txt"`,
    `update_every = 300`,
    `middle_proxy_pool_size = ${o.poolSize}`,
    `me2dc_fallback = ${o.fallback}`,
    `me_keepalive_interval_secs = 1`,
    `me_keepalive_jitter_secs = 0`,
    `me_reconnect_backoff_base_ms = 300`,
    `me_reconnect_backoff_cap_ms = ${o.backoffCapMs ?? 3000}`,
    `me_route_hybrid_max_wait_ms = 1500`,
    `tg_connect = 3`,
  ].join('\n');
}

/** edgeConfigToml writes direct mode; this turns the Middle-End on. */
export function withMiddleProxy(toml: string): string {
  return toml.replace('use_middle_proxy = false', 'use_middle_proxy = true');
}
