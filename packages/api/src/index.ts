export * from './control-plane.js';
export { startApiServer, ApiListenError, type ApiServerOptions, type ApiServerHandle } from './server.js';
export type { ApiLogger } from './logger.js';
export { ApiError, API_ERROR_STATUS, API_ERROR_TRIGGERS, type ApiErrorCode } from './http/errors.js';
export { ROUTES, type RouteSpec, type RouteId, type HttpMethod, type BodyMode } from './routes.js';
export {
  REQUEST_SCHEMAS,
  RESPONSE_SCHEMAS,
  validateRequest,
  validateResponse,
  type RequestSchemaName,
  type ResponseSchemaName,
  type JsonSchema,
} from './schemas/index.js';
export { uwsEngine, uwsIsNative, UwsNativeMissingError } from './engine.js';
