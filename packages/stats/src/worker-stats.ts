/**
 * A worker's handle on the shared stats: its own counter stripe (plain adds, it is the only
 * writer) and the shared admission state (Atomics). No allocation on any method.
 */
import { COUNTER_COUNT } from './counters-registry.js';
import {
  IP_LAST_SEEN,
  STATS_LAYOUT_VERSION,
  StatsLayoutMismatchError,
  UB_QUOTA_BASE,
  USER_BASE_FIELDS,
  ipEntryWords,
  type SharedStatsBuffers,
} from './layout.js';
import { lockSlot, unlockSlot } from './spin-lock.js';

export type UniqueIpMode = 'active_window' | 'time_window' | 'combined';

export class WorkerStats {
  /** This worker's counter stripe; index with the slots in `C`. */
  readonly counters: Float64Array;
  private readonly allCounters: Float64Array;
  private readonly octets: Float64Array;
  private readonly allOctets: Float64Array;
  private readonly userBase: Float64Array;
  private readonly userConns: Int32Array;
  private readonly myConns: Int32Array;
  private readonly ipLocks: Int32Array;
  private readonly ips: Int32Array;
  private readonly entryWords: number;
  private readonly ipSlots: number;
  private readonly userCapacity: number;
  private readonly workers: number;

  constructor(
    readonly bufs: SharedStatsBuffers,
    readonly workerIndex: number,
  ) {
    if (bufs.version !== STATS_LAYOUT_VERSION) throw new StatsLayoutMismatchError(bufs.version);
    const { maxWorkers, userCapacity, ipSlotsPerUser } = bufs.layout;
    if (workerIndex < 0 || workerIndex >= maxWorkers) throw new RangeError(`worker index ${workerIndex} out of range`);
    this.workers = maxWorkers;
    this.userCapacity = userCapacity;
    this.counters = new Float64Array(bufs.counters, 8 * workerIndex * COUNTER_COUNT, COUNTER_COUNT);
    this.allCounters = new Float64Array(bufs.counters);
    this.octets = new Float64Array(bufs.userOctets, 8 * workerIndex * userCapacity * 2, userCapacity * 2);
    this.allOctets = new Float64Array(bufs.userOctets);
    this.userBase = new Float64Array(bufs.userBase);
    this.userConns = new Int32Array(bufs.userConns);
    this.myConns = new Int32Array(bufs.userConnsByWorker, 4 * workerIndex * userCapacity, userCapacity);
    this.ipLocks = new Int32Array(bufs.ipLocks);
    this.ips = new Int32Array(bufs.ips);
    this.entryWords = ipEntryWords(bufs.layout);
    this.ipSlots = ipSlotsPerUser;
  }

  add(counter: number, n: number): void {
    this.counters[counter] = this.counters[counter]! + n;
  }

  inc(counter: number): void {
    this.counters[counter] = this.counters[counter]! + 1;
  }

  /** A counter summed over every worker's stripe (e.g. the live connection gauge). */
  total(counter: number): number {
    let sum = 0;
    for (let w = 0, p = counter; w < this.workers; w++, p += COUNTER_COUNT) sum += this.allCounters[p]!;
    return sum;
  }

  addUserOctets(slot: number, fromClient: number, toClient: number): void {
    const o = this.octets;
    const i = slot * 2;
    o[i] = o[i]! + fromClient;
    o[i + 1] = o[i + 1]! + toClient;
  }

  /** Octets counted against the user's quota since its last reset, summed over every worker. */
  quotaUsed(slot: number): number {
    let sum = 0;
    const stride = this.userCapacity * 2;
    const a = this.allOctets;
    for (let w = 0, p = slot * 2; w < this.workers; w++, p += stride) sum += a[p]! + a[p + 1]!;
    return sum - this.userBase[slot * USER_BASE_FIELDS + UB_QUOTA_BASE]!;
  }

  /** Takes one connection of the user's budget; false (nothing taken) when `limit` > 0 is reached. */
  acquireConn(slot: number, limit: number): boolean {
    const before = Atomics.add(this.userConns, slot, 1);
    if (limit > 0 && before >= limit) {
      Atomics.sub(this.userConns, slot, 1);
      return false;
    }
    Atomics.add(this.myConns, slot, 1);
    return true;
  }

