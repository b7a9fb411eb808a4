// The LogReader over solstream_change_log: ranges and bounds from the primary, replays and
// snapshots optionally from a read replica (they are most of a gateway's reads: every resume and
// every snapshot). A replica that has not replayed far enough for a request is passed over for the
// primary, so a lagging replica never shortens a replay.
import { QueryTypes, Transaction } from 'sequelize';
import type { Database } from '../db/connection.ts';
import type { Topic } from '../db/schema.ts';
import { pruneChanges, readBounds, readChanges } from './change-log.ts';
import { readLogIdentity } from './log-identity.ts';
import {
  CursorExpiredError,
  InvalidCursorError,
  type Change,
  type LogBounds,
  type LogRange,
  type LogReader,
  type SnapshotQuery,
  type SnapshotResult,
} from './types.ts';

/** A change-log offset as the database issues it (a bigint's decimal string). */
const OFFSET = /^(0|[1-9][0-9]{0,18})$/;

interface PgClient {
  query(config: {
    text: string;
    values: unknown[];
    rowMode: 'array';
    types: typeof RAW_TEXT;
  }): Promise<{ rows: unknown[][]; fields: { name: string }[] }>;
}

/**
 * Snapshot rows are read as PostgreSQL's text for every column: toWireRow turns text into wire
 * values directly, where the driver's parsers would first build values it then converts again
 * (a Date per timestamp, then its ISO string).
 */
const RAW_TEXT = { getTypeParser: () => (text: string) => text };

/** Rows in array form (cheaper for the driver) as objects keyed by column name. */
function byName(rows: readonly unknown[][], names: readonly string[]): Record<string, unknown>[] {
  const out = new Array<Record<string, unknown>>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const values = rows[r] as unknown[];
    const row: Record<string, unknown> = {};
    for (let c = 0; c < names.length; c++) row[names[c] as string] = values[c];
    out[r] = row;
  }
  return out;
}

/** The pg client a Sequelize transaction runs on (Sequelize sets it, without typing it). */
function rawClient(transaction: Transaction): PgClient | null {
  const connection = (transaction as unknown as { connection?: { query?: unknown } }).connection;
  return connection !== undefined && typeof connection.query === 'function' ? (connection as PgClient) : null;
}

/** A snapshot query on a pg client: each field's text, by position (`text`) or keyed by name. */
function textQuery(client: PgClient): SnapshotQuery {
  const text = async (sql: string, bind: readonly unknown[]) => {
    const { rows, fields } = await client.query({ text: sql, values: [...bind], rowMode: 'array', types: RAW_TEXT });
    return { names: fields.map((f) => f.name), rows: rows as (string | null)[][] };
  };
  return Object.assign(
    async (sql: string, bind: readonly unknown[]) => {
      const { names, rows } = await text(sql, bind);
      return byName(rows, names);
    },
    { text },
  );
}

async function snapshotOn<T>(db: Database, read: (query: SnapshotQuery) => Promise<T>): Promise<SnapshotResult<T>> {
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
        ? textQuery(client)
        : (sql, bind) =>
            db.sequelize.query<Record<string, unknown>>(sql, {
              bind: [...bind],
              type: QueryTypes.SELECT,
              transaction,
            });
    const result = await read(query);
    return { cursor: bounds.newest, result };
  });
}

export interface DatabaseLogReaderOptions {
  /** A read replica of `primary` for replays and snapshots (SOLSTREAM_READ_REPLICA_URL). */
  readonly replica?: Database | null;
}

export async function openDatabaseLogReader(
  primary: Database,
  options: DatabaseLogReaderOptions = {},
): Promise<LogReader> {
  const replica = options.replica ?? null;
  const { epoch } = await readLogIdentity(primary);

  /** The replica's bounds when it has replayed at least `needed`, else the primary's. */
  const boundsFor = async (needed: bigint): Promise<{ db: Database; bounds: LogBounds }> => {
    if (replica !== null) {
      const bounds = await readBounds(replica);
      if (BigInt(bounds.newest) >= needed) return { db: replica, bounds };
    }
    return { db: primary, bounds: await readBounds(primary) };
  };

  return {
    epoch,
    bounds: () => readBounds(primary),
    read: (range: LogRange) => readChanges(primary, range),
    async replay(topic: Topic, after: string, upTo: string, limit: number): Promise<Change[]> {
      if (!OFFSET.test(after)) throw new InvalidCursorError(after);
      const needed = BigInt(after) > BigInt(upTo) ? BigInt(after) : BigInt(upTo);
      const { db, bounds } = await boundsFor(needed);
      if (BigInt(after) > BigInt(bounds.newest)) throw new InvalidCursorError(after);
      if (BigInt(after) < BigInt(bounds.prunedThrough)) throw new CursorExpiredError(after, bounds.prunedThrough);
      return readChanges(db, { after, upTo, topic, limit });
    },
    snapshot: (read) => snapshotOn(replica ?? primary, read),
    prune: (before: number) => pruneChanges(primary, before),
  };
}
