/** winston, one child per module. telemt's log levels map onto winston's. */
import winston from 'winston';

const LEVELS: Record<string, string> = {
  debug: 'debug',
  verbose: 'verbose',
  normal: 'info',
  info: 'info',
  warn: 'warn',
  error: 'error',
  silent: 'error',
};

export type Logger = winston.Logger;

export function createLogger(level: string, json = process.env['MTEDGE_LOG_FORMAT'] === 'json'): Logger {
  const format = json
    ? winston.format.combine(winston.format.timestamp(), winston.format.json())
    : winston.format.combine(
        winston.format.timestamp(),
        winston.format.printf((info) => {
          const { timestamp, level: lvl, message, module, ...rest } = info as Record<string, unknown>;
          const extra = Object.keys(rest).length > 0 ? ' ' + JSON.stringify(rest) : '';
          return `${String(timestamp)} ${String(lvl).toUpperCase()} [${String(module ?? 'main')}] ${String(message)}${extra}`;
        }),
      );
  return winston.createLogger({
    level: LEVELS[level] ?? 'info',
    format,
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'verbose', 'debug'] })],
  });
}
