/**
 * The supervisor's side: sums worker stripes for the Control API, lock-free, and owns the
 * per-user baselines (slot reuse, quota resets) and the clean-up after a worker dies.
 */
import {
  C,
  COUNTER_COUNT,
  DESYNC_FIELDS,
  FAILURE_CLASSES,
  HANDSHAKE_STAGES,
  ME_EDGE_FIELDS,
  MIDDLE_PROXY_FIELDS,
  POOL_FIELDS,
  UPSTREAM_FIELDS,
} from './counters-registry.js';
import {
  IP_LAST_SEEN,
  UB_LAST_RESET,
  UB_QUOTA_BASE,
  UB_TOTAL_BASE,
  USER_BASE_FIELDS,
  ipEntryWords,
  type SharedStatsBuffers,
} from './layout.js';
import type { CountersSnapshot, UserRuntimeSnapshot } from './snapshot.js';
import { wordsToIp } from './ip-words.js';

export class StatsReader {
  private readonly counters: Float64Array;
  private readonly octets: Float64Array;
  private readonly userBase: Float64Array;
  private readonly userConns: Int32Array;
  private readonly userConnsByWorker: Int32Array;
  private readonly ips: Int32Array;
  private readonly sums = new Float64Array(COUNTER_COUNT);

  constructor(readonly bufs: SharedStatsBuffers) {
    this.counters = new Float64Array(bufs.counters);
    this.octets = new Float64Array(bufs.userOctets);
    this.userBase = new Float64Array(bufs.userBase);
    this.userConns = new Int32Array(bufs.userConns);
    this.userConnsByWorker = new Int32Array(bufs.userConnsByWorker);
    this.ips = new Int32Array(bufs.ips);
  }

  private sumCounters(): Float64Array {
    const s = this.sums;
    s.fill(0);
    const c = this.counters;
    for (let w = 0; w < this.bufs.layout.maxWorkers; w++) {
      const base = w * COUNTER_COUNT;
      for (let i = 0; i < COUNTER_COUNT; i++) s[i] = s[i]! + c[base + i]!;
    }
    return s;
  }

  /** One counter summed over every worker. */
  total(counter: number): number {
    let sum = 0;
    for (let w = 0; w < this.bufs.layout.maxWorkers; w++) sum += this.counters[w * COUNTER_COUNT + counter]!;
    return sum;
  }

