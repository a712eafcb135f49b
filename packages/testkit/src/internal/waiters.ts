import { TestkitTimeoutError } from '../errors.js';

interface Waiter {
  pred: () => boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Event-driven condition waits: owners call `notify()` after every state change, waiters
 * re-check their predicate then. No polling, and every wait has a timer so tests stay bounded.
 */
export class Waiters {
  private readonly list = new Set<Waiter>();

  notify(): void {
    for (const w of this.list) {
      let done: boolean;
      try {
        done = w.pred();
      } catch (err) {
        // A throwing predicate fails its own waiter, never the event source that notified.
        this.list.delete(w);
        w.reject(err);
        continue;
      }
      if (done) {
        this.list.delete(w);
        w.resolve();
      }
    }
  }

  waitFor(pred: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
    try {
      if (pred()) return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        pred,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.list.delete(w);
        reject(new TestkitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`, timeoutMs));
      }, timeoutMs);
      this.list.add(w);
    });
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
