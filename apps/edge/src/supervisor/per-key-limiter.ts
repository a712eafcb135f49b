/**
 * At most one line per key per window; the next line that gets through says how many were
 * held back meanwhile. Used for the ME fallback warnings (one per DC per 10 s).
 */
export class PerKeyLimiter {
  private readonly state = new Map<string, { lastMs: number; suppressed: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys = 1024,
  ) {}

  /** `undefined` = suppress this one; a number = emit it, with that many suppressed before. */
  take(key: string, nowMs: number = Date.now()): number | undefined {
    const s = this.state.get(key);
    if (s && nowMs - s.lastMs < this.windowMs) {
      s.suppressed++;
      return undefined;
    }
    const suppressed = s?.suppressed ?? 0;
    if (!s && this.state.size >= this.maxKeys) this.state.delete(this.state.keys().next().value!);
    this.state.set(key, { lastMs: nowMs, suppressed: 0 });
    return suppressed;
  }
}
