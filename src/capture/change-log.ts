// Reads and prunes the change log. On SQLite it is the table solstream_change_log (created by
// migrations/0002-change-capture.ts); on PostgreSQL two tables (migrations/0009-single-write-log.ts):
// solstream_change_entries, a change per row under its transaction's batch and ordinal, and
// solstream_change_commits, a transaction per row with the range of cursors it drew at commit. A
// change's cursor is its batch's first cursor plus its ordinal. The queries here join the two on
// their indexes; the view of the same name shows them as one table to anyone else.
import { QueryTypes, type Transaction } from 'sequelize';
import type { Database } from '../db/connection.ts';
import { toWireRow } from '../db/rows.ts';
import { isTopic, type Topic } from '../db/schema.ts';
import type { Change, ChangeOp, LogBounds } from './types.ts';

export type { LogBounds };

interface RawChange {
  cursor: string | number;
  topic: string;
  op: string;
  row: unknown;
  old_row: unknown;
  committed_ms: string | number;
  slot: string | number | null;
}

function parseImage(image: unknown): Record<string, unknown> | null {
  if (image === null || image === undefined) return null;
  return typeof image === 'string'
    ? (JSON.parse(image) as Record<string, unknown>)
    : (image as Record<string, unknown>);
}

export function toChange(raw: RawChange): Change {
  if (!isTopic(raw.topic)) throw new Error(`change log holds an unknown topic "${raw.topic}"`);
  return changeFromImage(
    String(raw.cursor),
    raw.topic,
    raw.op as ChangeOp,
    parseImage(raw.row) ?? {},
    Number(raw.committed_ms),
    parseImage(raw.old_row),
    raw.slot === null ? null : Number(raw.slot),
  );
}

/** A row image as the capture trigger recorded it, turned into a Change (used for NOTIFY payloads). */
export function changeFromImage(
  cursor: string,
  topic: Topic,
  op: ChangeOp,
  image: Record<string, unknown>,
  committedAt: number,
  oldImage: Record<string, unknown> | null = null,
  slot: number | null = null,
): Change {
  const change = { cursor, topic, op, row: toWireRow(topic, image), committedAt, slot };
  return oldImage === null ? change : { ...change, oldRow: toWireRow(topic, oldImage) };
}

export interface ReadOptions {
  /** Exclusive lower bound. */
  readonly after: string;
  /** Inclusive upper bound. */
  readonly upTo?: string;
  readonly topic?: Topic;
  readonly limit: number;
  readonly transaction?: Transaction;
}

export async function readChanges(db: Database, options: ReadOptions): Promise<Change[]> {
  const rows = await db.sequelize.query<RawChange>(
    db.dialect === 'postgres' ? postgresRead(options) : sqliteRead(options),
    {
      bind: readBind(options),
      type: QueryTypes.SELECT,
      ...(options.transaction ? { transaction: options.transaction } : {}),
    },
  );
  return rows.map(toChange);
}

/** $1 after, $2 limit, then upTo and topic when given, in that order. */
function readBind(options: ReadOptions): unknown[] {
  const bind: unknown[] = [options.after, options.limit];
  if (options.upTo !== undefined) bind.push(options.upTo);
  if (options.topic !== undefined) bind.push(options.topic);
  return bind;
}

function postgresRead(options: ReadOptions): string {
  const upTo = options.upTo === undefined ? null : '$3::bigint';
  const topic = options.upTo === undefined ? '$3' : '$4';
  // Transactions whose range reaches past `after` (by last cursor, an index range), each one's
  // entries in order; the first may begin before `after`, so the entries are filtered too.
  const where = ['c.last_cursor > $1::bigint', 'c.first_cursor + e.ord > $1::bigint'];
  if (upTo !== null) where.push(`c.first_cursor <= ${upTo}`, `c.first_cursor + e.ord <= ${upTo}`);
  // The transactions that wrote the topic, from the index of their topics, then its entries in them.
  if (options.topic !== undefined) where.push(`c.topics @> ARRAY[${topic}::text]`, `e.topic = ${topic}`);
  return (
    'SELECT (c.first_cursor + e.ord)::text AS cursor, e.topic, e.op, e.row, e.old_row, ' +
    'floor(extract(epoch FROM c.committed_at) * 1000)::bigint AS committed_ms, e.slot ' +
    'FROM solstream_change_commits c JOIN solstream_change_entries e ON e.batch = c.batch ' +
    `WHERE ${where.join(' AND ')} ORDER BY c.last_cursor, e.ord LIMIT $2`
  );
}

