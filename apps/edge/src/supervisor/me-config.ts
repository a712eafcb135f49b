/**
 * Middle-End inputs for the workers: proxy-secret and proxy-multi.conf, each from its URL first
 * and its cache file as the fallback. A good download rewrites the cache atomically. Refreshed
 * every `general.update_every` seconds; a new table is applied only when it parses and every DC
 * that had endpoints still has some, otherwise the last good one stays and an event says why.
 * With IPv6 on, getProxyConfigV6 is loaded the same way beside it and merged per network.prefer;
 * its failure never blocks the v4 table (an event and a warning say why).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseProxyMultiConf, validateProxySecret, type MeEndpoint, type ProxyMultiConfig } from '@mtedge/protocol';
import type { EdgeConfig } from '@mtedge/config';
import { ME_DEFAULTS, defaultStallTimeoutMs, type MeWorkerSettings } from '@mtedge/dataplane';

const FETCH_TIMEOUT_MS = 10_000;
const MAX_SECRET_BODY = 4096;
const MAX_CONFIG_BODY = 1 << 20;

export interface MeInputs {
  readonly secret: Buffer;
  readonly config: ProxyMultiConfig;
  /** sha256 over both; changes whenever either does. */
  readonly generation: string;
  readonly secretFrom: 'url' | 'cache';
  readonly configFrom: 'url' | 'cache';
  /** Where each came from: the URL when downloaded, else the cache file path. */
  readonly secretSource: string;
  readonly configSource: string;
  readonly loadedAtMs: number;
  /** Server clock minus ours, from the Date header of the secret download (seconds). */
  readonly dateSkewSecs: number | undefined;
  /**
   * IPv6 on and getProxyConfigV6 loaded (now, or kept from an earlier load when this one failed):
   * `config` is then the merge of `v4Config` and this (mergeMeTables).
   */
  readonly v6?: MeTableInputs | undefined;
  /** The v4 table before the merge; absent when `config` is it. */
  readonly v4Config?: ProxyMultiConfig | undefined;
  /** The family preference the merge used. */
  readonly prefer?: 4 | 6 | undefined;
  /** Per DC, the other family's endpoints (familyFallbacks); empty without IPv6. */
  readonly fallback?: Readonly<Record<string, readonly MeEndpoint[]>> | undefined;
}

/** One proxy-multi.conf table and where it came from. */
export interface MeTableInputs {
  readonly config: ProxyMultiConfig;
  readonly from: 'url' | 'cache';
  /** The URL when downloaded, else the cache file path. */
  readonly source: string;
}

/** One clock-skew observation from a download's Date header. */
export interface SkewSample {
  readonly atMs: number;
  readonly skewSecs: number;
  readonly source: string;
}

const SKEW_WINDOW_MS = 15 * 60_000;
const MAX_SKEW_SAMPLES = 128;

export class MeConfigError extends Error {
  constructor(
    readonly code: 'MTE_ERR_ME_SECRET_UNAVAILABLE' | 'MTE_ERR_ME_CONFIG_UNAVAILABLE' | 'MTE_ERR_ME_CONFIG_V6_UNAVAILABLE',
    message: string,
  ) {
    super(message);
    this.name = 'MeConfigError';
  }
}

async function fetchBody(url: string, max: number, onDate?: (skewSecs: number) => void): Promise<Buffer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'follow' });
  const date = Date.parse(res.headers.get('date') ?? '');
  // HTTP dates have 1 s resolution: round so an in-sync clock reads 0.
  if (onDate && Number.isFinite(date)) onDate(Math.round((date - Date.now()) / 1000));
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  const len = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(len) && len > max) throw new Error(`body of ${len} bytes exceeds ${max}`);
  const body = Buffer.from(await res.arrayBuffer());
  if (body.length > max) throw new Error(`body of ${body.length} bytes exceeds ${max}`);
  return body;
}

