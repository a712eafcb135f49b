/**
 * The Control API server on uWebSockets.js. Gates run in the contract's order
 * (telemt-API.md "Request Processing Order"); settings come from the current config snapshot on
 * every request so a hot reload applies at once. uWS rules kept here: onAborted is attached
 * first, the request object is read only inside the handler, body chunks are copied, and every
 * write happens inside res.cork.
 */
import { Buffer } from 'node:buffer';
import uWS from 'uWebSockets.js';
import type { ControlPlane } from './control-plane.js';
import { errorEnvelope, statusLine, successEnvelope } from './http/envelopes.js';
import { ApiError } from './http/errors.js';
import { authorized, ipAllowed } from './http/gates.js';
import { MutationLock } from './http/mutation-lock.js';
import { Router } from './http/router.js';
import type { HandlerResult, ServerState } from './handlers/context.js';
import { HANDLERS } from './handlers/table.js';
import { ReloadRegistry } from './handlers/reload-registry.js';
import { silentLogger, type ApiLogger } from './logger.js';
import { ROUTES, type RouteSpec } from './routes.js';
import { uwsEngine } from './engine.js';
import { compileSchemas, validateRequest } from './schemas/index.js';

export interface ApiServerOptions {
  readonly controlPlane: ControlPlane;
  readonly host: string;
  /** 0 = ephemeral; the bound port is in the returned handle. */
  readonly port: number;
  readonly logger?: ApiLogger;
}

export interface ApiServerHandle {
  readonly port: number;
  close(): void;
}

export class ApiListenError extends Error {
  override readonly name = 'ApiListenError';
  readonly code = 'MTE_ERR_API_LISTEN';
  constructor(host: string, port: number) {
    super(`Control API could not listen on ${host}:${port}`);
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** What the uWS handler copies out of the request before it returns. */
interface RequestInfo {
  readonly requestId: number;
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly authorization: string | undefined;
  readonly ifMatch: string | undefined;
  readonly contentLength: number | undefined;
  readonly peer: string;
}

class Responder {
  aborted = false;
  done = false;

  constructor(
    private readonly res: uWS.HttpResponse,
    private readonly requestId: number,
    private readonly logger: ApiLogger,
  ) {}

  success(status: number, data: unknown, revision: string): void {
    this.write(status, JSON.stringify(successEnvelope(data, revision)), {}, false);
  }

  error(err: unknown, closeConnection = false): void {
    let apiErr: ApiError;
    if (err instanceof ApiError) {
      apiErr = err;
      if (apiErr.status >= 500) {
        this.logger.error('control api request failed', { request_id: this.requestId, code: apiErr.code, cause: String(apiErr.cause) });
      }
    } else {
      this.logger.error('control api handler failed', { request_id: this.requestId, error: String(err) });
      apiErr = new ApiError('internal_error', 'Internal error');
    }
    const body = JSON.stringify(errorEnvelope(apiErr.code, apiErr.message, this.requestId));
    this.write(apiErr.status, body, apiErr.headers, closeConnection);
  }

  private write(status: number, body: string, headers: Readonly<Record<string, string>>, close: boolean): void {
    if (this.aborted || this.done) return;
    this.done = true;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status)).writeHeader('Content-Type', JSON_TYPE);
      for (const [k, v] of Object.entries(headers)) this.res.writeHeader(k, v);
      this.res.end(body, close);
    });
  }
}

function headerOrUndefined(req: uWS.HttpRequest, name: string): string | undefined {
  const v = req.getHeader(name);
  return v === '' ? undefined : v;
}

