/**
 * Starts the data-plane workers, keeps them alive and talks to them. A worker that dies is
 * restarted with exponential back-off under the same index, so its counter stripe (and the
 * bytes it already relayed) stays in the totals; what it held (live connections, IPs) is
 * released first.
 */
import { Worker } from 'node:worker_threads';
import type { NativeAddon } from '@mtedge/native';
import type { MeWorkerStatus, WorkerSettings } from '@mtedge/dataplane';
import type { SharedStatsBuffers, StatsReader } from '@mtedge/stats';
import type { Logger } from '../shared/logger.js';
import { WORKER_PROTOCOL_VERSION, assertNever, type SupervisorToWorker, type WorkerBoot, type WorkerToSupervisor } from '../shared/messages.js';

export interface ListenSocket {
  readonly fd: number;
  readonly label: string;
}

export interface WorkerPoolOptions {
  readonly count: number;
  readonly stats: SharedStatsBuffers;
  readonly reader: StatsReader;
  readonly native: NativeAddon;
  readonly listeners: readonly ListenSocket[];
  readonly settings: () => WorkerSettings;
  readonly logLevel: string;
  readonly logger: Logger;
  readonly onEvent: (eventType: string, context: string) => void;
}

interface Slot {
  worker: Worker | undefined;
  ready: boolean;
  startedAt: number;
  failures: number;
  timer: NodeJS.Timeout | undefined;
}

const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 10_000;
const HEALTHY_AFTER_MS = 60_000;

/** Answers to one me-status request: per worker index, and the ones that did not answer in time. */
export interface MeStatusReplies {
  readonly replies: ReadonlyMap<number, MeWorkerStatus | undefined>;
  readonly missing: readonly number[];
}

interface PendingMeStatus {
  readonly replies: Map<number, MeWorkerStatus | undefined>;
  readonly asked: Set<number>;
  readonly done: () => void;
}

export class WorkerPool {
  private readonly slots: Slot[];
  private stopping = false;
  restarts = 0;
  private readonly readyWaiters: (() => void)[] = [];
  private nextRequestId = 1;
  private readonly meStatusPending = new Map<number, PendingMeStatus>();

  constructor(private readonly o: WorkerPoolOptions) {
    this.slots = Array.from({ length: o.count }, () => ({ worker: undefined, ready: false, startedAt: 0, failures: 0, timer: undefined }));
  }

  get size(): number {
    return this.slots.length;
  }

  readyCount(): number {
    return this.slots.filter((s) => s.ready).length;
  }

  /** Spawns every worker and resolves once all listen (or rejects after `timeoutMs`). */
  async start(timeoutMs = 15_000): Promise<void> {
    for (let i = 0; i < this.slots.length; i++) this.spawn(i);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.readyCount()}/${this.size} workers became ready within ${timeoutMs} ms`)), timeoutMs);
      const check = (): void => {
        if (this.readyCount() === this.size) {
          clearTimeout(timer);
          resolve();
        } else this.readyWaiters.push(check);
      };
      check();
    });
  }

  private spawn(index: number): void {
    const slot = this.slots[index]!;
    const boot: WorkerBoot = {
      protocolVersion: WORKER_PROTOCOL_VERSION,
      workerIndex: index,
      stats: this.o.stats,
      settings: this.o.settings(),
      // Each worker owns a dup: when it exits, only its own descriptor closes.
      listeners: this.o.listeners.map((l) => ({ fd: this.o.native.dupFd(l.fd), label: l.label })),
      logLevel: this.o.logLevel,
    };
    const w = new Worker(new URL('../worker/main.js', import.meta.url), { workerData: boot, name: `mtedge-worker-${index}` });
    slot.worker = w;
    slot.ready = false;
    slot.startedAt = Date.now();
    w.on('message', (m: WorkerToSupervisor) => this.onMessage(index, m));
    w.on('error', (err) => this.o.logger.error(`worker ${index} crashed: ${err.message}`, { stack: err.stack }));
    w.on('exit', (code) => this.onExit(index, w, code));
  }

  private onMessage(index: number, m: WorkerToSupervisor): void {
    switch (m.type) {
      case 'ready': {
        this.slots[index]!.ready = true;
        const waiters = this.readyWaiters.splice(0);
        for (const f of waiters) f();
        break;
      }
      case 'event':
        this.o.onEvent(m.eventType, m.context);
        break;
      case 'applied':
        break;
      case 'me-status': {
        const p = this.meStatusPending.get(m.id);
        if (!p || !p.asked.has(index)) break;
        p.replies.set(index, m.snapshot);
        if (p.replies.size === p.asked.size) p.done();
        break;
      }
      case 'fatal':
        this.o.logger.error(`worker ${index} failed: ${m.message}`, { stack: m.stack });
        break;
      default:
        assertNever(m, 'worker message');
    }
  }

  private onExit(index: number, w: Worker, code: number): void {
    const slot = this.slots[index]!;
    if (slot.worker !== w) return;
    slot.worker = undefined;
    slot.ready = false;
    this.o.reader.releaseWorker(index);
    if (this.stopping) return;
    const lived = Date.now() - slot.startedAt;
    slot.failures = lived > HEALTHY_AFTER_MS ? 1 : slot.failures + 1;
    const delay = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (slot.failures - 1));
    this.restarts++;
    this.o.logger.warn(`worker ${index} exited with code ${code}; restarting in ${delay} ms`);
    this.o.onEvent('worker_restart', `worker=${index} exit_code=${code} delay_ms=${delay}`);
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (!this.stopping) this.spawn(index);
    }, delay);
  }

  broadcast(m: SupervisorToWorker): void {
    for (const s of this.slots) s.worker?.postMessage(m);
  }

  /**
   * Asks every live worker for its ME status. Resolves when all answered or after `timeoutMs`
   * with what arrived, so one stuck worker cannot hang the API.
   */
  meStatus(timeoutMs: number): Promise<MeStatusReplies> {
    const id = this.nextRequestId++;
    const asked = new Set<number>();
    this.slots.forEach((s, i) => {
      if (s.worker && s.ready) asked.add(i);
    });
    const missingOf = (replies: ReadonlyMap<number, unknown>): number[] => this.slots.map((_, i) => i).filter((i) => !replies.has(i));
    return new Promise<MeStatusReplies>((resolve) => {
      const replies = new Map<number, MeWorkerStatus | undefined>();
      const finish = (): void => {
        clearTimeout(timer);
        this.meStatusPending.delete(id);
        resolve({ replies, missing: missingOf(replies) });
      };
      const timer = setTimeout(finish, timeoutMs);
      timer.unref();
      this.meStatusPending.set(id, { replies, asked, done: finish });
      if (asked.size === 0) {
        finish();
        return;
      }
      for (const i of asked) this.slots[i]!.worker!.postMessage({ type: 'me-status', id } satisfies SupervisorToWorker);
    });
  }

  /** Test hook and operator tool: terminate one worker as if it had crashed. */
  async crash(index: number): Promise<void> {
    await this.slots[index]?.worker?.terminate();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const s of this.slots) if (s.timer) clearTimeout(s.timer);
    await Promise.all(
      this.slots.map(async (s) => {
        const w = s.worker;
        if (!w) return;
        const exited = new Promise<void>((r) => w.once('exit', () => r()));
        w.postMessage({ type: 'shutdown' } satisfies SupervisorToWorker);
        const t = setTimeout(() => void w.terminate(), 3000);
        await exited;
        clearTimeout(t);
      }),
    );
  }
}