function sqliteRead(options: ReadOptions): string {
  const where = ['cursor > CAST($1 AS INTEGER)'];
  if (options.upTo !== undefined) where.push('cursor <= CAST($3 AS INTEGER)');
  if (options.topic !== undefined) where.push(`topic = ${options.upTo === undefined ? '$3' : '$4'}`);
  return (
    'SELECT CAST(cursor AS TEXT) AS cursor, topic, op, row, old_row, committed_at AS committed_ms, slot ' +
    // Qualified: a bare "cursor" here would name the TEXT alias above and sort 10 before 9.
    `FROM solstream_change_log WHERE ${where.join(' AND ')} ORDER BY solstream_change_log.cursor LIMIT $2`
  );
}

const NEWEST_POSTGRES = 'SELECT MAX(last_cursor) FROM solstream_change_commits';
const NEWEST_SQLITE = 'SELECT MAX(cursor) FROM solstream_change_log';

export async function readBounds(db: Database, transaction?: Transaction): Promise<LogBounds> {
  const [row] = await db.sequelize.query<{ newest: string | number; pruned_through: string | number }>(
    `SELECT CAST(COALESCE((${db.dialect === 'postgres' ? NEWEST_POSTGRES : NEWEST_SQLITE}), s.pruned_through) AS TEXT) AS newest, ` +
      'CAST(s.pruned_through AS TEXT) AS pruned_through FROM solstream_change_log_state s WHERE s.id = 1',
    { type: QueryTypes.SELECT, ...(transaction ? { transaction } : {}) },
  );
  if (row === undefined) throw new Error('solstream_change_log_state is empty: run `solstream migrate up`');
  const newest = BigInt(row.newest) > BigInt(row.pruned_through) ? String(row.newest) : String(row.pruned_through);
  return { newest, prunedThrough: String(row.pruned_through) };
}

/** Deletes changes committed before `before` (ms since epoch) and moves the pruned watermark. Returns how many went. */
export async function pruneChanges(db: Database, before: number): Promise<number> {
  return db.sequelize.transaction(async (transaction) => {
    const pg = db.dialect === 'postgres';
    const [top] = await db.sequelize.query<{ top: string | number | null; n: string | number }>(
      pg
        ? 'SELECT CAST(MAX(last_cursor) AS TEXT) AS top, COALESCE(SUM(last_cursor - first_cursor + 1), 0) AS n ' +
            'FROM solstream_change_commits WHERE committed_at < to_timestamp($1::double precision / 1000)'
        : 'SELECT CAST(MAX(cursor) AS TEXT) AS top, COUNT(*) AS n FROM solstream_change_log WHERE committed_at < $1',
      { bind: [before], type: QueryTypes.SELECT, transaction },
    );
    if (top === undefined || top.top === null) return 0;
    // Delete by cursor, not by time: everything at or below the watermark goes, so the watermark
    // alone tells whether a resume cursor is still covered. (A transaction's cursors are one
    // range, so on PostgreSQL whole transactions go.)
    const deletes = pg
      ? [
          'DELETE FROM solstream_change_entries e USING solstream_change_commits c ' +
            'WHERE e.batch = c.batch AND c.last_cursor <= $1::bigint',
          'DELETE FROM solstream_change_commits WHERE last_cursor <= $1::bigint',
        ]
      : ['DELETE FROM solstream_change_log WHERE cursor <= CAST($1 AS INTEGER)'];
    for (const sql of deletes) await db.sequelize.query(sql, { bind: [top.top], transaction });
    const cast = pg ? '$1::bigint' : 'CAST($1 AS INTEGER)';
    await db.sequelize.query(
      `UPDATE solstream_change_log_state SET pruned_through = ${cast} WHERE id = 1 AND pruned_through < ${cast}`,
      { bind: [top.top], transaction },
    );
    return Number(top.n);
  });
}
