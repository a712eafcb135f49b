/**
 * STUN prober: asks each `network.stun_servers` entry what address our packets come from, so
 * the Middle-End key derivation can use the public IPv4 behind a NAT. UDP first (bounded tries
 * with a per-try timeout), TCP when UDP got nothing and `stun_tcp_fallback` allows it. Runs
 * only while ME is on, `network.stun_use` (and `general.middle_proxy_nat_probe`) hold and no
 * `general.middle_proxy_nat_ip` is configured: a configured NAT IP always wins.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import {
  STUN_MAX_MESSAGE,
  StunError,
  decodeStunBindingResponse,
  encodeStunBindingRequest,
  stunMessageLength,
  type StunAddress,
} from '@mtedge/protocol';
import type { ConfigSnapshot } from '@mtedge/config';

/** More entries than this are ignored: each one costs sockets and a DNS lookup per round. */
const MAX_SERVERS = 32;
const FAILURE_BACKOFF_BASE_MS = 5_000;

export interface StunProbeSettings {
  /** Probing wanted: ME on, stun_use, middle_proxy_nat_probe, and no middle_proxy_nat_ip. */
  readonly enabled: boolean;
  readonly servers: readonly string[];
  readonly tcpFallback: boolean;
  readonly concurrency: number;
  readonly ipv4: boolean;
  readonly ipv6: boolean;
  /** Time between successful rounds. */
  readonly refreshMs: number;
  readonly timeoutMs: number;
  /** UDP sends per server and family (the same transaction id each time, as RFC 5389 asks). */
  readonly attempts: number;
}

function rawKey(snap: ConfigSnapshot, table: string, key: string): unknown {
  const t = snap.raw[table];
  return t !== null && typeof t === 'object' && !Array.isArray(t) ? (t as Record<string, unknown>)[key] : undefined;
}

/**
 * The prober's settings from a config snapshot. stun_tcp_fallback, middle_proxy_nat_probe and
 * stun_nat_probe_concurrency are not in EdgeConfig yet, so they are read from the raw document
 * with telemt's defaults.
 */
export function stunProbeSettings(snap: ConfigSnapshot): StunProbeSettings {
  const c = snap.config;
  const natProbe = rawKey(snap, 'general', 'middle_proxy_nat_probe');
  const tcp = rawKey(snap, 'network', 'stun_tcp_fallback');
  const conc = rawKey(snap, 'general', 'stun_nat_probe_concurrency');
  return {
    enabled: c.general.use_middle_proxy && c.network.stun_use && natProbe !== false && c.general.middle_proxy_nat_ip === undefined,
    servers: c.network.stun_servers.slice(0, MAX_SERVERS),
    tcpFallback: tcp !== false,
    concurrency: typeof conc === 'number' && Number.isInteger(conc) && conc > 0 ? Math.min(conc, 64) : 8,
    ipv4: c.network.ipv4,
    ipv6: c.network.ipv6 !== false,
    refreshMs: Math.max(1, c.general.update_every) * 1000,
    timeoutMs: 1000,
    attempts: 2,
  };
}

export class StunProbeError extends Error {
  constructor(
    readonly code: 'MTE_ERR_STUN_TIMEOUT' | 'MTE_ERR_STUN_SERVER' | 'MTE_ERR_STUN_RESOLVE' | 'MTE_ERR_STUN_REPLY',
    message: string,
  ) {
    super(message);
    this.name = 'StunProbeError';
  }
}

export interface StunTarget {
  readonly host: string;
  readonly port: number;
}

/** "host:port", "[v6]:port" or a bare v6 literal with the default port 3478. */
export function parseStunServer(s: string): StunTarget | undefined {
  const t = s.trim();
  const b = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(t);
  const m = b ?? (t.split(':').length === 2 ? /^([^:]+):(\d{1,5})$/.exec(t) : /^([^:]+)$/.exec(t));
  if (!m) return net.isIPv6(t) ? { host: t, port: 3478 } : undefined;
  const port = m[2] !== undefined ? Number(m[2]) : 3478;
  if (port < 1 || port > 65535 || m[1] === '') return undefined;
  return { host: m[1]!, port };
}

export interface StunAnswer {
  readonly address: StunAddress;
  readonly rttMs: number;
  readonly transport: 'udp' | 'tcp';
}

