// PostgreSQL: LISTEN on the capture channel with pg-listen. Small changes arrive whole in the
// NOTIFY payload; larger ones (over the 8000-byte payload limit) are announced by cursor and read
// from the change log. After a lost connection pg-listen reconnects and re-LISTENs; what was
// committed meanwhile is read from the change log, since NOTIFY keeps nothing for absent listeners.
import pgListen from 'pg-listen';
import type { Database } from '../db/connection.ts';
import { isTopic } from '../db/schema.ts';
import { changeFromImage } from './change-log.ts';
import type { ChangeOp, LiveSink, LiveSource } from './types.ts';

/** Must match migrations/0002-change-capture.ts. */
export const CAPTURE_CHANNEL = 'solstream_changes';

interface Payload {
  c: string;
  t: string;
  o: ChangeOp;
  ts: number;
  r?: Record<string, unknown>;
  /** The row before an update (null otherwise). */
  p?: Record<string, unknown> | null;
}

export function postgresListener(db: Database): LiveSource {
  if (db.postgresUrl === null) throw new Error('the PostgreSQL listener needs a postgres:// database');
  const url = db.postgresUrl;
  let close: () => Promise<void> = async () => undefined;
  return {
    start: async (sink) => {
      const started = await startListening(url, sink);
      close = started.close;
      return started.position;
    },
    // Notifications already wake us at once; a poke has nothing to add on PostgreSQL.
    poke: () => undefined,
    close: () => close(),
  };
}

async function startListening(url: string, sink: LiveSink): Promise<{ position: string; close: () => Promise<void> }> {
  const subscriber = pgListen.default(
    { connectionString: url },
    // Reconnect for ever (retryTimeout 0 = no deadline): a database that comes back is caught up.
    {
      parse: (raw: string) => raw,
      retryLimit: Infinity,
      retryTimeout: 0,
      retryInterval: (attempt: number) => Math.min(100 * 2 ** attempt, 5000),
      paranoidChecking: 10_000,
    },
  );
  // While starting or reconnecting, notifications wait until the change log has been read up to
  // them: handled earlier, one would move the position past the changes missed while away.
  let starting = true;
  let holding = true;
  const held: string[] = [];

  const handle = (raw: string): void => {
    let payload: Payload;
    try {
      payload = JSON.parse(raw) as Payload;
    } catch {
      sink.logger.warn({ payload: raw.slice(0, 200) }, 'ignoring a malformed capture notification');
      return;
    }
    const { c: cursor, t: topic, o: op, ts, r: image, p: oldImage } = payload;
    if (!isTopic(topic)) return;
    if (image !== undefined) {
      sink.enqueue(() => [changeFromImage(cursor, topic, op, image, ts, oldImage ?? null)]);
    } else {
      // Too large for a payload: read it from the log, in its place in the queue.
      void sink.catchUp(cursor).catch(() => undefined);
    }
  };

  subscriber.notifications.on(CAPTURE_CHANNEL, (raw: string) => {
    if (holding) held.push(raw);
    else handle(raw);
  });
  subscriber.events.on('reconnect', (attempt: number) => {
    holding = true;
    sink.setLive(false);
    sink.logger.warn({ attempt }, 'change listener lost its PostgreSQL connection; reconnecting');
  });
  subscriber.events.on('connected', () => {
    if (starting) return;
    sink.logger.info('change listener reconnected; catching up from the change log');
    // pg-listen announces 'connected' after LISTEN, and notifications that came with the LISTEN
    // reply have already been delivered (held above). Queue the catch-up first, then them.
    sink.catchUp().then(
      () => sink.setLive(true),
      () => undefined,
    );
    holding = false;
    for (const raw of held.splice(0)) handle(raw);
  });
  subscriber.events.on('error', (error: Error) => {
    sink.setLive(false);
    sink.logger.error({ err: error.message }, 'change listener error');
  });

  await subscriber.connect();
  await subscriber.listenTo(CAPTURE_CHANNEL);
  // LISTEN is in place: every change after the newest committed one will be notified. (What is
  // queued now waits in the feed until it has taken this position.)
  const position = await sink.newest();
  starting = false;
  holding = false;
  for (const raw of held.splice(0)) handle(raw);
  sink.setLive(true);

  return {
    position,
    close: async () => {
      for (const event of ['reconnect', 'connected', 'error'] as const) subscriber.events.removeAllListeners(event);
      // An error while closing must not be unhandled.
      subscriber.events.on('error', () => undefined);
      await subscriber.close().catch(() => undefined);
    },
  };
}
