/**
 * Everything that crosses the supervisor ⇄ worker boundary, as discriminated unions. Both sides
 * switch exhaustively and fail loudly on an unknown kind.
 */
import type { MeWorkerStatus, WorkerSettings } from '@mtedge/dataplane';
import type { SharedStatsBuffers } from '@mtedge/stats';

// 2: me-status request/answer.
export const WORKER_PROTOCOL_VERSION = 2;

export interface WorkerBoot {
  readonly protocolVersion: number;
  readonly workerIndex: number;
  readonly stats: SharedStatsBuffers;
  readonly settings: WorkerSettings;
  readonly listeners: readonly { readonly fd: number; readonly label: string }[];
  readonly logLevel: string;
}

export type SupervisorToWorker =
  | { readonly type: 'settings'; readonly settings: WorkerSettings }
  | { readonly type: 'kick-user'; readonly username: string }
  /** Asks for the worker's ME pool status; answered by a me-status message with the same id. */
  | { readonly type: 'me-status'; readonly id: number }
  | { readonly type: 'shutdown' };

export type WorkerToSupervisor =
  | { readonly type: 'ready'; readonly workerIndex: number }
  | { readonly type: 'event'; readonly eventType: string; readonly context: string }
  | { readonly type: 'applied'; readonly revision: string }
  /** `snapshot` is undefined while the worker runs no ME pool. */
  | { readonly type: 'me-status'; readonly id: number; readonly workerIndex: number; readonly snapshot: MeWorkerStatus | undefined }
  | { readonly type: 'fatal'; readonly message: string; readonly stack: string | undefined };

export function assertNever(x: never, what: string): never {
  throw new Error(`unknown ${what}: ${JSON.stringify(x)}`);
}
