// SQLite has no NOTIFY: the change log is read right after this process writes (poke) and, for
// other processes' writes, every `pollMs` (an indexed range read that finds nothing is cheap).
import type { LiveSink, LiveSource } from './types.ts';

export function sqlitePoller(pollMs: number): LiveSource {
  let sink: LiveSink | null = null;
  let timer: NodeJS.Timeout | null = null;
  let reading = false;
  let again = false;
  let closed = false;

  const read = (): void => {
    if (closed || sink === null) return;
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    const target = sink;
    target
      .catchUp()
      .then(() => target.setLive(true))
      .catch((error: Error) => {
        target.setLive(false);
        target.logger.warn({ err: error.message }, 'reading the SQLite change log failed');
      })
      .finally(() => {
        reading = false;
        if (again) {
          again = false;
          read();
        }
      });
  };

  return {
    async start(given) {
      sink = given;
      // Start from the newest committed change; subscribers get older ones from snapshots and replays.
      const position = await given.newest();
      timer = setInterval(read, pollMs);
      timer.unref();
      given.setLive(true);
      return position;
    },
    poke: read,
    close: async () => {
      closed = true;
      if (timer !== null) clearInterval(timer);
    },
  };
}
