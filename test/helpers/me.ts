/** Config for an edge in Middle-End mode whose every ME input comes from the fake ME on loopback, and the ME tests' shared client steps. */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import {
  buildReqPqMulti,
  connectClient,
  fakeMeConfig,
  RES_PQ,
  startFakeDc,
  startFakeMe,
  startFakeMeHttp,
  type FakeDc,
  type FakeDcOptions,
  type FakeMe,
  type FakeMeHttp,
  type FakeMeOptions,
  type SimClient,
} from '@mtedge/testkit';
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

/** Keys for [general]: the ME inputs from a fake ME's HTTP server, the pool, the fallback and the ad tag. */
export function meInputsToml(http: Pick<FakeMeHttp, 'secretUrl' | 'configUrl'>, o: MeTomlOptions): string {
  return [
    `ad_tag = "${o.adTag}"`,
    `proxy_secret_url = "${http.secretUrl}"`,
    `proxy_secret_path = "proxy-secret"`,
    `proxy_config_v4_url = "${http.configUrl}"`,
    `proxy_config_v4_cache_path = "cache/proxy-config-v4.txt"`,
    `update_every = 300`,
    `middle_proxy_pool_size = ${o.poolSize}`,
    `me2dc_fallback = ${o.fallback}`,
  ].join('\n');
}

/** meInputsToml plus fast keepalive and back-off for tests. */
export function meGeneralToml(http: FakeMeHttp, o: MeTomlOptions): string {
  return [
    meInputsToml(http, o),
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

/** Turns on `/v1/stats/minimal/all` (network_path, me_runtime) in an edgeConfigToml config. */
export function withMinimalRuntime(toml: string): string {
  return toml.replace('runtime_edge_enabled = true', 'runtime_edge_enabled = true\nminimal_runtime_enabled = true');
}

/** proxy-multi.conf with one ME DC (2, also the default) on `me`: the pool warms every listed DC. */
export function oneDcMeConfig(me: FakeMe): string {
  return fakeMeConfig({ '2': [{ host: me.host, port: me.port }] }, 2);
}

/** What an ME end-to-end suite runs against. */
export interface MeRig {
  readonly dc: FakeDc;
  readonly me: FakeMe;
  readonly http: FakeMeHttp;
  readonly edge: EdgeProcess;
}

export interface MeRigOptions {
  /** Default: a DC answering like Telegram (resPQ, then echo). */
  readonly dc?: FakeDcOptions;
  readonly me?: FakeMeOptions;
  /** Switches on the fake ME before the edge starts (e.g. wrongSecret). */
  readonly prepare?: (me: FakeMe) => void;
  /** The v4 table (default oneDcMeConfig) and an optional v6 one the fake ME's HTTP server hands out. */
  readonly config?: (me: FakeMe) => { readonly config: string; readonly configV6?: string };
  /** Starts the edge under test from the fakes (its config decides everything else). */
  readonly edge: (dc: FakeDc, http: FakeMeHttp) => Promise<EdgeProcess>;
}

/** A fake DC, a fake middle proxy, its config server and the edge; what started is stopped if a later step fails. */
export async function startMeRig(o: MeRigOptions): Promise<MeRig> {
  const started: { dc?: FakeDc; me?: FakeMe; http?: FakeMeHttp } = {};
  try {
    const dc = (started.dc = await startFakeDc(o.dc ?? { mode: 'mtproto' }));
    const me = (started.me = await startFakeMe(o.me));
    o.prepare?.(me);
    const tables = o.config?.(me) ?? { config: oneDcMeConfig(me) };
    const http = (started.http = await startFakeMeHttp({ secret: me.secret, ...tables }));
    return { dc, me, http, edge: await o.edge(dc, http) };
  } catch (err) {
    await stopMeRig(started);
    throw err;
  }
}

/** Stops whatever of a rig is up: the edge first, then the fakes. */
export async function stopMeRig(r: Partial<MeRig> | undefined): Promise<void> {
  await r?.edge?.stop();
  await r?.dc?.close();
  await r?.me?.close();
  await r?.http?.close();
}

/**
 * A rig for the enclosing describe block: started before its tests, stopped after them. Read its
 * parts inside tests (they do not exist before the suite starts).
 */
export function useMeRig(o: MeRigOptions): MeRig {
  let r: MeRig | undefined;
  before(async () => {
    r = await startMeRig(o);
  });
  after(() => stopMeRig(r));
  const up = (): MeRig => {
    if (r === undefined) throw new Error('the ME rig is not up');
    return r;
  };
  return {
    get dc() { return up().dc; },
    get me() { return up().me; },
    get http() { return up().http; },
    get edge() { return up().edge; },
  };
}
