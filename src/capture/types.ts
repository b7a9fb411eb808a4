// What change capture hands to the gateway: one committed change of one streamed table.
import type { Topic } from '../db/schema.ts';
import type { Logger } from '../log.ts';

export type ChangeOp = 'insert' | 'update' | 'delete';

export interface Change {
  /**
   * Position in the change log. Cursors are assigned in commit order and only grow, so
   * "every change after cursor C" is well defined. Compared numerically (they are decimal strings
   * of a bigint so that they survive JSON without precision loss).
   */
  readonly cursor: string;
  readonly topic: Topic;
  readonly op: ChangeOp;
  /** The row after the change (before it, for a delete), already in wire form (see db/rows.ts). */
  readonly row: Readonly<Record<string, unknown>>;
  /** For an update, the row before it (wire form): lets a filtered view see a row enter or leave it. */
  readonly oldRow?: Readonly<Record<string, unknown>>;
  /** When the writing transaction committed (ms since epoch), for lag metrics. */
  readonly committedAt: number;
  /**
   * The chain slot the change came from: a row's own `slot` column, or the slot the ingester last
   * wrote the row at; null for a change no chain data made (another writer's row).
   */
  readonly slot: number | null;
}

/** Raised when a cursor is older than the change log's retention: the client must take a new snapshot. */
export class CursorExpiredError extends Error {
  constructor(
    readonly cursor: string,
    /** The oldest cursor from which a resume is still possible. */
    readonly oldest: string,
  ) {
    super(`cursor ${cursor} is older than the change log's retention (oldest resumable cursor is ${oldest})`);
    this.name = 'CursorExpiredError';
  }
}

/** Raised for a cursor that this database never issued (malformed, or newer than its newest change). */
export class InvalidCursorError extends Error {
  constructor(readonly cursor: string) {
    super(`"${cursor}" is not a cursor of this database`);
    this.name = 'InvalidCursorError';
  }
}

/**
 * Raised for a cursor tagged with another log's epoch: issued by another database, or by this one
 * before it was restored from a backup. Its offset means nothing here; the client must start over.
 */
export class CursorEpochMismatchError extends Error {
  constructor(
    readonly cursor: string,
    readonly epoch: string,
    readonly expected: string,
  ) {
    super(
      `cursor ${cursor} belongs to change log epoch ${epoch}, not to this database's (${expected}): ` +
        'it was issued by another database, or by this one before it was restored',
    );
    this.name = 'CursorEpochMismatchError';
  }
}

/** A snapshot read and the change-log cursor it is consistent with. */
export interface SnapshotResult<T> {
  /** Every change with a cursor ≤ this is reflected in `result`; none after it is. */
  readonly cursor: string;
  readonly result: T;
}

/**
 * Runs SQL inside the snapshot transaction (same dialect as the database). Values are as the driver
 * gives them (on PostgreSQL, the column's text): pass rows through toWireRow before use.
 */
export type SnapshotQuery = ((sql: string, bind: readonly unknown[]) => Promise<Record<string, unknown>[]>) & {
  /**
   * PostgreSQL only: the same query's rows as each field's text (null for NULL) with the field
   * names, for callers that convert the text straight to wire rows (toWireRows in db/rows.ts).
   */
  readonly text?: (sql: string, bind: readonly unknown[]) => Promise<TextRows>;
};

/** Rows as PostgreSQL's text per field. */
export interface TextRows {
  readonly names: readonly string[];
  readonly rows: (string | null)[][];
}

/** The change log's extent. */
export interface LogBounds {
  /** Cursor of the newest change (or of the newest pruned one when the log is empty). */
  readonly newest: string;
  /** Changes at or below this cursor were pruned; resuming from below it is impossible. */
  readonly prunedThrough: string;
}

/** A range of the change log: `after` < cursor ≤ `upTo`, oldest first, at most `limit`. */
export interface LogRange {
  /** Exclusive lower bound. */
  readonly after: string;
  /** Inclusive upper bound; none = up to the newest. */
  readonly upTo?: string;
  readonly topic?: Topic;
  readonly limit: number;
}

