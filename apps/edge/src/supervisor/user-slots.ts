/**
 * Stable slots in the shared per-user tables. A user keeps its slot across reloads (so its
 * counters keep running); a removed user's slot is reused later from zero.
 */
export class UserSlotsFullError extends Error {
  readonly code = 'MTE_ERR_USER_CAPACITY';
  constructor(capacity: number) {
    super(`user capacity ${capacity} reached; restart mtedge to size the shared tables for more users`);
    this.name = 'UserSlotsFullError';
  }
}

export class UserSlots {
  private readonly slots = new Map<string, number>();
  private readonly free: number[] = [];

  constructor(readonly capacity: number) {
    for (let i = capacity - 1; i >= 0; i--) this.free.push(i);
  }

  get map(): ReadonlyMap<string, number> {
    return this.slots;
  }

  /** Checks that `names` fit without changing anything. */
  fits(names: Iterable<string>): boolean {
    let needed = 0;
    const keep = new Set<string>();
    for (const n of names) {
      keep.add(n);
      if (!this.slots.has(n)) needed++;
    }
    let freed = 0;
    for (const n of this.slots.keys()) if (!keep.has(n)) freed++;
    return needed <= this.free.length + freed;
  }

  /** Makes the slot table match `names`; returns the users that got a new slot. */
  sync(names: Iterable<string>): { added: [string, number][]; removed: [string, number][] } {
    const want = new Set(names);
    if (!this.fits(want)) throw new UserSlotsFullError(this.capacity);
    const removed: [string, number][] = [];
    for (const [n, s] of this.slots) {
      if (!want.has(n)) {
        removed.push([n, s]);
        this.slots.delete(n);
        this.free.push(s);
      }
    }
    const added: [string, number][] = [];
    for (const n of want) {
      if (this.slots.has(n)) continue;
      const s = this.free.pop()!;
      this.slots.set(n, s);
      added.push([n, s]);
    }
    return { added, removed };
  }
}
