/**
 * A tiny spin lock on one Int32 slot. Critical sections it guards are a few dozen loads and
 * stores, so spinning beats parking; Atomics.wait is not allowed on the main thread anyway.
 */
export function lockSlot(locks: Int32Array, index: number): void {
  let spins = 0;
  while (Atomics.compareExchange(locks, index, 0, 1) !== 0) {
    if (++spins > 1_000_000) {
      // A worker died holding the lock (it cannot be mid-section otherwise): take it over.
      Atomics.store(locks, index, 1);
      return;
    }
  }
}

export function unlockSlot(locks: Int32Array, index: number): void {
  Atomics.store(locks, index, 0);
}
