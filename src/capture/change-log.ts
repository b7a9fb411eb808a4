// Reads and prunes solstream_change_log (created by migrations/0002-change-capture.ts).
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
  const pg = db.dialect === 'postgres';
  const bind: unknown[] = [options.after];
  const where = [pg ? 'cursor > $1::bigint' : 'cursor > CAST($1 AS INTEGER)'];
  if (options.upTo !== undefined) {
    bind.push(options.upTo);
    where.push(pg ? `cursor <= $${bind.length}::bigint` : `cursor <= CAST($${bind.length} AS INTEGER)`);
  }
  if (options.topic !== undefined) {
    bind.push(options.topic);
    where.push(`topic = $${bind.length}`);
  }
  bind.push(options.limit);
  const committedMs = pg
    ? 'floor(extract(epoch FROM committed_at) * 1000)::bigint AS committed_ms'
    : 'committed_at AS committed_ms';
  const rows = await db.sequelize.query<RawChange>(
    `SELECT CAST(cursor AS TEXT) AS cursor, topic, op, row, old_row, ${committedMs}, slot FROM solstream_change_log ` +
      // Qualified: a bare "cursor" here would name the TEXT alias above and sort 10 before 9.
      `WHERE ${where.join(' AND ')} ORDER BY solstream_change_log.cursor LIMIT $${bind.length}`,
    { bind, type: QueryTypes.SELECT, ...(options.transaction ? { transaction: options.transaction } : {}) },
  );
  return rows.map(toChange);
}

export async function readBounds(db: Database, transaction?: Transaction): Promise<LogBounds> {
  const [row] = await db.sequelize.query<{ newest: string | number; pruned_through: string | number }>(
    'SELECT CAST(COALESCE((SELECT MAX(cursor) FROM solstream_change_log), s.pruned_through) AS TEXT) AS newest, ' +
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
    const cutoff = pg ? 'committed_at < to_timestamp($1::double precision / 1000)' : 'committed_at < $1';
    const [top] = await db.sequelize.query<{ top: string | number | null; n: string | number }>(
      `SELECT CAST(MAX(cursor) AS TEXT) AS top, COUNT(*) AS n FROM solstream_change_log WHERE ${cutoff}`,
      { bind: [before], type: QueryTypes.SELECT, transaction },
    );
    if (top === undefined || top.top === null) return 0;
    // Delete by cursor, not by time: everything at or below the watermark goes, so the watermark
    // alone tells whether a resume cursor is still covered.
    const cast = pg ? '$1::bigint' : 'CAST($1 AS INTEGER)';
    await db.sequelize.query(`DELETE FROM solstream_change_log WHERE cursor <= ${cast}`, {
      bind: [top.top],
      transaction,
    });
    await db.sequelize.query(
      `UPDATE solstream_change_log_state SET pruned_through = ${cast} WHERE id = 1 AND pruned_through < ${cast}`,
      { bind: [top.top], transaction },
    );
    return Number(top.n);
  });
}