/** One Binding transaction over UDP to ip:port, resent up to `attempts` times. */
export function stunUdp(ip: string, port: number, timeoutMs: number, attempts: number): Promise<StunAnswer> {
  const family = net.isIPv6(ip) ? 6 : 4;
  const { bytes, txId } = encodeStunBindingRequest();
  return new Promise<StunAnswer>((resolve, reject) => {
    const sock = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    let tries = 0;
    let sentAt = 0;
    let lastBad: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    const done = (err: Error | undefined, a?: StunAnswer): void => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      sock.removeAllListeners('message');
      sock.on('error', () => undefined);
      try {
        sock.close();
      } catch {
        // already closed
      }
      if (err) reject(err);
      else resolve(a!);
    };
    const send = (): void => {
      if (tries >= attempts) {
        done(new StunProbeError('MTE_ERR_STUN_TIMEOUT', `no answer from ${ip}:${port} over UDP in ${attempts} tries of ${timeoutMs} ms${lastBad ? ` (ignored: ${lastBad})` : ''}`));
        return;
      }
      tries++;
      sentAt = Date.now();
      sock.send(bytes, (err) => {
        if (err) done(new StunProbeError('MTE_ERR_STUN_SERVER', `UDP send to ${ip}:${port}: ${err.message}`));
      });
      timer = setTimeout(send, timeoutMs);
    };
    sock.on('error', (err: NodeJS.ErrnoException) => {
      // A connected UDP socket learns of "port unreachable" (ICMP) as ECONNREFUSED: nobody there.
      done(new StunProbeError('MTE_ERR_STUN_SERVER', `UDP ${ip}:${port}: ${err.code ?? err.message}`));
    });
    sock.on('message', (msg) => {
      try {
        const r = decodeStunBindingResponse(msg, txId);
        done(undefined, { address: r.address, rttMs: Date.now() - sentAt, transport: 'udp' });
      } catch (err) {
        // An error response to our transaction is an answer; anything else (stray, late or
        // forged datagrams) is ignored so it cannot cut the transaction short.
        if (err instanceof StunError && err.code === 'MTE_ERR_STUN_ERROR_RESPONSE') done(new StunProbeError('MTE_ERR_STUN_REPLY', `${ip}:${port}: ${err.message}`));
        else lastBad = err instanceof StunError ? err.code : String(err);
      }
    });
    // connect(): the kernel drops datagrams from anyone else and reports ICMP errors to us.
    sock.connect(port, ip, () => send());
  });
}

/** One Binding transaction over TCP (RFC 5389 section 7.2.2: the same message, framed by its length). */
export function stunTcp(ip: string, port: number, timeoutMs: number): Promise<StunAnswer> {
  const { bytes, txId } = encodeStunBindingRequest();
  return new Promise<StunAnswer>((resolve, reject) => {
    const started = Date.now();
    const s = net.connect({ host: ip, port });
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new StunProbeError('MTE_ERR_STUN_TIMEOUT', `no answer from ${ip}:${port} over TCP in ${timeoutMs} ms`)), timeoutMs);
    const finish = (err: Error | undefined, a?: StunAnswer): void => {
      clearTimeout(timer);
      s.removeAllListeners('data');
      s.on('error', () => undefined);
      s.destroy();
      if (err) reject(err);
      else resolve(a!);
    };
    s.once('connect', () => s.write(bytes));
    s.on('error', (err: NodeJS.ErrnoException) => finish(new StunProbeError('MTE_ERR_STUN_SERVER', `TCP ${ip}:${port}: ${err.code ?? err.message}`)));
    s.on('end', () => finish(new StunProbeError('MTE_ERR_STUN_SERVER', `TCP ${ip}:${port} closed before an answer`)));
    s.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      try {
        if (buf.length > STUN_MAX_MESSAGE) throw new StunError('MTE_ERR_STUN_TOO_LARGE', `more than ${STUN_MAX_MESSAGE} bytes without a whole message`);
        const need = stunMessageLength(buf);
        if (need === null || buf.length < need) return;
        const r = decodeStunBindingResponse(buf.subarray(0, need), txId);
        finish(undefined, { address: r.address, rttMs: Date.now() - started, transport: 'tcp' });
      } catch (err) {
        finish(new StunProbeError('MTE_ERR_STUN_REPLY', `TCP ${ip}:${port}: ${(err as Error).message}`));
      }
    });
  });
}

