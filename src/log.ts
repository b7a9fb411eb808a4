// Structured logging: one JSON line per event worth an operator's attention (pretty enough on a TTY).
import { pino, type Logger } from 'pino';
import type { Config } from './config.ts';

export type { Logger };

export function createLogger(config: Pick<Config, 'logLevel'>, name = 'solstream'): Logger {
  return pino({ name, level: config.logLevel, base: { pid: process.pid } });
}

/** A logger that drops everything, for library use and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
