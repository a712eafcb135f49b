/** Config for an edge in Middle-End mode whose every ME input comes from the fake ME on loopback, and the ME tests' shared client steps. */
import assert from 'node:assert/strict';
import { buildReqPqMulti, connectClient, RES_PQ, type FakeMeHttp, type SimClient } from '@mtedge/testkit';
import type { EdgeProcess } from './edge.js';

export const ME_AD_TAG = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
export const ME_TLS_DOMAIN = 'front.example.com';

/** A dd (padded intermediate) client of `user` bound for DC 2. */
export function meClient(edge: EdgeProcess, user: { readonly secretHex: string }): Promise<SimClient> {
  return connectClient({ host: '127.0.0.1', port: edge.port, mode: 'secure', tag: 'padded', secret: Buffer.from(user.secretHex, 'hex'), domain: ME_TLS_DOMAIN, dcId: 2 });
}

/** req_pq_multi out, resPQ back: the fake ME answers it only over a working ME link. */
export async function expectResPq(c: SimClient, timeoutMs = 5000): Promise<void> {
  c.sendFrame(buildReqPqMulti());
  const a = await c.nextFrame(timeoutMs);
  assert.equal(Buffer.from(a.payload).readUInt32LE(20), RES_PQ, 'resPQ');
}

/** The `data` of a 200 ok envelope (untyped: the callers check it field by field). */
export async function apiData(edge: EdgeProcess, path: string): Promise<any> {
  const r = await edge.api(path);
  assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.ok, true);
  return r.body.data;
}

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