export interface StunServerResult {
  readonly server: string;
  readonly atMs: number;
  readonly ok: boolean;
  readonly rttMs: number | undefined;
  readonly error: string | undefined;
  readonly transport: 'udp' | 'tcp' | undefined;
  readonly v4: StunAddress | undefined;
  readonly v6: StunAddress | undefined;
}

export interface StunReflection {
  readonly ip: string;
  readonly port: number;
  readonly atMs: number;
  readonly server: string;
}

export interface NatStunState {
  readonly enabled: boolean;
  /** The prober exists and runs its timer (false when probing is wanted but was never started). */
  readonly running: boolean;
  readonly rounds: number;
  readonly configured: readonly string[];
  readonly live: readonly string[];
  readonly servers: readonly StunServerResult[];
  readonly v4: StunReflection | undefined;
  readonly v6: StunReflection | undefined;
  readonly lastRoundAtMs: number | undefined;
  readonly consecutiveFailures: number;
  /** Until the next try after a failed round; undefined when not backing off. */
  readonly backoffRemainingMs: number | undefined;
}

async function resolveHost(host: string): Promise<{ v4: string | undefined; v6: string | undefined }> {
  if (net.isIP(host) === 4) return { v4: host, v6: undefined };
  if (net.isIP(host) === 6) return { v4: undefined, v6: host };
  const all = await lookup(host, { all: true });
  return { v4: all.find((a) => a.family === 4)?.address, v6: all.find((a) => a.family === 6)?.address };
}

