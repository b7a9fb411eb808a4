// Idempotent writes by natural key: storing the same on-chain update twice changes nothing (no row
// update, so no captured change either).
//  - state tables (escrows, listings, pools, …): insert, or update the given columns when any of
//    them differs; an identical row is left alone.
//  - append tables (swaps, sales, votes, …): insert unless a row with the same natural key exists.
import { QueryTypes, type Transaction } from 'sequelize';
import type { Database } from '../connection.ts';
import { toStoredU64 } from '../rows.ts';
import { TABLES, type ColumnDef, type RowOf, type Topic } from '../schema.ts';
import { describeWriteError } from './errors.ts';

export interface UpsertResult {
  /** Rows inserted or changed. */
  written: number;
  /** Rows already stored exactly as given. */
  unchanged: number;
  /** Partial state rows (see upsertRows) whose row does not exist yet: nothing was written for them. */
  missing: number;
}

export interface UpsertOptions {
  readonly transaction?: Transaction;
}

/** Columns the database fills; a caller's values for them are ignored. */
const GENERATED = new Set(['id', 'created_at', 'updated_at']);

function toBind(db: Database, def: ColumnDef, column: string, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (def.kind) {
    case 'u64':
      return toStoredU64(value, column);
    case 'bool':
      return db.dialect === 'postgres' ? Boolean(value) : value ? 1 : 0;
    case 'json':
      return JSON.stringify(value);
    case 'timestamp': {
      const date = value instanceof Date ? value : new Date(value as string | number);
      if (Number.isNaN(date.getTime())) throw new RangeError(`${column} is not a valid timestamp: ${String(value)}`);
      // UTC without a zone, the way the TIMESTAMP columns hold it on both dialects.
      return date.toISOString().replace('T', ' ').replace('Z', '');
    }
    case 'i64':
    case 'int':
    case 'serial': {
      const n = typeof value === 'bigint' ? Number(value) : Number(value);
      if (!Number.isSafeInteger(n)) throw new RangeError(`${column} must be an integer, got ${String(value)}`);
      return n;
    }
    default:
      return String(value);
  }
}

