/**
 * Middle-End inputs for the workers: proxy-secret and proxy-multi.conf, each from its URL first
 * and its cache file as the fallback. A good download rewrites the cache atomically. Refreshed
 * every `general.update_every` seconds; a new table is applied only when it parses and every DC
 * that had endpoints still has some, otherwise the last good one stays and an event says why.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseProxyMultiConf, validateProxySecret, type ProxyMultiConfig } from '@mtedge/protocol';
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
    readonly code: 'MTE_ERR_ME_SECRET_UNAVAILABLE' | 'MTE_ERR_ME_CONFIG_UNAVAILABLE',
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

export class MeConfigSource {
  private last: MeInputs | undefined;
  private timer: NodeJS.Timeout | undefined;
  private general: EdgeConfig['general'];
  /** Load attempts (start + refreshes) and the last failure, for the initialization view. */
  attempts = 0;
  lastError: string | undefined;
  lastAttemptMs: number | undefined;
  private readonly skews: SkewSample[] = [];

  constructor(
    config: EdgeConfig,
    private readonly baseDir: string,
    private readonly event: (type: string, context: string) => void,
  ) {
    this.general = config.general;
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
      return { secret: decodeSecret(await readFile(cache)), from: 'cache', source: cache, skew: undefined };
    } catch (err) {
      throw new MeConfigError('MTE_ERR_ME_SECRET_UNAVAILABLE', `proxy-secret unavailable (${why || 'no URL'}; cache ${cache}: ${(err as Error).message})`);
    }
  }

  private async loadConfig(): Promise<{ config: ProxyMultiConfig; from: 'url' | 'cache'; source: string }> {
    const g = this.general;
    const cache = this.path(g.proxy_config_v4_cache_path);
    let why = '';
    if (g.proxy_config_v4_url !== '') {
      try {
        const body = await fetchBody(g.proxy_config_v4_url, MAX_CONFIG_BODY);
        const config = parseProxyMultiConf(body.toString('utf8'));
        await writeAtomic(cache, body).catch((err: Error) => this.event('me_cache_write_failed', `${cache}: ${err.message}`));
        return { config, from: 'url', source: g.proxy_config_v4_url };
      } catch (err) {
        why = `${g.proxy_config_v4_url}: ${(err as Error).message}`;
      }
    }
    try {
      return { config: parseProxyMultiConf(await readFile(cache, 'utf8')), from: 'cache', source: cache };
    } catch (err) {
      throw new MeConfigError('MTE_ERR_ME_CONFIG_UNAVAILABLE', `proxy-multi.conf unavailable (${why || 'no URL'}; cache ${cache}: ${(err as Error).message})`);
    }
  }

  /**
   * Loads both inputs. On a refresh the result only replaces the last good one when it keeps
   * every DC covered; returns the inputs now in force (possibly unchanged).
   */
  async refresh(): Promise<MeInputs> {
    this.attempts++;
    this.lastAttemptMs = Date.now();
    let s: Awaited<ReturnType<MeConfigSource['loadSecret']>>;
    let c: Awaited<ReturnType<MeConfigSource['loadConfig']>>;
    try {
      [s, c] = await Promise.all([this.loadSecret(), this.loadConfig()]);
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    }
    this.lastError = undefined;
    const generation = createHash('sha256').update(s.secret).update(JSON.stringify(c.config.dcs)).update(String(c.config.defaultDc)).digest('hex');
    const next: MeInputs = {
      secret: s.secret,
      config: c.config,
      generation,
      secretFrom: s.from,
      configFrom: c.from,
      secretSource: s.source,
      configSource: c.source,
      loadedAtMs: Date.now(),
      dateSkewSecs: s.skew,
    };
    const prev = this.last;
    if (prev) {
      const lost = Object.keys(prev.config.dcs).filter((dc) => (next.config.dcs[dc]?.length ?? 0) === 0);
      if (lost.length > 0) {
        this.event('me_config_rejected', `new proxy-multi.conf drops every endpoint of DC ${lost.join(',')}; keeping generation ${prev.generation.slice(0, 12)}`);
        return prev;
      }
      if (prev.generation === next.generation) return prev;
    }
    this.last = next;
    this.event('me_config_loaded', `generation=${generation.slice(0, 12)} dcs=${Object.keys(next.config.dcs).length} secret=${s.from} config=${c.from}`);
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
  };
}