/** Probes one configured entry over each enabled family; ok when any family answered. */
export async function probeStunServer(server: string, s: Pick<StunProbeSettings, 'ipv4' | 'ipv6' | 'timeoutMs' | 'attempts' | 'tcpFallback'>): Promise<StunServerResult> {
  const atMs = Date.now();
  const fail = (error: string): StunServerResult => ({ server, atMs, ok: false, rttMs: undefined, error, transport: undefined, v4: undefined, v6: undefined });
  const t = parseStunServer(server);
  if (!t) return fail('not a host:port entry');
  let ips: { v4: string | undefined; v6: string | undefined };
  try {
    ips = await resolveHost(t.host);
  } catch (err) {
    return fail(`resolve ${t.host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const one = async (ip: string): Promise<StunAnswer> => {
    try {
      return await stunUdp(ip, t.port, s.timeoutMs, s.attempts);
    } catch (err) {
      if (!s.tcpFallback) throw err;
      try {
        return await stunTcp(ip, t.port, s.timeoutMs);
      } catch (tcpErr) {
        throw new StunProbeError((err as StunProbeError).code ?? 'MTE_ERR_STUN_SERVER', `${(err as Error).message}; TCP fallback: ${(tcpErr as Error).message}`);
      }
    }
  };
  const tasks: Promise<StunAnswer | Error>[] = [];
  const fams: (4 | 6)[] = [];
  if (s.ipv4 && ips.v4 !== undefined) {
    fams.push(4);
    tasks.push(one(ips.v4).catch((e: Error) => e));
  }
  if (s.ipv6 && ips.v6 !== undefined) {
    fams.push(6);
    tasks.push(one(ips.v6).catch((e: Error) => e));
  }
  if (tasks.length === 0) return fail(`${t.host} has no address of an enabled family`);
  const res = await Promise.all(tasks);
  let v4: StunAddress | undefined;
  let v6: StunAddress | undefined;
  let rtt: number | undefined;
  let transport: 'udp' | 'tcp' | undefined;
  const errors: string[] = [];
  res.forEach((r, i) => {
    if (r instanceof Error) {
      errors.push(`v${fams[i]}: ${r.message}`);
      return;
    }
    // The reflected family follows the socket's, whatever the attribute claims.
    if (r.address.family === 4) v4 ??= r.address;
    else v6 ??= r.address;
    rtt = rtt === undefined ? r.rttMs : Math.min(rtt, r.rttMs);
    transport ??= r.transport;
  });
  const ok = v4 !== undefined || v6 !== undefined;
  return { server, atMs, ok, rttMs: rtt, error: errors.length > 0 ? errors.join('; ') : undefined, transport, v4, v6 };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, run));
  return out;
}

export interface StunProberOptions {
  readonly settings: () => StunProbeSettings;
  /** The reflected IPv4 changed (appeared, moved, or the probing got disabled: undefined). */
  readonly onChange: (v4: string | undefined) => void;
  readonly event: (type: string, context: string) => void;
}

/**
 * Periodic prober with a cached result: a failed round keeps the last reflection and retries
 * after a back-off (5 s doubling, capped at the refresh interval); a good one waits a full
 * refresh interval.
 */
export class StunProber {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inFlight: Promise<void> | undefined;
  private rounds = 0;
  private results: StunServerResult[] = [];
  private v4: StunReflection | undefined;
  private v6: StunReflection | undefined;
  private lastRoundAtMs: number | undefined;
  private failures = 0;
  private nextAtMs: number | undefined;

  constructor(private readonly o: StunProberOptions) {}

  /** The reflected IPv4 to use as the NAT IP, while probing is enabled. */
  get natIp(): string | undefined {
    return this.o.settings().enabled ? this.v4?.ip : undefined;
  }

  /**
   * Starts probing: the returned promise settles with the first round (callers may wait for it,
   * bounded, so the first ME links already use its answer); refreshes follow on a timer.
   */
  start(): Promise<void> {
    this.running = true;
    return this.round();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    const s = this.o.settings();
    const delay = this.failures === 0 ? s.refreshMs : Math.min(FAILURE_BACKOFF_BASE_MS * 2 ** Math.min(this.failures - 1, 16), Math.max(FAILURE_BACKOFF_BASE_MS, s.refreshMs));
    this.nextAtMs = Date.now() + delay;
    this.timer = setTimeout(() => void this.round(), delay);
    this.timer.unref();
  }

  /**
   * One probe round over every configured server (at most `concurrency` at a time); the next
   * one is scheduled from its outcome (refresh interval, or back-off after a failure).
   */
  round(): Promise<void> {
    this.inFlight ??= this.doRound().finally(() => {
      this.inFlight = undefined;
      this.schedule();
    });
    return this.inFlight;
  }

  private async doRound(): Promise<void> {
    const s = this.o.settings();
    const before = this.natIp;
    if (!s.enabled) {
      this.failures = 0;
      return;
    }
    this.rounds++;
    const results = await mapLimit(s.servers, s.concurrency, (srv) => probeStunServer(srv, s));
    this.results = results;
    this.lastRoundAtMs = Date.now();
    // First answer in configured order wins: the operator's list is a preference order.
    const g4 = results.find((r) => r.v4 !== undefined);
    const g6 = results.find((r) => r.v6 !== undefined);
    if (g4?.v4) this.v4 = { ip: g4.v4.ip, port: g4.v4.port, atMs: g4.atMs, server: g4.server };
    if (g6?.v6) this.v6 = { ip: g6.v6.ip, port: g6.v6.port, atMs: g6.atMs, server: g6.server };
    const disagree = [...new Set(results.map((r) => r.v4?.ip).filter((x): x is string => x !== undefined))];
    if (disagree.length > 1) this.o.event('stun_reflection_mismatch', `servers disagree on the public IPv4: ${disagree.join(',')}; using ${this.v4?.ip ?? '?'}`);
    if (g4 || g6) {
      this.failures = 0;
    } else {
      this.failures++;
      const why = results.map((r) => `${r.server}: ${r.error ?? '?'}`).join('; ');
      this.o.event('stun_probe_failed', `${results.length === 0 ? 'no stun_servers configured' : why}${this.v4 ? `; keeping ${this.v4.ip}` : ''}`);
    }
    const after = this.natIp;
    if (after !== before) {
      this.o.event('stun_reflection', `public IPv4 ${after ?? 'none'} (was ${before ?? 'none'}) from ${this.v4?.server ?? '?'}`);
      this.o.onChange(after);
    }
  }

  state(nowMs: number = Date.now()): NatStunState {
    const s = this.o.settings();
    return {
      enabled: s.enabled,
      running: this.running,
      rounds: this.rounds,
      configured: s.servers,
      live: this.results.filter((r) => r.ok).map((r) => r.server),
      servers: this.results,
      v4: this.v4,
      v6: this.v6,
      lastRoundAtMs: this.lastRoundAtMs,
      consecutiveFailures: this.failures,
      backoffRemainingMs: this.failures > 0 && this.nextAtMs !== undefined ? Math.max(0, this.nextAtMs - nowMs) : undefined,
    };
  }
}
