// The process-wide ChangeFeed: one hot RxJS stream per topic, fed in cursor order from the change
// log by a PostgreSQL NOTIFY listener or an SQLite poller, plus replays, snapshots and retention.
import { Subject, type Observable } from 'rxjs';
import { QueryTypes, Transaction } from 'sequelize';
import type { Config } from '../config.ts';
import type { Database } from '../db/connection.ts';
import { TOPICS, type Topic } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import { pruneChanges, readBounds, readChanges } from './change-log.ts';
import { startPostgresListener } from './postgres-listener.ts';
import { startSqlitePoller } from './sqlite-poller.ts';
import {
  CursorExpiredError,
  InvalidCursorError,
  type Change,
  type ChangeFeed,
  type SnapshotQuery,
  type SnapshotResult,
} from './types.ts';

/** Changes read from the log per query when catching up. */
export const CATCH_UP_PAGE = 1000;

/** What a source (listener or poller) drives. */
export interface FeedSink {
  /**
   * Queues `produce` behind everything queued before it and emits what it returns; changes at or
   * below the current position are dropped. Every emit and catch-up goes through this one queue,
   * so a live notification can never overtake a catch-up read and leave a gap.
   */
  enqueue(produce: () => readonly Change[] | Promise<readonly Change[]>): void;
  /** Reads the log after the current position until it is exhausted, emitting as it goes. */
  catchUp(): Promise<void>;
  setLive(live: boolean): void;
  readonly logger: Logger;
}

export interface ChangeSource {
  poke(): void;
  close(): Promise<void>;
}

export type CaptureOptions = Pick<Config, 'changeRetentionSeconds' | 'sqlitePollMs'>;

const CURSOR = /^(0|[1-9][0-9]{0,18})$/;

interface PgClient {
  query<R>(config: { text: string; values: unknown[] }): Promise<{ rows: R[] }>;
}

/** The pg client a Sequelize transaction runs on (Sequelize sets it, without typing it). */
function rawClient(transaction: Transaction): PgClient | null {
  const connection = (transaction as unknown as { connection?: { query?: unknown } }).connection;
  return connection !== undefined && typeof connection.query === 'function' ? (connection as PgClient) : null;
}

export async function openChangeFeed(db: Database, options: CaptureOptions, logger: Logger): Promise<ChangeFeed> {
  const subjects = new Map<Topic, Subject<Change>>(TOPICS.map((t) => [t, new Subject<Change>()]));
  let position = 0n;
  let live = false;
  let closed = false;
  // Catch-ups run one at a time, in order with emits, so the position only moves forward.
  let queue: Promise<void> = Promise.resolve();

  const emit = (changes: readonly Change[]): void => {
    for (const change of changes) {
      const cursor = BigInt(change.cursor);
      if (cursor <= position) continue;
      position = cursor;
      subjects.get(change.topic)?.next(change);
    }
  };

  const enqueue = (produce: () => readonly Change[] | Promise<readonly Change[]>): void => {
    queue = queue
      .then(async () => emit(await produce()))
      .catch((error: Error) => {
        // A change we could not read is not skipped: read the log again from the position.
        logger.error({ err: error.message }, 'reading a change failed; catching up from the change log');
        void catchUp();
      });
  };

  const catchUp = (): Promise<void> => {
    const run = queue.then(async () => {
      for (;;) {
        const page = await readChanges(db, { after: position.toString(), limit: CATCH_UP_PAGE });
        emit(page);
        if (page.length < CATCH_UP_PAGE) return;
      }
    });
    // The queue itself never stays rejected: a failed catch-up is retried until the log answers.
    queue = run.catch((error: Error) => {
      logger.warn({ err: error.message }, 'catching up from the change log failed; retrying');
      if (!closed) setTimeout(() => void catchUp().catch(() => undefined), 1000).unref();
    });
    return run;
  };

  const sink: FeedSink = {
    enqueue,
    catchUp,
    setLive: (v) => {
      // A read that finishes after close must not report the feed live again.
      if (!closed) live = v;
    },
    logger,
  };

  // Start from the newest committed change; subscribers get older ones from snapshots and replays.
  const source: ChangeSource =
    db.dialect === 'postgres'
      ? await startPostgresListener(db, sink, async () => {
          position = BigInt((await readBounds(db)).newest);
        })
      : await (async () => {
          position = BigInt((await readBounds(db)).newest);
          return startSqlitePoller(db, sink, options.sqlitePollMs);
        })();

  const retentionMs = options.changeRetentionSeconds * 1000;
  const pruneEvery = Math.min(retentionMs / 10, 60_000);
  const pruneTimer = setInterval(() => {
    pruneChanges(db, Date.now() - retentionMs)
      .then((n) => n > 0 && logger.info({ pruned: n }, 'pruned change log'))
      .catch((error: Error) => logger.warn({ err: error.message }, 'change log pruning failed'));
  }, pruneEvery);
  pruneTimer.unref();

  return {
    topic$: (topic: Topic): Observable<Change> => {
      const subject = subjects.get(topic);
      if (subject === undefined) throw new Error(`unknown topic ${topic}`);
      return subject.asObservable();
    },
    position: () => position.toString(),
    async replay(topic: Topic, after: string, upTo: string, limit = CATCH_UP_PAGE): Promise<Change[]> {
      if (!CURSOR.test(after)) throw new InvalidCursorError(after);
      const bounds = await readBounds(db);
      if (BigInt(after) > BigInt(bounds.newest)) throw new InvalidCursorError(after);
      if (BigInt(after) < BigInt(bounds.prunedThrough)) throw new CursorExpiredError(after, bounds.prunedThrough);
      return readChanges(db, { after, upTo, topic, limit });
    },
    async snapshot<T>(read: (query: SnapshotQuery) => Promise<T>): Promise<SnapshotResult<T>> {
      const txOptions =
        db.dialect === 'postgres'
          ? { isolationLevel: Transaction.ISOLATION_LEVELS.REPEATABLE_READ, readOnly: true }
          : { type: Transaction.TYPES.DEFERRED };
      return db.sequelize.transaction(txOptions, async (transaction) => {
        // In one snapshot, the newest visible cursor marks exactly the changes the rows reflect
        // (commit-ordered cursors: the visible ones are always a prefix of the log).
        const bounds = await readBounds(db, transaction);
        // On PostgreSQL the rows are read straight from the transaction's pg client (same
        // connection, same type parsers): Sequelize's per-row result handling was a third of a
        // 10,000-row snapshot's time.
        const client = db.dialect === 'postgres' ? rawClient(transaction) : null;
        const query: SnapshotQuery =
          client !== null
            ? async (sql, bind) => (await client.query<Record<string, unknown>>({ text: sql, values: [...bind] })).rows
            : (sql, bind) =>
                db.sequelize.query<Record<string, unknown>>(sql, {
                  bind: [...bind],
                  type: QueryTypes.SELECT,
                  transaction,
                });
        const result = await read(query);
        return { cursor: bounds.newest, result };
      });
    },
    poke: () => source.poke(),
    isLive: () => live,
    async close() {
      closed = true;
      live = false;
      clearInterval(pruneTimer);
      await source.close();
      await queue.catch(() => undefined);
      for (const subject of subjects.values()) subject.complete();
    },
  };
}
