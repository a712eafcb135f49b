/**
 * Read memory for an ME link (net.connect's `onread`). Without it Node reads into a fresh 64 KiB
 * buffer and, whenever a read comes back short (most ME reads do), allocates a right-sized one
 * and copies into it: a memcpy of every inbound byte. Here each read lands straight in a slab at
 * the next free offset, and what it filled is never handed out again, so views of earlier reads
 * (answers queued to clients, parts of a packet still being joined) stay valid; a slab is
 * dropped once no view of it is left.
 */
export class ReadSlab {
  private slab: Buffer;
  private at = 0;

  /**
   * @param size bytes per slab
   * @param minRead a read is never offered less room than this (the slab's rest is then skipped)
   */
  constructor(
    private readonly size = 256 * 1024,
    private readonly minRead = 32 * 1024,
  ) {
    if (minRead > size) throw new RangeError('ReadSlab: minRead larger than the slab');
    this.slab = Buffer.allocUnsafeSlow(size);
  }

  /** Room for the next read: the slab from the free offset on (a new slab when too little is left). */
  next(): Buffer {
    if (this.size - this.at < this.minRead) {
      this.slab = Buffer.allocUnsafeSlow(this.size);
      this.at = 0;
    }
    return this.slab.subarray(this.at);
  }

  /** The `n` bytes the last read put into `room` (as returned by next()); they are now the caller's. */
  take(room: Buffer, n: number): Buffer {
    // 16-aligned starts keep the in-place AES-CBC on aligned blocks when reads are whole blocks.
    this.at += (n + 15) & ~15;
    if (this.at > this.size) this.at = this.size;
    return room.subarray(0, n);
  }
}
