// Structured logging: one line per event worth an operator's attention. JSON lines by default;
// human-readable (pino-pretty) on a terminal, or when asked for.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config.ts';

export type { Logger };

export function createLogger(
  config: Pick<Config, 'logLevel' | 'logFormat'>,
  name = 'solstream',
  stream: NodeJS.WriteStream = process.stdout,
): Logger {
  const options = { name, level: config.logLevel, base: { pid: process.pid } };
  const human = config.logFormat === 'pretty' || (config.logFormat === 'auto' && stream.isTTY === true);
  if (!human) return pino(options, stream);
  return pino(
    options,
    pretty({
      destination: stream,
      colorize: stream.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
    }),
  );
}

/** A logger that drops everything, for library use and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