/** tmp file + fsync + rename, so a reader never sees half a cache. */
async function writeAtomic(path: string, data: Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** proxy-secret is served raw (binary); accept a hex text file too, as some operators keep one. */
function decodeSecret(b: Buffer): Buffer {
  const t = b.toString('latin1').trim();
  const s = /^[0-9a-fA-F]+$/.test(t) && t.length % 2 === 0 && t.length >= 64 ? Buffer.from(t, 'hex') : b;
  validateProxySecret(s);
  return s;
}

type Interfaces = ReturnType<typeof os.networkInterfaces>;

/** A global unicast IPv6 (2000::/3) on a non-internal interface: the host can route IPv6 at all. */
export function hasGlobalIpv6(ifs: Interfaces): boolean {
  for (const list of Object.values(ifs)) {
    for (const a of list ?? []) {
      if (a.family === 'IPv6' && !a.internal && /^[23][0-9a-f]{0,3}:/i.test(a.address)) return true;
    }
  }
  return false;
}

/**
 * Whether the ME loads getProxyConfigV6. `[network] ipv6` as written; undefined means auto (the
 * TOML loader resolves an omitted key to false, as telemt does, so auto only comes from configs
 * built in code): on when this host has a global IPv6 address. Interfaces only, no probe goes out,
 * so the answer is the same on every refresh of a host that keeps its addresses.
 */
export function meIpv6Enabled(network: EdgeConfig['network'], ifs: () => Interfaces = os.networkInterfaces): boolean {
  return network.ipv6 ?? hasGlobalIpv6(ifs());
}

/**
 * One endpoint list per DC from the v4 and v6 tables. The pool spreads a DC's writer slots over
 * its list (slot i -> endpoints[i % n]) and only steps to another entry when one fails, so the
 * other family listed after the preferred one would still carry a share of the writers. `prefer`
 * therefore decides per DC: a DC the preferred family's table lists gets only those endpoints; a
 * DC only the other table lists gets the other family's. Same for the default DC.
 */
export function mergeMeTables(v4: ProxyMultiConfig, v6: ProxyMultiConfig | undefined, prefer: 4 | 6): ProxyMultiConfig {
  if (v6 === undefined) return v4;
  const [first, second] = prefer === 6 ? [v6, v4] : [v4, v6];
  const dcs: Record<string, readonly MeEndpoint[]> = {};
  for (const t of [second, first]) {
    for (const [dc, eps] of Object.entries(t.dcs)) if (eps.length > 0) dcs[dc] = eps;
  }
  return { dcs, defaultDc: first.defaultDc ?? second.defaultDc, skippedLines: v4.skippedLines + v6.skippedLines };
}

/**
 * For each DC the preferred family's table lists, the other family's endpoints for it (when that
 * table has any): the pool turns to them only while the preferred ones keep failing, so a broken
 * IPv6 (or IPv4) route does not take a DC away.
 */
export function familyFallbacks(v4: ProxyMultiConfig, v6: ProxyMultiConfig | undefined, prefer: 4 | 6): Record<string, readonly MeEndpoint[]> {
  if (v6 === undefined) return {};
  const [first, second] = prefer === 6 ? [v6, v4] : [v4, v6];
  const out: Record<string, readonly MeEndpoint[]> = {};
  for (const [dc, eps] of Object.entries(first.dcs)) {
    const other = second.dcs[dc];
    if (eps.length > 0 && other !== undefined && other.length > 0) out[dc] = other;
  }
  return out;
}

/** DCs `prev` had endpoints for and `next` has none: a table that lost them is refused. */
const lostDcs = (prev: ProxyMultiConfig, next: ProxyMultiConfig): string[] => Object.keys(prev.dcs).filter((dc) => (next.dcs[dc]?.length ?? 0) === 0);

export class MeConfigSource {
  private last: MeInputs | undefined;
  private timer: NodeJS.Timeout | undefined;
  private general: EdgeConfig['general'];
  private readonly network: EdgeConfig['network'];
  /** Why the last IPv6 table load failed; undefined after a good one (or with IPv6 off). */
  v6Error: string | undefined;
  /** Load attempts (start + refreshes) and the last failure, for the initialization view. */
  attempts = 0;
  lastError: string | undefined;
  lastAttemptMs: number | undefined;
  private readonly skews: SkewSample[] = [];

  constructor(
    config: EdgeConfig,
    private readonly baseDir: string,
    private readonly event: (type: string, context: string) => void,
    /** Operator-facing warnings (the IPv6 table failing while v4 serves). */
    private readonly warn: (message: string) => void = () => undefined,
    private readonly interfaces: () => Interfaces = os.networkInterfaces,
  ) {
    this.general = config.general;
    this.network = config.network;
  }

  get current(): MeInputs | undefined {
    return this.last;
  }

  /** Date-header skew samples of the last 15 minutes, oldest first. */
  skewSamples(nowMs: number = Date.now()): readonly SkewSample[] {
    while (this.skews.length > 0 && nowMs - this.skews[0]!.atMs > SKEW_WINDOW_MS) this.skews.shift();
    return this.skews;
  }

  private noteSkew(skewSecs: number, source: string): void {
    this.skews.push({ atMs: Date.now(), skewSecs, source });
    if (this.skews.length > MAX_SKEW_SAMPLES) this.skews.shift();
  }

  /** `[network]` (ipv6, prefer) needs a restart, as in telemt: only `[general]` is taken here. */
  setConfig(config: EdgeConfig): void {
    this.general = config.general;
  }

  private path(p: string): string {
    return resolve(this.baseDir, p);
  }

  private async loadSecret(): Promise<{ secret: Buffer; from: 'url' | 'cache'; source: string; skew: number | undefined }> {
    const g = this.general;
    const cache = this.path(g.proxy_secret_path);
    let why = '';
    if (g.proxy_secret_url !== '') {
      try {
        let skew: number | undefined;
        const body = await fetchBody(g.proxy_secret_url, MAX_SECRET_BODY, (s) => {
          skew = s;
          this.noteSkew(s, 'proxy_secret_date_header');
        });
        const secret = decodeSecret(body);
        await writeAtomic(cache, secret).catch((err: Error) => this.event('me_cache_write_failed', `${cache}: ${err.message}`));
        return { secret, from: 'url', source: g.proxy_secret_url, skew };
      } catch (err) {
        why = `${g.proxy_secret_url}: ${(err as Error).message}`;
      }
    }
    try {
      const secret = decodeSecret(await readFile(cache));
      if (why !== '') this.downloadRefused('proxy-secret', why, cache);
      return { secret, from: 'cache', source: cache, skew: undefined };
    } catch (err) {
      throw new MeConfigError('MTE_ERR_ME_SECRET_UNAVAILABLE', `proxy-secret unavailable (${why || 'no URL'}; cache ${cache}: ${(err as Error).message})`);
    }
  }

  /** URL first (a body that parses rewrites the cache), then the cache; never a body that does not parse. */
  private async loadTable(url: string, cachePath: string, what: string, code: MeConfigError['code']): Promise<MeTableInputs> {
    const cache = this.path(cachePath);
    let why = '';
    if (url !== '') {
      try {
        const body = await fetchBody(url, MAX_CONFIG_BODY);
        const config = parseProxyMultiConf(body.toString('utf8'));
        await writeAtomic(cache, body).catch((err: Error) => this.event('me_cache_write_failed', `${cache}: ${err.message}`));
        return { config, from: 'url', source: url };
      } catch (err) {
        why = `${url}: ${(err as Error).message}`;
      }
    }
    try {
      const config = parseProxyMultiConf(await readFile(cache, 'utf8'));
      if (why !== '') this.downloadRefused(what, why, cache);
      return { config, from: 'cache', source: cache };
    } catch (err) {
      throw new MeConfigError(code, `${what} unavailable (${why || 'no URL'}; cache ${cache}: ${(err as Error).message})`);
    }
  }

  /** A download that failed or did not parse is never silent, even when the cache covers for it. */
  private downloadRefused(what: string, why: string, cache: string): void {
    this.event('me_download_refused', `${what}: ${why}; serving the cache ${cache}`);
    this.warn(`Middle-End ${what} download not used (${why}); serving the cache ${cache}`);
  }

  private loadConfig(): Promise<MeTableInputs> {
    const g = this.general;
    return this.loadTable(g.proxy_config_v4_url, g.proxy_config_v4_cache_path, 'proxy-multi.conf', 'MTE_ERR_ME_CONFIG_UNAVAILABLE');
  }

  private loadV6(): Promise<MeTableInputs> {
    const g = this.general;
    return this.loadTable(g.proxy_config_v6_url, g.proxy_config_v6_cache_path, 'proxy-config-v6', 'MTE_ERR_ME_CONFIG_V6_UNAVAILABLE');
  }

  /**
   * The IPv6 table in force after this load: the new one, or the last good one when the new one
   * failed or would drop a DC it covered (v4 serves on regardless).
   */
  private pickV6(loaded: MeTableInputs | Error): MeTableInputs | undefined {
    const kept = this.last?.v6;
    let why: string;
    if (loaded instanceof Error) {
      why = loaded.message;
    } else {
      const lost = kept ? lostDcs(kept.config, loaded.config) : [];
      if (lost.length === 0) {
        this.v6Error = undefined;
        return loaded;
      }
      why = `new proxy-config-v6 drops every endpoint of DC ${lost.join(',')}`;
    }
    this.v6Error = why;
    const now = kept ? `keeping the IPv6 table from ${kept.source}` : 'IPv4 endpoints only';
    this.event(loaded instanceof Error ? 'me_config_v6_unavailable' : 'me_config_v6_rejected', `${why}; ${now}`);
    this.warn(`Middle-End IPv6 table not applied, ${now}: ${why}`);
    return kept;
  }

  /**
   * Loads both inputs. On a refresh the result only replaces the last good one when it keeps
   * every DC covered; returns the inputs now in force (possibly unchanged).
   */
  async refresh(): Promise<MeInputs> {
    this.attempts++;
    this.lastAttemptMs = Date.now();
    let s: Awaited<ReturnType<MeConfigSource['loadSecret']>>;
    let c: MeTableInputs;
    let v6r: MeTableInputs | Error | undefined;
    const v6On = meIpv6Enabled(this.network, this.interfaces);
    try {
      [s, c, v6r] = await Promise.all([
        this.loadSecret(),
        this.loadConfig(),
        v6On ? this.loadV6().catch((err: Error) => err) : undefined,
      ]);
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    }
    this.lastError = undefined;
    if (!v6On) this.v6Error = undefined;
    const v6 = v6r === undefined ? undefined : this.pickV6(v6r);
    const prefer = this.network.prefer;
    const merged = mergeMeTables(c.config, v6?.config, prefer);
    const fallback = familyFallbacks(c.config, v6?.config, prefer);
    const generation = createHash('sha256').update(s.secret).update(JSON.stringify(merged.dcs)).update(String(merged.defaultDc)).update(JSON.stringify(fallback)).digest('hex');
    const next: MeInputs = {
      secret: s.secret,
      config: merged,
      fallback,
      generation,
      secretFrom: s.from,
      configFrom: c.from,
      secretSource: s.source,
      configSource: c.source,
      loadedAtMs: Date.now(),
      dateSkewSecs: s.skew,
      ...(v6 && { v6, v4Config: c.config, prefer }),
    };
    const prev = this.last;
    if (prev) {
      const lost = lostDcs(prev.config, next.config);
      if (lost.length > 0) {
        this.event('me_config_rejected', `new proxy-multi.conf drops every endpoint of DC ${lost.join(',')}; keeping generation ${prev.generation.slice(0, 12)}`);
        return prev;
      }
      if (prev.generation === next.generation) return prev;
    }
    this.last = next;
    const v6Note = !v6On ? 'off' : v6 ? `${v6.from} prefer=${prefer}` : 'unavailable';
    this.event('me_config_loaded', `generation=${generation.slice(0, 12)} dcs=${Object.keys(next.config.dcs).length} secret=${s.from} config=${c.from} v6=${v6Note}`);
    return next;
  }

  /**
   * Periodic refresh; `onChange` runs only when the inputs in force changed. Until a first load
   * succeeds it retries every 10 s instead of waiting a whole update_every.
   */
  start(onChange: (m: MeInputs) => void): void {
    this.stop();
    let lastRun = Date.now();
    const tickMs = Math.min(10, Math.max(1, this.general.update_every)) * 1000;
    this.timer = setInterval(() => {
      const due = this.last === undefined || Date.now() - lastRun >= Math.max(1, this.general.update_every) * 1000 - 50;
      if (!due) return;
      lastRun = Date.now();
      const before = this.last;
      this.refresh().then(
        (m) => {
          if (m !== before) onChange(m);
        },
        (err: Error) => this.event('me_config_refresh_failed', `${err.message}; keeping the last good one`),
      );
    }, tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * ME on but its inputs not loaded (yet): an empty endpoint table, so every client takes the
 * visible no-writer path (fallback counted + event, or refused) instead of going direct silently.
 */
export function emptyMeSettings(config: EdgeConfig, workers: number, publicPort: number): MeWorkerSettings {
  const empty: MeInputs = {
    secret: Buffer.alloc(0),
    config: { dcs: {}, defaultDc: undefined, skippedLines: 0 },
    generation: 'none',
    secretFrom: 'cache',
    configFrom: 'cache',
    secretSource: '',
    configSource: '',
    loadedAtMs: 0,
    dateSkewSecs: undefined,
  };
  return buildMeSettings(config, empty, workers, publicPort);
}

/** The worker-facing ME settings from the config plus the loaded inputs. */
export function buildMeSettings(config: EdgeConfig, m: MeInputs, workers: number, publicPort: number): MeWorkerSettings {
  const g = config.general;
  const keepaliveIntervalMs = g.me_keepalive_interval_secs * 1000;
  const keepaliveJitterMs = g.me_keepalive_jitter_secs * 1000;
  return {
    enabled: true,
    generation: m.generation,
    endpoints: m.config.dcs,
    fallbackEndpoints: m.fallback ?? {},
    defaultDc: m.config.defaultDc,
    secretHex: m.secret.toString('hex'),
    // middle_proxy_pool_size is per process; each worker holds its share.
    poolSize: Math.max(1, Math.ceil(g.middle_proxy_pool_size / Math.max(1, workers))),
    keepaliveEnabled: g.me_keepalive_enabled,
    keepaliveIntervalMs,
    keepaliveJitterMs,
    reconnectBaseMs: g.me_reconnect_backoff_base_ms,
    reconnectCapMs: Math.max(g.me_reconnect_backoff_base_ms, g.me_reconnect_backoff_cap_ms),
    connectTimeoutMs: Math.max(1000, g.tg_connect * 1000 || ME_DEFAULTS.connectTimeoutMs),
    stallTimeoutMs: defaultStallTimeoutMs(keepaliveIntervalMs, keepaliveJitterMs),
    noWriterWaitMs: g.me_route_hybrid_max_wait_ms,
    fallbackToDirect: g.me2dc_fallback,
    natIp: g.middle_proxy_nat_ip,
    publicPort,
    drainTtlMs: g.me_pool_drain_ttl_secs * 1000,
    hardswap: g.hardswap,
    warmup: {
      delayMinMs: Math.min(g.me_hardswap_warmup_delay_min_ms, g.me_hardswap_warmup_delay_max_ms),
      delayMaxMs: Math.max(g.me_hardswap_warmup_delay_min_ms, g.me_hardswap_warmup_delay_max_ms),
      extraPasses: g.me_hardswap_warmup_extra_passes,
      passBackoffBaseMs: g.me_hardswap_warmup_pass_backoff_base_ms,
    },
  };
}