  counterSnapshot(nowMs: number = Date.now()): CountersSnapshot {
    const s = this.sumCounters();
    const nonZero = <T extends string>(labels: readonly T[], slots: Record<T, number>): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const l of labels) if (s[slots[l]]! > 0) out[l] = s[slots[l]]!;
      return out;
    };
    const all = <T extends string>(labels: readonly T[], slots: Record<T, number>): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const l of labels) out[l] = s[slots[l]]!;
      return out;
    };
    const accepts: number[] = [];
    for (let w = 0; w < this.bufs.layout.maxWorkers; w++) accepts.push(this.counters[w * COUNTER_COUNT + C.core.connections_total]!);
    return {
      generated_at_ms: nowMs,
      core: {
        connections_total: s[C.core.connections_total]!,
        connections_bad_total: s[C.core.connections_bad_total]!,
        handshake_timeouts_total: s[C.core.handshake_timeouts_total]!,
        accept_permit_timeout_total: s[C.core.accept_permit_timeout_total]!,
        connections_bad_by_class: nonZero(FAILURE_CLASSES, C.badClass),
        handshake_failures_by_class: nonZero(FAILURE_CLASSES, C.hsClass),
        handshake_failures_by_stage: nonZero(HANDSHAKE_STAGES, C.hsStage),
      },
      upstream: all(UPSTREAM_FIELDS, C.upstream),
      middle_proxy: all(MIDDLE_PROXY_FIELDS, C.middleProxy),
      pool: all(POOL_FIELDS, C.pool),
      me: all(ME_EDGE_FIELDS, C.me),
      desync: all(DESYNC_FIELDS, C.desync),
      current_connections: s[C.core.current_connections]!,
      current_connections_me: s[C.core.current_connections_me]!,
      current_connections_direct: s[C.core.current_connections_direct]!,
      octets_from_clients: s[C.core.octets_from_clients]!,
      octets_to_clients: s[C.core.octets_to_clients]!,
      accepts_by_worker: accepts,
    };
  }

  private userOctetSums(slot: number): { from: number; to: number } {
    let from = 0;
    let to = 0;
    const stride = this.bufs.layout.userCapacity * 2;
    for (let w = 0, p = slot * 2; w < this.bufs.layout.maxWorkers; w++, p += stride) {
      from += this.octets[p]!;
      to += this.octets[p + 1]!;
    }
    return { from, to };
  }

  userSnapshot(slot: number, windowSecs: number, nowSec: number = Math.floor(Date.now() / 1000)): UserRuntimeSnapshot {
    const { from, to } = this.userOctetSums(slot);
    const b = slot * USER_BASE_FIELDS;
    const total = from + to;
    const active: string[] = [];
    const recent: string[] = [];
    const { ipSlotsPerUser, maxWorkers } = this.bufs.layout;
    const ew = ipEntryWords(this.bufs.layout);
    for (let e = 0; e < ipSlotsPerUser; e++) {
      const p = (slot * ipSlotsPerUser + e) * ew;
      const seen = this.ips[p + IP_LAST_SEEN]!;
      if (seen === 0) continue;
      let refs = 0;
      for (let w = 0; w < maxWorkers; w++) refs += this.ips[p + 5 + w]!;
      const ip = wordsToIp(this.ips, p);
      if (refs > 0) active.push(ip);
      if (refs > 0 || nowSec - seen <= windowSecs) recent.push(ip);
    }
    const lastReset = this.userBase[b + UB_LAST_RESET]!;
    const totalBase = this.userBase[b + UB_TOTAL_BASE]!;
    return {
      current_connections: Math.max(0, Atomics.load(this.userConns, slot)),
      active_ips: active,
      recent_ips: recent,
      octets_from_client: from,
      octets_to_client: to,
      total_octets: Math.max(0, total - totalBase),
      quota_used_bytes: Math.max(0, total - this.userBase[b + UB_QUOTA_BASE]!),
      quota_last_reset_epoch_secs: lastReset > 0 ? lastReset : undefined,
    };
  }

  /** A slot handed to a new user starts from zero: baselines at the current sums, IP table cleared. */
  claimSlot(slot: number, carriedQuotaBytes = 0, lastResetSec = 0): void {
    const { from, to } = this.userOctetSums(slot);
    const b = slot * USER_BASE_FIELDS;
    this.userBase[b + UB_TOTAL_BASE] = from + to;
    this.userBase[b + UB_QUOTA_BASE] = from + to - carriedQuotaBytes;
    this.userBase[b + UB_LAST_RESET] = lastResetSec;
    const { ipSlotsPerUser } = this.bufs.layout;
    const ew = ipEntryWords(this.bufs.layout);
    this.ips.fill(0, slot * ipSlotsPerUser * ew, (slot + 1) * ipSlotsPerUser * ew);
  }

  resetQuota(slot: number, nowSec: number): void {
    const { from, to } = this.userOctetSums(slot);
    const b = slot * USER_BASE_FIELDS;
    this.userBase[b + UB_QUOTA_BASE] = from + to;
    this.userBase[b + UB_LAST_RESET] = nowSec;
  }

  /**
   * After worker `w` died: its sockets are gone, so drop what it held (per-user connections,
   * IP references, live gauges). Its byte counters stay: those bytes were relayed.
   */
  releaseWorker(w: number): void {
    const { userCapacity, ipSlotsPerUser } = this.bufs.layout;
    for (let slot = 0; slot < userCapacity; slot++) {
      const i = w * userCapacity + slot;
      const held = Atomics.exchange(this.userConnsByWorker, i, 0);
      if (held !== 0) Atomics.sub(this.userConns, slot, held);
    }
    const ew = ipEntryWords(this.bufs.layout);
    for (let e = 0; e < userCapacity * ipSlotsPerUser; e++) Atomics.store(this.ips, e * ew + 5 + w, 0);
    const base = w * COUNTER_COUNT;
    this.counters[base + C.core.current_connections] = 0;
    this.counters[base + C.core.current_connections_direct] = 0;
    this.counters[base + C.core.current_connections_me] = 0;
    this.counters[base + C.pool.pool_drain_active] = 0;
  }
}
