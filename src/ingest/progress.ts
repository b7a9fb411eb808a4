// Backfill progress: a self-rewriting line on a TTY, a structured log line every few seconds otherwise.
import type { Logger } from '../log.ts';

const LOG_EVERY_MS = 5000;

export interface Progress {
  advance(n: number): void;
  finish(): void;
}

export function backfillProgress(
  logger: Logger,
  label: { program: string; name: string },
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  const started = Date.now();
  let done = 0;
  let lastLog = started;
  const rate = () => Math.round((done * 1000) / Math.max(1, Date.now() - started));
  const tty = stream.isTTY === true;
  const draw = () => stream.write(`\r\x1b[2Kbackfill ${label.name}: ${done}/${total} transactions (${rate()}/s)`);
  return {
    advance(n) {
      done += n;
      if (tty) draw();
      else if (Date.now() - lastLog >= LOG_EVERY_MS) {
        lastLog = Date.now();
        logger.info({ ...label, done, total, perSecond: rate() }, 'backfill progress');
      }
    },
    finish() {
      if (tty) {
        draw();
        stream.write('\n');
      }
      logger.info({ ...label, done, total, perSecond: rate(), ms: Date.now() - started }, 'backfill done');
    },
  };
}
