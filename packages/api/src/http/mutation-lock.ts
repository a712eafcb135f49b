/** One async mutation lock: a promise queue, so config writes never interleave. */
export class MutationLock {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.tail.then(fn, fn);
    // The queue must keep going after a failed step; callers see the failure through `next`.
    this.tail = next.catch(() => undefined);
    return next;
  }
}
