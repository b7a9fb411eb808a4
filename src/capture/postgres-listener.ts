// PostgreSQL: LISTEN on the capture channel with pg-listen. Each committing transaction sends one
// notification (migrations/0007-statement-capture.ts): its changes whole when they are few and
// small, else only its cursor range, which is read from the change log. After a lost connection pg-listen reconnects and re-LISTENs; what was
// committed meanwhile is read from the change log, since NOTIFY keeps nothing for absent listeners.
import pgListen from 'pg-listen';
import type { Database } from '../db/connection.ts';
import { isTopic, type Topic } from '../db/schema.ts';
import { changeFromImage } from './change-log.ts';
import type { ChangeOp, LiveSink, LiveSource } from './types.ts';

/** Must match migrations/0002-change-capture.ts. */
export const CAPTURE_CHANNEL = 'solstream_changes';

/** One change in a notification. */
interface InlineChange {
  c: string;
  t: string;
  o: ChangeOp;
  r: Record<string, unknown>;
  /** The row before an update (null otherwise). */
  p: Record<string, unknown> | null;
  /** The chain slot (null for another writer's row). */
  s: number | null;
}

/** A transaction's notification: its cursor range, and its changes when they fit. */
interface Payload {
  v: 2;
  /** First and last cursor of the transaction. */
  f: string;
  l: string;
  ts: number;
  ch?: InlineChange[];
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
    if (payload.v !== 2 || typeof payload.l !== 'string') {
      sink.logger.warn({ payload: raw.slice(0, 200) }, 'ignoring a capture notification of an unknown format');
      return;
    }
    const inline = payload.ch;
    if (inline !== undefined) {
      sink.enqueue(() =>
        inline
          .filter((c) => isTopic(c.t))
          .map((c) => changeFromImage(c.c, c.t as Topic, c.o, c.r, payload.ts, c.p, c.s)),
      );
    } else {
      // Too many or too large for a payload: read the transaction's range from the log, in its place.
      void sink.catchUp(payload.l).catch(() => undefined);
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
