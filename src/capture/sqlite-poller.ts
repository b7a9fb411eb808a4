// SQLite has no NOTIFY: the change log is read right after this process writes (poke) and, for
// other processes' writes, every `pollMs` (an indexed range read that finds nothing is cheap).
import type { Database } from '../db/connection.ts';
import type { ChangeSource, FeedSink } from './feed.ts';

export function startSqlitePoller(db: Database, sink: FeedSink, pollMs: number): ChangeSource {
  let reading = false;
  let again = false;
  let closed = false;

  const read = (): void => {
    if (closed) return;
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    sink
      .catchUp()
      .then(() => sink.setLive(true))
      .catch((error: Error) => {
        sink.setLive(false);
        sink.logger.warn({ err: error.message }, 'reading the SQLite change log failed');
      })
      .finally(() => {
        reading = false;
        if (again) {
          again = false;
          read();
        }
      });
  };

  const timer = setInterval(read, pollMs);
  timer.unref();
  sink.setLive(true);

  return {
    poke: read,
    close: async () => {
      closed = true;
      clearInterval(timer);
    },
  };
}
