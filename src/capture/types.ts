// What change capture hands to the gateway: one committed change of one streamed table.
import type { Topic } from '../db/schema.ts';

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

/** A snapshot read and the change-log cursor it is consistent with. */
export interface SnapshotResult<T> {
  /** Every change with a cursor ≤ this is reflected in `result`; none after it is. */
  readonly cursor: string;
  readonly result: T;
}

/** Runs SQL inside the snapshot transaction (same dialect as the database). */
export type SnapshotQuery = (sql: string, bind: readonly unknown[]) => Promise<Record<string, unknown>[]>;

/**
 * Change capture as the gateway sees it: a hot stream of committed changes in cursor order, the
 * change log for replays, and consistent snapshots. One per process, shared by every connection.
 */
export interface ChangeFeed {
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
  /** Tells the reader that this process just committed changes (read them now rather than at the next poll). */
  poke(): void;
  /** True while the feed is receiving changes (listener connected / poller running). */
  isLive(): boolean;
  close(): Promise<void>;
}