  releaseConn(slot: number): void {
    Atomics.sub(this.userConns, slot, 1);
    Atomics.sub(this.myConns, slot, 1);
  }

  /**
   * Registers one connection from `ip` (4 words, see ipToWords). Refused when the user already
   * has `limit` > 0 distinct IPs counted under `mode` and this IP is not one of them.
   */
  acquireIp(slot: number, ip: Int32Array, nowSec: number, limit: number, mode: UniqueIpMode, windowSecs: number): boolean {
    const t = this.ips;
    const ew = this.entryWords;
    const base = slot * this.ipSlots * ew;
    const refAt = 5 + this.workerIndex;
    lockSlot(this.ipLocks, slot);
    try {
      let same = -1;
      let counted = 0;
      let free = -1;
      let stalest = -1;
      let stalestSeen = Number.MAX_SAFE_INTEGER;
      for (let e = 0; e < this.ipSlots; e++) {
        const p = base + e * ew;
        const seen = t[p + IP_LAST_SEEN]!;
        if (seen === 0) {
          if (free < 0) free = p;
          continue;
        }
        const active = this.refsAt(p) > 0;
        if (this.sameIp(p, ip)) same = p;
        const recent = nowSec - seen <= windowSecs;
        const counts = mode === 'active_window' ? active : mode === 'time_window' ? recent : active || recent;
        if (counts) counted++;
        else if (!active && seen < stalestSeen) {
          stalestSeen = seen;
          stalest = p;
        }
      }
      if (same >= 0) {
        const sameActive = this.refsAt(same) > 0;
        const sameRecent = nowSec - t[same + IP_LAST_SEEN]! <= windowSecs;
        const sameCounts = mode === 'active_window' ? sameActive : mode === 'time_window' ? sameRecent : sameActive || sameRecent;
        if (!sameCounts && limit > 0 && counted >= limit) return false;
        t[same + refAt] = t[same + refAt]! + 1;
        t[same + IP_LAST_SEEN] = nowSec;
        return true;
      }
      if (limit > 0 && counted >= limit) return false;
      const slotP = free >= 0 ? free : stalest;
      // Table full of counted IPs: admit without tracking rather than refuse a user under its limit.
      if (slotP < 0) return limit === 0 || counted < limit;
      t[slotP] = ip[0]!;
      t[slotP + 1] = ip[1]!;
      t[slotP + 2] = ip[2]!;
      t[slotP + 3] = ip[3]!;
      t[slotP + IP_LAST_SEEN] = nowSec;
      for (let w = 0; w < this.workers; w++) t[slotP + 5 + w] = 0;
      t[slotP + refAt] = 1;
      return true;
    } finally {
      unlockSlot(this.ipLocks, slot);
    }
  }

  releaseIp(slot: number, ip: Int32Array, nowSec: number): void {
    const t = this.ips;
    const ew = this.entryWords;
    const base = slot * this.ipSlots * ew;
    const refAt = 5 + this.workerIndex;
    lockSlot(this.ipLocks, slot);
    try {
      for (let e = 0; e < this.ipSlots; e++) {
        const p = base + e * ew;
        if (t[p + IP_LAST_SEEN] !== 0 && this.sameIp(p, ip)) {
          if (t[p + refAt]! > 0) t[p + refAt] = t[p + refAt]! - 1;
          t[p + IP_LAST_SEEN] = nowSec;
          return;
        }
      }
    } finally {
      unlockSlot(this.ipLocks, slot);
    }
  }

  private sameIp(p: number, ip: Int32Array): boolean {
    const t = this.ips;
    return t[p] === ip[0] && t[p + 1] === ip[1] && t[p + 2] === ip[2] && t[p + 3] === ip[3];
  }

  private refsAt(p: number): number {
    let refs = 0;
    for (let w = 0; w < this.workers; w++) refs += this.ips[p + 5 + w]!;
    return refs;
  }
}