/**
 * The change log as a reader of it needs it: ranges, bounds, consistent snapshots. One
 * implementation reads the database (optionally a read replica for replays and snapshots); tests
 * use an in-memory one.
 */
export interface LogReader {
  /** The epoch of this log, carried by every cursor handed to clients (src/capture/log-identity.ts). */
  readonly epoch: string;
  bounds(): Promise<LogBounds>;
  /** A range from the authoritative log (the primary): what live sources catch up from. */
  read(range: LogRange): Promise<Change[]>;
  /**
   * Changes of `topic` with `after` < cursor ≤ `upTo`, for a client's resume; may be served by a
   * read replica that has caught up to `upTo`. Throws CursorExpiredError if `after` is older than
   * the retention, InvalidCursorError if it is malformed or beyond the newest change.
   */
  replay(topic: Topic, after: string, upTo: string, limit: number): Promise<Change[]>;
  /** Runs `read` in one consistent read transaction and returns the cursor that read reflects. */
  snapshot<T>(read: (query: SnapshotQuery) => Promise<T>): Promise<SnapshotResult<T>>;
  /** Deletes changes committed before `before` (ms since epoch); returns how many went. */
  prune(before: number): Promise<number>;
}

/** What a live source drives: the feed's one ordered queue of emits and catch-ups. */
export interface LiveSink {
  /**
   * Queues `produce` behind everything queued before it and emits what it returns; changes at or
   * below the current position are dropped. Every emit and catch-up goes through this one queue,
   * so a live change can never overtake a catch-up read and leave a gap.
   */
  enqueue(produce: () => readonly Change[] | Promise<readonly Change[]>): void;
  /**
   * Queues a read of the log after the current position (up to `through`, else until it is
   * exhausted), emitting as it goes. A queued emit behind it sees the position it reached.
   */
  catchUp(through?: string): Promise<void>;
  /** The cursor of the last change emitted (at the time the queue reaches the caller's work). */
  position(): string;
  /** The newest cursor in the change log now (a source's starting point). */
  newest(): Promise<string>;
  setLive(live: boolean): void;
  readonly logger: Logger;
}

/**
 * Where committed changes come from, in cursor order: PostgreSQL LISTEN, the SQLite poll, or a
 * JetStream consumer. A source reads the log itself only through the sink's catch-up.
 */
export interface LiveSource {
  /**
   * Starts delivering to `sink`; resolves with the position from which on every committed change
   * will reach the sink (everything at or below it is the log's past, served by replays).
   */
  start(sink: LiveSink): Promise<string>;
  /** This process just committed changes: look now rather than at the next poll. */
  poke(): void;
  close(): Promise<void>;
}

/**
 * Change capture as the gateway sees it: a hot stream of committed changes in cursor order, the
 * change log for replays, and consistent snapshots. One per process, shared by every connection.
 */
export interface ChangeFeed {
  /** The epoch of the change log (see LogReader.epoch). */
  readonly epoch: string;
  /** Every committed change of `topic`, in cursor order, from the moment of subscription (hot, shared). */
  topic$(topic: Topic): import('rxjs').Observable<Change>;
  /** Cursor of the last change emitted on the hot streams; every change ≤ it has been emitted. */
  position(): string;
  /**
   * Changes of `topic` with `after` < cursor ≤ `upTo`, oldest first, read from the change log; at
   * most `limit` (default 1000): when exactly `limit` come back, call again from the last cursor.
   * Throws CursorExpiredError if `after` is older than the retention, InvalidCursorError if it is
   * not a cursor of this database (malformed, or beyond the newest change).
   */
  replay(topic: Topic, after: string, upTo: string, limit?: number): Promise<Change[]>;
  /** Runs `read` in one consistent read transaction and returns the cursor that read reflects. */
  snapshot<T>(read: (query: SnapshotQuery) => Promise<T>): Promise<SnapshotResult<T>>;
  /** The newest committed cursor (one read, no transaction held). */
  newest(): Promise<string>;
  /** Tells the reader that this process just committed changes (read them now rather than at the next poll). */
  poke(): void;
  /** True while the feed is receiving changes (listener connected / poller running). */
  isLive(): boolean;
  close(): Promise<void>;
}
