/**
 * Handshake replay cache shared by every worker. The table is split into segments, each with its
 * own lock; a key hashes to one segment and is scanned linearly there. An entry older than the
 * window counts as empty; when a segment is full the oldest entry is evicted.
 */
import { REPLAY_ENTRY_WORDS, type SharedStatsBuffers } from './layout.js';
import { lockSlot, unlockSlot } from './spin-lock.js';

export class ReplayCache {
  private readonly table: Int32Array;
  private readonly segments: number;
  private readonly size: number;
  private readonly stride: number;
  private readonly key = new Int32Array(4);
  evictions = 0;

  constructor(bufs: SharedStatsBuffers) {
    this.table = new Int32Array(bufs.replay);
    this.segments = bufs.layout.replaySegments;
    this.size = bufs.layout.replaySegmentSize;
    this.stride = 1 + this.size * REPLAY_ENTRY_WORDS;
  }

  /**
   * Records `bytes[offset..offset+16]` as seen at `nowSec`. Returns false when the same key was
   * already recorded within `windowSecs` (a replay), true when it is new.
   */
  checkAndInsert(bytes: Uint8Array, offset: number, nowSec: number, windowSecs: number): boolean {
    const key = this.key;
    for (let i = 0; i < 4; i++) {
      const o = offset + i * 4;
      key[i] = (bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24)) | 0;
    }
    const seg = ((key[0]! ^ Math.imul(key[1]!, 0x9e3779b1)) >>> 0) % this.segments;
    const base = seg * this.stride;
    const t = this.table;
    const now = nowSec | 0;
    lockSlot(t, base);
    try {
      let free = -1;
      let oldest = -1;
      let oldestTs = Number.MAX_SAFE_INTEGER;
      for (let e = 0; e < this.size; e++) {
        const p = base + 1 + e * REPLAY_ENTRY_WORDS;
        const ts = t[p + 4]!;
        const live = ts !== 0 && now - ts <= windowSecs;
        if (live && t[p] === key[0] && t[p + 1] === key[1] && t[p + 2] === key[2] && t[p + 3] === key[3]) {
          return false;
        }
        if (!live) {
          if (free < 0) free = p;
        } else if (ts < oldestTs) {
          oldestTs = ts;
          oldest = p;
        }
      }
      let target = free;
      if (target < 0) {
        target = oldest;
        this.evictions++;
      }
      t[target] = key[0]!;
      t[target + 1] = key[1]!;
      t[target + 2] = key[2]!;
      t[target + 3] = key[3]!;
      t[target + 4] = now === 0 ? 1 : now;
      return true;
    } finally {
      unlockSlot(t, base);
    }
  }
}

/** Segment geometry for a wanted capacity (telemt's replay_check_len). */
export function replayGeometry(capacity: number): { replaySegments: number; replaySegmentSize: number } {
  const replaySegmentSize = 32;
  return { replaySegments: Math.max(1, Math.ceil(Math.max(capacity, 32) / replaySegmentSize)), replaySegmentSize };
}
