/** What every handler receives and returns. */
import type { ControlPlane } from '../control-plane.js';
import type { MutationLock } from '../http/mutation-lock.js';
import type { ApiLogger } from '../logger.js';
import type { RouteId } from '../routes.js';
import type { ReloadRegistry } from './reload-registry.js';

/** Per-server state shared by handlers (lock, reload history, caches). */
export interface ServerState {
  readonly cp: ControlPlane;
  readonly lock: MutationLock;
  readonly reloads: ReloadRegistry;
  readonly logger: ApiLogger;
  /** Cached runtime-edge connection summary (runtime_edge_cache_ttl_ms). */
  edgeSummaryCache: { readonly atMs: number; readonly payload: unknown } | undefined;
}

export interface HandlerContext {
  readonly state: ServerState;
  readonly cp: ControlPlane;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** Raw If-Match header value, if any. */
  readonly ifMatch: string | undefined;
  /** Parsed JSON body; undefined when the route takes none or it was empty. */
  readonly body: unknown;
}

export interface HandlerResult {
  readonly status?: number;
  readonly data: unknown;
  /** Revision to put in the envelope; defaults to the current one when the response is written. */
  readonly revision?: string;
}

export type Handler = (ctx: HandlerContext) => HandlerResult | Promise<HandlerResult>;

export type HandlerTable = Readonly<Record<RouteId, Handler>>;
