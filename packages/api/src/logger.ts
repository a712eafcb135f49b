/** The logging surface the API needs; the supervisor passes a winston child. */
export interface ApiLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export const silentLogger: ApiLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
