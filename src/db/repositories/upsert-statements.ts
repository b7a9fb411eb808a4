// The statements of upsertRows (upsert.ts), one per chunk of rows with the same columns: an
// upsert of state rows, an update of partial state rows, an insert of append rows not yet stored.
// Each returns how many rows it wrote, so that a write can be told from a no-op.
// On PostgreSQL a statement's rows travel as one JSON parameter (an array of rows, each an array
// of values), read back with jsonb_array_elements(), so its text depends only on its columns, not
// on how many rows it carries: planning a VALUES list costs time in proportion to its rows (4–5 ms
// for a few hundred). SQLite plans VALUES lists cheaply and gets them.
import { QueryTypes, type Transaction } from 'sequelize';
import type { Database } from '../connection.ts';
import { TABLES, type ColumnDef, type Topic } from '../schema.ts';

export type Mode = 'upsert' | 'update' | 'append';

/** Transactions that hold the append-rows lock (it is released at their end). */
const appendLocked = new WeakSet<Transaction>();

/** Rows with the same columns and mode and no natural key twice: one statement. */
export interface Chunk {
  readonly mode: Mode;
  readonly columns: readonly string[];
  readonly binds: unknown[][];
}

function quoteList(columns: readonly string[]): string {
  return columns.join(', ');
}

/** SQLite: `(…), (…)` placeholders for `rows` rows of `columns`. */
function valuesList(columns: readonly string[], rows: number): string {
  const out: string[] = [];
  let n = 1;
  for (let r = 0; r < rows; r++) {
    const params: string[] = [];
    for (let i = 0; i < columns.length; i++) params.push(`$${n++}`);
    out.push(`(${params.join(', ')})`);
  }
  return out.join(', ');
}

/**
 * The type a value is read back as from its JSON text. Without a length or precision: an explicit
 * cast to VARCHAR(44) would cut a longer value short in silence, where the assignment to the column
 * refuses it, as the column's own input does.
 */
function castOf(def: ColumnDef): string {
  switch (def.kind) {
    case 'u64':
      return 'numeric';
    case 'i64':
      return 'bigint';
    case 'int':
    case 'serial':
      return 'integer';
    case 'bool':
      return 'boolean';
    case 'timestamp':
      return 'timestamp';
    case 'json':
      return 'jsonb';
    case 'enum':
      return def.typeName ?? 'text';
    default:
      return 'varchar';
  }
}

/**
 * PostgreSQL: the rows as a subquery `v` with the given columns, for a FROM clause. One JSON text
 * for the whole statement, built by the engine's JSON.stringify (where array parameters would be
 * escaped element by element in JavaScript), parsed once as JSONB; each value is taken by its
 * position and cast. Rows are arrays rather than objects: json_populate_recordset hashes every
 * row's keys and parses JSON columns a second time, which cost PostgreSQL twice as much per row
 * (docs/benchmarks.md), and the keys' names no longer travel once per row.
 */
function jsonRows(topic: Topic, columns: readonly string[]): string {
  const defs: Readonly<Record<string, ColumnDef>> = TABLES[topic].columns;
  const values = columns.map((column, i) => {
    const def = defs[column] as ColumnDef;
    // A JSON null in a JSON column is SQL NULL, as for every other column.
    return def.kind === 'json' ? `NULLIF(e->${i}, 'null'::jsonb)` : `(e->>${i})::${castOf(def)}`;
  });
  return `(SELECT ${values.join(', ')} FROM jsonb_array_elements($1::jsonb) AS e) AS v (${quoteList(columns)})`;
}

/** The one bind parameter of `jsonRows`: the chunk's rows as a JSON array of value arrays. */
function jsonPayload(chunk: Chunk): string {
  const json = JSON.stringify(chunk.binds);
  // PostgreSQL text cannot hold NUL, and its JSON refuses \u0000. Sequelize writes NUL as the two
  // characters \0 in string parameters; a NUL anywhere in the rows gets the same treatment (an
  // escape preceded by an even run of backslashes is a NUL, an odd run makes it literal text).
  return json.includes('\\u0000') ? json.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\\\0') : json;
}

function distinct(db: Database, left: string, right: string): string {
  return db.dialect === 'postgres' ? `${left} IS DISTINCT FROM ${right}` : `${left} IS NOT ${right}`;
}

// The leading comment keeps Sequelize's SQLite dialect from running an INSERT or UPDATE with run(),
// which would drop the RETURNING rows that tell a write from a no-op.
// On PostgreSQL the rows are counted in the statement: one result row instead of one per row written.
async function returning(db: Database, sql: string, bind: unknown[], transaction: Transaction): Promise<number> {
  if (db.dialect === 'postgres') {
    const [counted] = await db.sequelize.query<{ n: number }>(
      `WITH written AS (${sql}) SELECT count(*)::int AS n FROM written`,
      { bind, transaction, type: QueryTypes.SELECT },
    );
    return counted?.n ?? 0;
  }
  const rows = await db.sequelize.query(`/* upsert */ ${sql}`, { bind, transaction, type: QueryTypes.SELECT });
  return rows.length;
}

