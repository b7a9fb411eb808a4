// Snapshots: the rows matching a filter, read in the change feed's consistent transaction so the
// returned cursor says exactly which changes they reflect. Websocket subscriptions and the REST
// routes both read through here, so a REST response can be followed by `subscribe … since`.
import type { ChangeFeed, SnapshotQuery } from '../capture/types.ts';
import type { Dialect } from '../config.ts';
import { TABLES, type Topic } from '../db/schema.ts';
import { toWireRow, toWireRows } from '../db/rows.ts';
import { formatCursor } from '../wire/cursor.ts';
import type { CompiledFilter } from './filters.ts';

/** A state-table snapshot would exceed its limit (websocket subscriptions refuse it rather than truncate). */
export class SnapshotTooLargeError extends Error {
  constructor(
    readonly topic: Topic,
    readonly limit: number,
  ) {
    super(`more than ${limit} ${topic} rows match; narrow the filter (or subscribe without a snapshot)`);
    this.name = 'SnapshotTooLargeError';
  }
}

export interface SnapshotRequest {
  readonly topic: Topic;
  readonly filter: CompiledFilter;
  /** State tables: the most rows returned; append tables: how many of the latest rows. */
  readonly limit: number;
  /** State tables only: throw SnapshotTooLargeError instead of truncating when more rows match. */
  readonly refuseTruncation: boolean;
}

export interface Snapshot {
  /** Matching rows in wire form, oldest first (ascending id). */
  readonly rows: Record<string, unknown>[];
  /** Every change ≤ cursor is reflected in `rows`, none after it (the wire cursor, tagged with the log's epoch). */
  readonly cursor: string;
  /** The same position as a change-log offset. */
  readonly offset: string;
  /** True when more rows matched than `limit` (state tables; append tables are "latest N" by design). */
  readonly truncated: boolean;
}

/** The SELECT for a snapshot; exported for the benchmark and tests. */
export function snapshotSql(request: SnapshotRequest, dialect: Dialect): { sql: string; bind: unknown[] } {
  const where = request.filter.toSql(dialect);
  const bind = [...where.bind];
  const condition = where.sql === '' ? '' : ` WHERE ${where.sql}`;
  const state = TABLES[request.topic].kind === 'state';
  // State: the first limit+1 rows by id (the extra one tells truncation). Append: the latest N.
  bind.push(state ? request.limit + 1 : request.limit);
  const order = state ? 'ASC' : 'DESC';
  return { sql: `SELECT * FROM "${request.topic}"${condition} ORDER BY id ${order} LIMIT $${bind.length}`, bind };
}

/** Reads the rows for `request` inside an open snapshot transaction. */
export async function readSnapshotRows(
  query: SnapshotQuery,
  dialect: Dialect,
  request: SnapshotRequest,
): Promise<{ rows: Record<string, unknown>[]; truncated: boolean }> {
  const { sql, bind } = snapshotSql(request, dialect);
  const { topic } = request;
  if (query.text !== undefined) {
    // PostgreSQL: each field's text, converted by position (no object per row in between).
    const { names, rows } = await query.text(sql, bind);
    const truncated = limitRows(rows, request);
    return { rows: toWireRows(topic, names, rows), truncated };
  }
  const raw = await query(sql, bind);
  const truncated = limitRows(raw, request);
  return { rows: raw.map((r) => toWireRow(topic, r) as Record<string, unknown>), truncated };
}

/** Cuts the extra row a state snapshot reads (or refuses), puts append rows oldest first; true when truncated. */
function limitRows(rows: unknown[], request: SnapshotRequest): boolean {
  const state = TABLES[request.topic].kind === 'state';
  let truncated = false;
  if (state && rows.length > request.limit) {
    if (request.refuseTruncation) throw new SnapshotTooLargeError(request.topic, request.limit);
    truncated = true;
    rows.length = request.limit;
  }
  if (!state) rows.reverse();
  return truncated;
}

export async function takeSnapshot(feed: ChangeFeed, dialect: Dialect, request: SnapshotRequest): Promise<Snapshot> {
  const { cursor, result } = await feed.snapshot((query) => readSnapshotRows(query, dialect, request));
  return { rows: result.rows, truncated: result.truncated, cursor: formatCursor(feed.epoch, cursor), offset: cursor };
}