export function startApiServer(o: ApiServerOptions): Promise<ApiServerHandle> {
  // Fail loudly (before binding) on a missing native engine or a broken schema.
  uwsEngine();
  compileSchemas();
  const cp = o.controlPlane;
  const logger = o.logger ?? silentLogger;
  const router = new Router(ROUTES);
  const state: ServerState = {
    cp,
    lock: new MutationLock(),
    reloads: new ReloadRegistry(),
    logger,
    edgeSummaryCache: undefined,
  };
  let requestSeq = 0;

  const app = uWS.App();
  app.any('/*', (res, req) => {
    const requestId = ++requestSeq;
    const responder = new Responder(res, requestId, logger);
    res.onAborted(() => {
      responder.aborted = true;
    });
    const lengthHeader = req.getHeader('content-length');
    const info: RequestInfo = {
      requestId,
      method: req.getCaseSensitiveMethod(),
      path: req.getUrl(),
      query: req.getQuery() ?? '',
      authorization: headerOrUndefined(req, 'authorization'),
      ifMatch: headerOrUndefined(req, 'if-match'),
      contentLength: lengthHeader === '' ? undefined : Number(lengthHeader),
      peer: Buffer.from(res.getRemoteAddressAsText()).toString('utf8'),
    };
    // Gates 1-5 are synchronous so onData (gate 6) is attached before this handler returns.
    let route: RouteSpec;
    let params: Readonly<Record<string, string>>;
    let bodyLimit: number;
    try {
      const settings = cp.current().config.server.api;
      if (!settings.enabled) throw new ApiError('api_disabled', 'API is disabled');
      if (!ipAllowed(settings.whitelist, info.peer)) throw new ApiError('forbidden', 'Source IP is not allowed');
      if (!authorized(settings.auth_header, info.authorization)) throw new ApiError('unauthorized', 'Missing or invalid Authorization header');
      const match = router.match(info.method, info.path);
      route = match.route;
      params = match.params;
      if (route.mutating && settings.read_only) throw new ApiError('read_only', 'API is in read-only mode');
      bodyLimit = settings.request_body_limit_bytes;
    } catch (err) {
      responder.error(err);
      return;
    }
    if (route.body === 'none') {
      void dispatch(state, responder, info, route, params, undefined);
      return;
    }
    if (info.contentLength !== undefined && info.contentLength > bodyLimit) {
      responder.error(new ApiError('payload_too_large', 'Payload too large'), true);
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    res.onData((chunk, isLast) => {
      if (responder.done || responder.aborted) return;
      total += chunk.byteLength;
      if (total > bodyLimit) {
        // Stop buffering at once and drop the connection: the rest of the body is never read.
        chunks.length = 0;
        responder.error(new ApiError('payload_too_large', 'Payload too large'), true);
        return;
      }
      // uWS reuses the chunk's memory once this callback returns.
      if (chunk.byteLength > 0) chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) void dispatch(state, responder, info, route, params, Buffer.concat(chunks, total));
    });
  });

  return new Promise((resolve, reject) => {
    app.listen(o.host, o.port, (listenSocket) => {
      if (listenSocket === false) {
        reject(new ApiListenError(o.host, o.port));
        return;
      }
      const port = uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket);
      logger.info('control api listening', { host: o.host, port });
      let closed = false;
      resolve({
        port,
        close: () => {
          if (closed) return;
          closed = true;
          uWS.us_listen_socket_close(listenSocket);
        },
      });
    });
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Gate 6 (decode) and 7 (validation + handler). */
function decodeBody(route: RouteSpec, raw: Buffer | undefined): unknown {
  if (raw === undefined) return undefined;
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new ApiError('bad_request', 'Invalid request body');
  }
  if (text.trim() === '') {
    if (route.body === 'required') throw new ApiError('bad_request', 'Invalid JSON body');
    return undefined;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError('bad_request', 'Invalid JSON body');
  }
  if (route.request !== undefined) {
    const v = validateRequest(route.request, body);
    if (!v.ok) throw new ApiError('bad_request', v.message);
  } else if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    // Action routes take no fields, but a body, when sent, must still be a JSON object.
    throw new ApiError('bad_request', 'body: must be object');
  }
  return body;
}

async function dispatch(
  state: ServerState,
  responder: Responder,
  info: RequestInfo,
  route: RouteSpec,
  params: Readonly<Record<string, string>>,
  raw: Buffer | undefined,
): Promise<void> {
  try {
    const body = decodeBody(route, raw);
    const handler = HANDLERS[route.id];
    const result: HandlerResult = await handler({
      state,
      cp: state.cp,
      params,
      query: new URLSearchParams(info.query),
      ifMatch: info.ifMatch,
      body,
    });
    const status = result.status ?? route.statuses[0] ?? 200;
    const revision = result.revision ?? state.cp.current().revision;
    responder.success(status, result.data, revision);
    if (route.mutating) {
      // Successful mutations feed the runtime events ring (/v1/runtime/events/recent).
      const who = params['username'] !== undefined ? ` user=${params['username']}` : '';
      state.cp.recordEvent(`api_${route.id}`, `${info.method} ${route.path}${who} status=${status} revision=${revision.slice(0, 12)}`);
    }
  } catch (err) {
    responder.error(err);
  }
}
