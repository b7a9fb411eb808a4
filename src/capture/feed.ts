// The process-wide ChangeFeed: one hot RxJS stream per topic, fed in cursor order by a LiveSource
// (PostgreSQL LISTEN, the SQLite poll, or JetStream), with replays and snapshots from a LogReader,
// and retention. One ordered queue carries every emit and catch-up, so the position only moves
// forward and a live change never overtakes a catch-up read.
import { Subject, type Observable } from 'rxjs';
import type { Config } from '../config.ts';
import type { Database } from '../db/connection.ts';
import { TOPICS, type Topic } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import { openDatabaseLogReader } from './log-reader.ts';
import { postgresListener } from './postgres-listener.ts';
import { sqlitePoller } from './sqlite-poller.ts';
import type { Change, ChangeFeed, LiveSink, LiveSource, LogReader, SnapshotQuery, SnapshotResult } from './types.ts';

/** Changes read from the log per query when catching up. */
export const CATCH_UP_PAGE = 1000;

export type CaptureOptions = Pick<Config, 'changeRetentionSeconds' | 'sqlitePollMs'>;

export interface ChangeFeedParts {
  readonly source: LiveSource;
  readonly reader: LogReader;
  readonly logger: Logger;
  /** Prune the log to this retention (every gateway does; pruning is idempotent). Null: never prune. */
  readonly retentionSeconds: number | null;
  /**
   * Start at this position instead of the source's: the log after it is read first, before
   * anything the source delivers (the relay resumes where the stream ends, not at the newest change).
   */
  readonly startAt?: string;
}

/** A feed from its two halves: the live source and the log reader. */
export async function createChangeFeed(parts: ChangeFeedParts): Promise<ChangeFeed> {
  const { source, reader, logger } = parts;
  const subjects = new Map<Topic, Subject<Change>>(TOPICS.map((t) => [t, new Subject<Change>()]));
  let position = 0n;
  let live = false;
  let closed = false;
  // Nothing queued while the source starts runs before the feed has taken the source's position.
  let started: () => void = () => undefined;
  let queue: Promise<void> = new Promise<void>((resolve) => (started = resolve));

  const emit = (changes: readonly Change[]): void => {
    for (const change of changes) {
      const cursor = BigInt(change.cursor);
      if (cursor <= position) continue;
      position = cursor;
      subjects.get(change.topic)?.next(change);
    }
  };

  let readFailing = false;

  /**
   * Runs `work` in its turn in the queue, retrying it there (with backoff) until it succeeds or the
   * feed closes: nothing queued behind a failed read may be emitted before it, or the position
   * would move past the changes it was to read. The returned promise rejects on the first failure,
   * so a caller can tell it failed; the queue keeps retrying.
   */
  const inTurn = (what: string, work: () => Promise<void>): Promise<void> => {
    let failedOnce: (error: Error) => void = () => undefined;
    const firstFailure = new Promise<never>((_, reject) => (failedOnce = reject));
    firstFailure.catch(() => undefined);
    const run = queue.then(async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await work();
          readFailing = false;
          return;
        } catch (error) {
          readFailing = true;
          failedOnce(error as Error);
          logger.warn({ err: (error as Error).message, attempt }, `${what} failed; retrying`);
          if (closed) return;
          await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 5000)).unref());
          if (closed) return;
        }
      }
    });
    queue = run;
    return Promise.race([run, firstFailure]);
  };

  const catchUp = (through?: string): Promise<void> =>
    inTurn('catching up from the change log', async () => {
      for (;;) {
        if (through !== undefined && BigInt(through) <= position) return;
        const page = await reader.read({
          after: position.toString(),
          ...(through !== undefined ? { upTo: through } : {}),
          limit: CATCH_UP_PAGE,
        });
        emit(page);
        if (page.length < CATCH_UP_PAGE) return;
      }
    });

  const enqueue = (produce: () => readonly Change[] | Promise<readonly Change[]>): void => {
    void inTurn('reading a change', async () => emit(await produce())).catch(() => undefined);
  };

  const sink: LiveSink = {
    enqueue,
    catchUp,
    position: () => position.toString(),
    newest: async () => (await reader.bounds()).newest,
    setLive: (v) => {
      // A read that finishes after close must not report the feed live again.
      if (!closed) live = v;
    },
    logger,
  };

  // Queued first, so it runs before anything the source queues while it starts; it reads from the
  // position taken below, once the queue opens (after this function has returned the feed, so a
  // subscriber attached right away sees what it reads).
  if (parts.startAt !== undefined) void catchUp().catch(() => undefined);
  const sourcePosition = await source.start(sink);
  position = BigInt(parts.startAt ?? sourcePosition);
  started();

  let pruneTimer: NodeJS.Timeout | null = null;
  if (parts.retentionSeconds !== null) {
    const retentionMs = parts.retentionSeconds * 1000;
    pruneTimer = setInterval(
      () => {
        reader
          .prune(Date.now() - retentionMs)
          .then((n) => n > 0 && logger.info({ pruned: n }, 'pruned change log'))
          .catch((error: Error) => logger.warn({ err: error.message }, 'change log pruning failed'));
      },
      Math.min(retentionMs / 10, 60_000),
    );
    pruneTimer.unref();
  }

  return {
    epoch: reader.epoch,
    topic$: (topic: Topic): Observable<Change> => {
      const subject = subjects.get(topic);
      if (subject === undefined) throw new Error(`unknown topic ${topic}`);
      return subject.asObservable();
    },
    position: () => position.toString(),
    replay: (topic: Topic, after: string, upTo: string, limit = CATCH_UP_PAGE): Promise<Change[]> =>
      reader.replay(topic, after, upTo, limit),
    snapshot: <T>(read: (query: SnapshotQuery) => Promise<T>): Promise<SnapshotResult<T>> => reader.snapshot(read),
    newest: async () => (await reader.bounds()).newest,
    poke: () => source.poke(),
    isLive: () => live && !readFailing,
    async close() {
      closed = true;
      live = false;
      if (pruneTimer !== null) clearInterval(pruneTimer);
      await source.close();
      await queue.catch(() => undefined);
      for (const subject of subjects.values()) subject.complete();
    },
  };
}

/**
 * `source`, plus a read of the log every `ms` in case a notification went missing (LISTEN keeps
 * nothing for a connection that was away; pg-listen's reconnect catches up, this covers the rest).
 */
export function withPollFallback(source: LiveSource, ms: number): LiveSource {
  let timer: NodeJS.Timeout | null = null;
  return {
    async start(sink) {
      const position = await source.start(sink);
      timer = setInterval(() => void sink.catchUp().catch(() => undefined), ms);
      timer.unref();
      return position;
    },
    poke: () => source.poke(),
    async close() {
      if (timer !== null) clearInterval(timer);
      await source.close();
    },
  };
}

/** The live source of direct mode: LISTEN on PostgreSQL, the poll on SQLite. */
export function directSource(db: Database, options: Pick<Config, 'sqlitePollMs'>): LiveSource {
  return db.dialect === 'postgres' ? postgresListener(db) : sqlitePoller(options.sqlitePollMs);
}

/** Direct mode: the database's own change log, read by this process's listener or poller. */
export async function openChangeFeed(db: Database, options: CaptureOptions, logger: Logger): Promise<ChangeFeed> {
  return createChangeFeed({
    source: directSource(db, options),
    reader: await openDatabaseLogReader(db),
    logger,
    retentionSeconds: options.changeRetentionSeconds,
  });
}