/** State rows: insert, or update the given columns where any differs; returns the rows written. */
export async function writeUpsert(db: Database, topic: Topic, chunk: Chunk, transaction: Transaction): Promise<number> {
  const table = TABLES[topic];
  const { columns } = chunk;
  const key: readonly string[] = table.naturalKey;
  const updatable = columns.filter((c) => !key.includes(c));
  const touch = 'updated_at' in table.columns ? ', updated_at = CURRENT_TIMESTAMP' : '';
  const conflict =
    updatable.length === 0
      ? 'DO NOTHING'
      : `DO UPDATE SET ${updatable.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}${touch} WHERE ` +
        updatable.map((c) => distinct(db, `${topic}.${c}`, `EXCLUDED.${c}`)).join(' OR ');
  const onConflict = `ON CONFLICT (${key.join(', ')}) ${conflict} RETURNING id`;
  if (db.dialect === 'postgres') {
    const sql = `INSERT INTO ${topic} (${quoteList(columns)}) SELECT ${quoteList(columns)} FROM ${jsonRows(topic, columns)} ${onConflict}`;
    return returning(db, sql, [jsonPayload(chunk)], transaction);
  }
  const sql = `INSERT INTO ${topic} (${quoteList(columns)}) VALUES ${valuesList(columns, chunk.binds.length)} ${onConflict}`;
  return returning(db, sql, chunk.binds.flat(), transaction);
}

/**
 * Partial state rows: update the stored rows where a column differs, create none. Returns the rows
 * written and the rows stored at all (the rest are missing).
 */
export async function writeUpdate(
  db: Database,
  topic: Topic,
  chunk: Chunk,
  transaction: Transaction,
): Promise<{ written: number; existing: number }> {
  const table = TABLES[topic];
  const { columns } = chunk;
  const key: readonly string[] = table.naturalKey;
  const updatable = columns.filter((c) => !key.includes(c));
  const touch = 'updated_at' in table.columns ? ', updated_at = CURRENT_TIMESTAMP' : '';
  // PostgreSQL reads the rows from their JSON in place; SQLite from a VALUES list named v.
  const postgres = db.dialect === 'postgres';
  const values = postgres
    ? ''
    : `WITH v (${quoteList(columns)}) AS (VALUES ${valuesList(columns, chunk.binds.length)}) `;
  const source = postgres ? jsonRows(topic, columns) : 'v';
  const join = key.map((c) => `${topic}.${c} = v.${c}`).join(' AND ');
  const bind = postgres ? [jsonPayload(chunk)] : chunk.binds.flat();
  const written = await returning(
    db,
    `${values}UPDATE ${topic} SET ${updatable.map((c) => `${c} = v.${c}`).join(', ')}${touch} FROM ${source} ` +
      `WHERE ${join} AND (${updatable.map((c) => distinct(db, `${topic}.${c}`, `v.${c}`)).join(' OR ')}) RETURNING ${topic}.id`,
    bind,
    transaction,
  );
  if (written === chunk.binds.length) return { written, existing: written };
  const [found] = await db.sequelize.query<{ n: number | string }>(
    `${values}SELECT COUNT(*) AS n FROM ${topic} JOIN ${source} ON ${join}`,
    { bind, transaction, type: QueryTypes.SELECT },
  );
  return { written, existing: Number(found?.n ?? 0) };
}

/** Append rows: insert those whose natural key is not stored yet; returns the rows written. */
export async function writeAppend(db: Database, topic: Topic, chunk: Chunk, transaction: Transaction): Promise<number> {
  const key: readonly string[] = TABLES[topic].naturalKey;
  const { columns } = chunk;
  if (db.dialect === 'postgres' && !appendLocked.has(transaction)) {
    // The seed gives most append tables no unique key, so "already stored" is a lookup on the
    // natural key (indexed by migration 0004). A transaction-scoped advisory lock makes the
    // check-then-insert safe against a concurrent writer of the same event. One lock for every
    // append table, taken once per transaction: a lock per row cost more than the insert itself
    // (measured: ~60 µs a key, thousands per batch), and a writer's batch touches most append
    // tables anyway, while commits of captured changes are serialised by the capture trigger.
    await db.sequelize.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', {
      bind: ['solstream_append_rows'],
      transaction,
      type: QueryTypes.SELECT,
    });
    appendLocked.add(transaction);
  }
  const match = key.map((c) => `${topic}.${c} = v.${c}`).join(' AND ');
  // OFFSET 0 keeps PostgreSQL from turning NOT EXISTS into a hash anti-join, which reads the whole
  // table for every batch (measured: a sequential scan of all stored transactions per statement);
  // as a subplan it is one index lookup per row, whatever the table's size. (SQLite has no
  // anti-join to avoid, and no OFFSET without LIMIT.)
  if (db.dialect === 'postgres') {
    const sql =
      `INSERT INTO ${topic} (${quoteList(columns)}) SELECT ${quoteList(columns)} FROM ${jsonRows(topic, columns)} ` +
      `WHERE NOT EXISTS (SELECT 1 FROM ${topic} WHERE ${match} OFFSET 0) RETURNING id`;
    return returning(db, sql, [jsonPayload(chunk)], transaction);
  }
  const sql =
    `WITH v (${quoteList(columns)}) AS (VALUES ${valuesList(columns, chunk.binds.length)}) ` +
    `INSERT INTO ${topic} (${quoteList(columns)}) SELECT ${quoteList(columns)} FROM v ` +
    `WHERE NOT EXISTS (SELECT 1 FROM ${topic} WHERE ${match}) RETURNING id`;
  return returning(db, sql, chunk.binds.flat(), transaction);
}