function upsertSql(db: Database, topic: Topic, columns: string[]): string {
  const table = TABLES[topic];
  const pg = db.dialect === 'postgres';
  const placeholders = columns.map((_, i) => `$${i + 1}`);
  const key: readonly string[] = table.naturalKey;
  if (table.kind === 'state') {
    const updatable = columns.filter((c) => !key.includes(c));
    const touch = 'updated_at' in table.columns ? ', updated_at = CURRENT_TIMESTAMP' : '';
    const conflict = updatable.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${updatable.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}${touch} WHERE ` +
      updatable.map((c) => (pg ? `${topic}.${c} IS DISTINCT FROM EXCLUDED.${c}` : `${topic}.${c} IS NOT EXCLUDED.${c}`)).join(' OR ');
    return `INSERT INTO ${topic} (${columns.join(', ')}) VALUES (${placeholders.join(', ')}) ON CONFLICT (${key.join(', ')}) ${conflict} RETURNING id`;
  }
  // Append tables: the seed gives most of them no unique key, so "already stored" is a lookup on
  // the natural key (indexed by migration 0004); on PostgreSQL an advisory lock on the key makes the
  // check-then-insert safe against a concurrent writer of the same event.
  const match = key.map((c) => {
    const i = columns.indexOf(c);
    if (i < 0) throw new RangeError(`${topic} rows need ${key.join(', ')} (their natural key); ${c} is missing`);
    return `${c} = $${i + 1}`;
  });
  const source = pg ? `SELECT ${placeholders.map((p, i) => `${p}::${pgCast(topic, columns[i] as string)}`).join(', ')}` : `SELECT ${placeholders.join(', ')}`;
  return `INSERT INTO ${topic} (${columns.join(', ')}) ${source} WHERE NOT EXISTS (SELECT 1 FROM ${topic} WHERE ${match.join(' AND ')}) RETURNING id`;
}

// INSERT … SELECT gives parameters no column to infer a type from, so PostgreSQL needs casts.
function pgCast(topic: Topic, column: string): string {
  const def: ColumnDef | undefined = (TABLES[topic].columns as Readonly<Record<string, ColumnDef>>)[column];
  switch (def?.kind) {
    case 'u64':
      return 'numeric';
    case 'i64':
      return 'bigint';
    case 'int':
    case 'serial':
      return 'integer';
    case 'bool':
      return 'boolean';
    case 'json':
      return 'jsonb';
    case 'timestamp':
      return 'timestamp';
    case 'enum':
      return def.typeName ?? 'text';
    default:
      return 'text';
  }
}

/**
 * Columns a new row of `topic` cannot do without: NOT NULL and no database default (the enum state
 * columns default to their first label; id and the timestamps are generated).
 */
function requiredColumns(topic: Topic): string[] {
  const defs: Readonly<Record<string, ColumnDef>> = TABLES[topic].columns;
  return Object.entries(defs)
    .filter(([name, def]) => !def.nullable && def.kind !== 'serial' && def.kind !== 'enum' && !GENERATED.has(name))
    .map(([name]) => name);
}

function updateSql(db: Database, topic: Topic, columns: string[]): string {
  const table = TABLES[topic];
  const pg = db.dialect === 'postgres';
  const key: readonly string[] = table.naturalKey;
  const param = (c: string) => {
    const i = columns.indexOf(c) + 1;
    return pg ? `$${i}::${pgCast(topic, c)}` : `$${i}`;
  };
  const updatable = columns.filter((c) => !key.includes(c));
  const touch = 'updated_at' in table.columns ? ', updated_at = CURRENT_TIMESTAMP' : '';
  const differs = updatable.map((c) => (pg ? `${c} IS DISTINCT FROM ${param(c)}` : `${c} IS NOT ${param(c)}`));
  return (
    `UPDATE ${topic} SET ${updatable.map((c) => `${c} = ${param(c)}`).join(', ')}${touch} ` +
    `WHERE ${key.map((c) => `${c} = ${param(c)}`).join(' AND ')} AND (${differs.join(' OR ')}) RETURNING id`
  );
}

/**
 * Writes `rows` of `topic` idempotently, in one transaction (the caller's, or a new one). Rows use
 * seed column names; `id`, `created_at` and `updated_at` are filled by the database.
 * A state row that lacks a column a new row needs (e.g. an escrow's new state from a take-offer
 * transaction, without its amounts) is a *partial* row: it updates the stored row and never creates
 * one; when there is none yet it is counted as `missing`.
 * A constraint violation throws a WriteError naming the table, column or key, and nothing of this
 * call is kept.
 */
export async function upsertRows<T extends Topic>(
  db: Database,
  topic: T,
  rows: readonly Partial<RowOf<T>>[],
  options: UpsertOptions = {},
): Promise<UpsertResult> {
  if (rows.length === 0) return { written: 0, unchanged: 0, missing: 0 };
  const table = TABLES[topic];
  const defs: Readonly<Record<string, ColumnDef>> = table.columns;
  const required = table.kind === 'state' ? requiredColumns(topic) : [];
  const run = async (transaction: Transaction): Promise<UpsertResult> => {
    const result: UpsertResult = { written: 0, unchanged: 0, missing: 0 };
    for (const row of rows) {
      const record = row as Record<string, unknown>;
      const columns = Object.keys(record).filter((c) => !GENERATED.has(c) && record[c] !== undefined);
      for (const c of columns) {
        if (defs[c] === undefined) throw new RangeError(`${topic} has no column "${c}"`);
      }
      const bind = columns.map((c) => toBind(db, defs[c] as ColumnDef, c, record[c]));
      if (table.kind === 'append' && db.dialect === 'postgres') {
        const key = table.naturalKey.map((c) => String(record[c])).join('\u0000');
        await db.sequelize.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', {
          bind: [`${topic}\u0000${key}`],
          transaction,
        });
      }
      const partial = required.some((c) => !columns.includes(c));
      const key: readonly string[] = table.naturalKey;
      if (partial && key.every((c) => columns.includes(c)) && columns.some((c) => !key.includes(c))) {
        try {
          const updated = await db.sequelize.query(`/* update */ ${updateSql(db, topic, columns)}`, {
            bind,
            transaction,
            type: QueryTypes.SELECT,
          });
          if (updated.length > 0) {
            result.written += 1;
            continue;
          }
          const where = key.map((c) => `${c} = $${columns.indexOf(c) + 1}`).join(' AND ');
          const existing = await db.sequelize.query(`SELECT 1 AS found FROM ${topic} WHERE ${where}`, {
            bind: key.map((c) => bind[columns.indexOf(c)]),
            transaction,
            type: QueryTypes.SELECT,
          });
          if (existing.length > 0) result.unchanged += 1;
          else result.missing += 1;
        } catch (error) {
          throw describeWriteError(error, topic);
        }
        continue;
      }
      try {
        // The leading comment keeps Sequelize's SQLite dialect from running an INSERT with run(),
        // which would drop the RETURNING rows that tell a write from a no-op.
        const returned = await db.sequelize.query(`/* upsert */ ${upsertSql(db, topic, columns)}`, {
          bind,
          transaction,
          type: QueryTypes.SELECT,
        });
        if (returned.length > 0) result.written += 1;
        else result.unchanged += 1;
      } catch (error) {
        throw describeWriteError(error, topic);
      }
    }
    return result;
  };
  return options.transaction ? run(options.transaction) : db.sequelize.transaction(run);
}
