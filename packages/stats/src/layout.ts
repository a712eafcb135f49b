/**
 * The one module that names every shared slot. Supervisor and workers build their views from
 * the same SharedArrayBuffers through these functions; a worker refuses buffers whose layout
 * version differs from its own.
 *
 * Single-writer rule: a worker writes only its own stripe of the Float64 counters, so plain
 * `+=` is exact and readers sum stripes without locks. Shared admission state (per-user
 * connection counts, unique-IP tables, replay cache) is written by all workers through Atomics.
 */
import { COUNTER_COUNT } from './counters-registry.js';

// 2: ME counters (middle_proxy:*, pool:*, me:*) appended to the counter stripe.
export const STATS_LAYOUT_VERSION = 2;

export interface StatsLayout {
  readonly maxWorkers: number;
  readonly userCapacity: number;
  readonly ipSlotsPerUser: number;
  readonly replaySegments: number;
  readonly replaySegmentSize: number;
}

export interface SharedStatsBuffers {
  readonly version: number;
  readonly layout: StatsLayout;
  /** Float64 [worker][counter]. */
  readonly counters: SharedArrayBuffer;
  /** Float64 [worker][slot][2]: octets from client, octets to client. */
  readonly userOctets: SharedArrayBuffer;
  /** Float64 [slot][USER_BASE_FIELDS], written by the supervisor only. */
  readonly userBase: SharedArrayBuffer;
  /** Int32 [slot]: live connections, all workers (admission). */
  readonly userConns: SharedArrayBuffer;
  /** Int32 [worker][slot]: live connections held by each worker (crash clean-up). */
  readonly userConnsByWorker: SharedArrayBuffer;
  /** Int32 [slot]: spin lock of the slot's IP table. */
  readonly ipLocks: SharedArrayBuffer;
  /** Int32 [slot][ipSlotsPerUser][IP_ENTRY_WORDS + maxWorkers]. */
  readonly ips: SharedArrayBuffer;
  /** Int32 [segment][1 lock + size * REPLAY_ENTRY_WORDS]. */
  readonly replay: SharedArrayBuffer;
}

/** userBase fields. */
export const UB_TOTAL_BASE = 0; // subtracted from the octet sum: a reused slot starts at zero
export const UB_QUOTA_BASE = 1; // subtracted for quota use: reset-quota moves it
export const UB_LAST_RESET = 2; // epoch seconds of the last quota reset, 0 = never
export const USER_BASE_FIELDS = 4;

/** IP entry: 4 words of the IPv6 (v4-mapped) address, last-seen seconds, then one refcount per worker. */
export const IP_ENTRY_WORDS = 5;
export const IP_LAST_SEEN = 4;

/** Replay entry: 4 key words + insertion time in seconds (0 = empty). */
export const REPLAY_ENTRY_WORDS = 5;

export function createSharedStats(layout: StatsLayout): SharedStatsBuffers {
  const { maxWorkers: w, userCapacity: u, ipSlotsPerUser: k, replaySegments: rs, replaySegmentSize: rz } = layout;
  if (w < 1 || u < 1 || k < 1 || rs < 1 || rz < 1) throw new RangeError('stats layout sizes must be positive');
  return {
    version: STATS_LAYOUT_VERSION,
    layout: { ...layout },
    counters: new SharedArrayBuffer(8 * w * COUNTER_COUNT),
    userOctets: new SharedArrayBuffer(8 * w * u * 2),
    userBase: new SharedArrayBuffer(8 * u * USER_BASE_FIELDS),
    userConns: new SharedArrayBuffer(4 * u),
    userConnsByWorker: new SharedArrayBuffer(4 * w * u),
    ipLocks: new SharedArrayBuffer(4 * u),
    ips: new SharedArrayBuffer(4 * u * k * (IP_ENTRY_WORDS + w)),
    replay: new SharedArrayBuffer(4 * rs * (1 + rz * REPLAY_ENTRY_WORDS)),
  };
}

export function ipEntryWords(layout: StatsLayout): number {
  return IP_ENTRY_WORDS + layout.maxWorkers;
}

export class StatsLayoutMismatchError extends Error {
  readonly code = 'MTE_ERR_STATS_LAYOUT';
  constructor(got: number) {
    super(`stats layout version ${got} does not match this build's ${STATS_LAYOUT_VERSION}`);
    this.name = 'StatsLayoutMismatchError';
  }
}
