/**
 * Everything that crosses the supervisor ⇄ worker boundary, as discriminated unions. Both sides
 * switch exhaustively and fail loudly on an unknown kind.
 */
import type { WorkerSettings } from '@mtedge/dataplane';
import type { SharedStatsBuffers } from '@mtedge/stats';

export const WORKER_PROTOCOL_VERSION = 1;

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
  | { readonly type: 'shutdown' };

export type WorkerToSupervisor =
  | { readonly type: 'ready'; readonly workerIndex: number }
  | { readonly type: 'event'; readonly eventType: string; readonly context: string }
  | { readonly type: 'applied'; readonly revision: string }
  | { readonly type: 'fatal'; readonly message: string; readonly stack: string | undefined };

export function assertNever(x: never, what: string): never {
  throw new Error(`unknown ${what}: ${JSON.stringify(x)}`);
}
