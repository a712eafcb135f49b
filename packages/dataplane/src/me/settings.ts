/**
 * What a worker needs to run Middle-End mode, built by the supervisor from config.toml plus the
 * downloaded proxy-secret and proxy-multi.conf. Plain data (crosses postMessage).
 */
import type { DcEndpoint } from '../settings.js';

export interface MeWorkerSettings {
  readonly enabled: boolean;
  /** Changes whenever the secret or the endpoint table changes; writers of an older one drain. */
  readonly generation: string;
  /** ME DC id as a decimal string (may be negative, media) -> endpoints. */
  readonly endpoints: Readonly<Record<string, readonly DcEndpoint[]>>;
  /**
   * Per DC, the other IP family's endpoints (IPv6 on, both tables list the DC): a writer slot
   * tries them on every second reconnect once the preferred ones failed twice in a row.
   */
  readonly fallbackEndpoints?: Readonly<Record<string, readonly DcEndpoint[]>>;
  /** `default N;` of proxy-multi.conf; unknown DCs go there. */
  readonly defaultDc: number | undefined;
  readonly secretHex: string;
  /** Writers per DC per worker. */
  readonly poolSize: number;
  readonly keepaliveEnabled: boolean;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveJitterMs: number;
  readonly reconnectBaseMs: number;
  readonly reconnectCapMs: number;
  /** TCP connect + RPC handshake budget for one writer. */
  readonly connectTimeoutMs: number;
  /** A writer that got no packet at all for this long while it owed answers is declared dead. */
  readonly stallTimeoutMs: number;
  /** How long a new client may wait for a writer of its DC before fallback/close. */
  readonly noWriterWaitMs: number;
  /** me2dc_fallback: no writer for the DC -> route the client direct (else close it). */
  readonly fallbackToDirect: boolean;
  /** Public IPv4 used in the key derivation and as the proxy address behind NAT. */
  readonly natIp: string | undefined;
  /** Port clients connect to (the "proxy port" of RPC_PROXY_REQ). */
  readonly publicPort: number;
  /** Writers of an old generation are closed after this long even if clients remain. */
  readonly drainTtlMs: number;
  /**
   * telemt's hardswap: a new generation warms beside the one in force and takes new clients
   * only once warm (see MePool). false: the old writers drain at once (immediate cut-over).
   */
  readonly hardswap: boolean;
  /**
   * Hardswap warm-up pacing (telemt's me_hardswap_warmup_*): a warming generation's writers dial
   * one at a time, a random [delayMinMs, delayMaxMs] apart, the first writer of every DC before
   * the second of any; one that fails is retried up to `extraPasses` times, passBackoffBaseMs *
   * 2^n apart, before the usual reconnect back-off. Absent: they all dial at once.
   */
  readonly warmup?: {
    readonly delayMinMs: number;
    readonly delayMaxMs: number;
    readonly extraPasses: number;
    readonly passBackoffBaseMs: number;
  };
}

export const ME_DEFAULTS = Object.freeze({
  poolSize: 2,
  keepaliveEnabled: true,
  keepaliveIntervalMs: 8000,
  keepaliveJitterMs: 2000,
  reconnectBaseMs: 500,
  reconnectCapMs: 30_000,
  connectTimeoutMs: 10_000,
  noWriterWaitMs: 3000,
  drainTtlMs: 90_000,
  hardswap: true,
});

/** Two missed keepalives plus slack: long enough for a busy ME, short enough that no client hangs. */
export function defaultStallTimeoutMs(keepaliveIntervalMs: number, jitterMs: number): number {
  return Math.max(2000, 2 * (keepaliveIntervalMs + jitterMs) + 1000);
}
