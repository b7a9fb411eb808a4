// Idempotent writes by natural key: storing the same on-chain update twice changes nothing (no row
// update, so no captured change either).
//  - state tables (escrows, listings, pools, …): insert, or update the given columns when any of
//    them differs; an identical row is left alone.
//  - append tables (swaps, sales, votes, …): insert unless a row with the same natural key exists.
// Rows go to the database in multi-row statements (one round trip per run of similar rows, not per
// row): the ingester writes thousands of rows a second and a round trip costs more than a row.
// On PostgreSQL a statement's rows travel as one JSON parameter (an array of rows, each an array
// of values), read back with jsonb_array_elements(), so its text depends only on its columns, not
// on how many rows it carries: planning a VALUES list costs time in proportion to its rows (4–5 ms
// for a few hundred). SQLite plans VALUES lists cheaply and gets them.
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
      // PostgreSQL: the value travels inside the rows' JSON (see jsonRows), as it is.
      return db.dialect === 'postgres' ? value : JSON.stringify(value);
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

const requiredByTopic = new Map<Topic, readonly string[]>();

/**
 * Columns a new state row must have (NOT NULL, no database default): a row without one can only
 * update. The enum state columns default to their first label; id and the timestamps are generated.
 */
export function requiredColumns(topic: Topic): readonly string[] {
  let required = requiredByTopic.get(topic);
  if (required === undefined) {
    const defs: Readonly<Record<string, ColumnDef>> = TABLES[topic].columns;
    required = Object.entries(defs)
      .filter(([name, def]) => !def.nullable && def.kind !== 'serial' && def.kind !== 'enum' && !GENERATED.has(name))
      .map(([name]) => name);
    requiredByTopic.set(topic, required);
  }
  return required;
}

/** Most bound parameters per statement (SQLite's default bound is 32766, PostgreSQL's 65535). */
const MAX_PARAMETERS = 30_000;
/** Most rows per statement, so one statement's RETURNING list and parse stay small. */
const MAX_ROWS = 1000;

type Mode = 'upsert' | 'update' | 'append';

/** Transactions that hold the append-rows lock (it is released at their end). */
const appendLocked = new WeakSet<Transaction>();

/** Rows with the same columns and mode and no natural key twice: one statement. */
interface Chunk {
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
async function writeUpsert(db: Database, topic: Topic, chunk: Chunk, transaction: Transaction): Promise<number> {
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
async function writeUpdate(
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
async function writeAppend(db: Database, topic: Topic, chunk: Chunk, transaction: Transaction): Promise<number> {
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

/** How the rows of one table with one set of columns are written: the same for every such row. */
interface RowPlan {
  readonly mode: Mode;
  readonly columns: readonly string[];
  readonly kinds: readonly ColumnDef[];
  /** Positions of the natural key's columns in `columns`. */
  readonly keyIndexes: readonly number[];
  readonly maxRows: number;
}

/** Plans by table, then by the row's column list: a batch holds a handful of column sets. */
const plans = new Map<Topic, Map<string, RowPlan>>();

/** The plan for `record`'s columns, checked once per column set: unknown columns and missing keys throw. */
function planOf(topic: Topic, record: Record<string, unknown>): RowPlan {
  const table = TABLES[topic];
  const defs: Readonly<Record<string, ColumnDef>> = table.columns;
  // Every name is checked against the table, so no name holds the separator and two column lists
  // never share a signature.
  let signature = '';
  for (const column of Object.keys(record)) {
    if (record[column] === undefined || GENERATED.has(column)) continue;
    if (!Object.hasOwn(defs, column)) throw new RangeError(`${topic} has no column "${column}"`);
    signature += `${column},`;
  }
  let byColumns = plans.get(topic);
  if (byColumns === undefined) plans.set(topic, (byColumns = new Map()));
  const cached = byColumns.get(signature);
  if (cached !== undefined) return cached;

  const key: readonly string[] = table.naturalKey;
  const columns = signature.split(',').slice(0, -1);
  let mode: Mode;
  if (table.kind === 'append') {
    const missingKey = key.find((c) => !columns.includes(c));
    if (missingKey !== undefined) {
      throw new RangeError(`${topic} rows need ${key.join(', ')} (their natural key); ${missingKey} is missing`);
    }
    mode = 'append';
  } else {
    const partial = requiredColumns(topic).some((c) => !columns.includes(c));
    mode =
      partial && key.every((c) => columns.includes(c)) && columns.some((c) => !key.includes(c)) ? 'update' : 'upsert';
  }
  const plan: RowPlan = {
    mode,
    columns,
    kinds: columns.map((c) => defs[c] as ColumnDef),
    // A key column the row lacks (a state row without its pubkey) counts as NULL: no match.
    keyIndexes: key.map((c) => columns.indexOf(c)),
    maxRows: Math.min(MAX_ROWS, Math.max(1, Math.floor(MAX_PARAMETERS / Math.max(1, columns.length)))),
  };
  byColumns.set(signature, plan);
  return plan;
}

/**
 * Writes `rows` of `topic` idempotently, in one transaction (the caller's, or a new one). Rows use
 * seed column names; `id`, `created_at` and `updated_at` are filled by the database.
 * A state row that lacks a column a new row needs (e.g. an escrow's new state from a take-offer
 * transaction, without its amounts) is a *partial* row: it updates the stored row and never creates
 * one; when there is none yet it is counted as `missing`.
 * Rows are written as if one at a time, in order, in as few statements as that allows: rows with
 * the same columns go in one statement, except that a row whose natural key occurred earlier in
 * the call is written after it, in a later statement (one statement cannot touch a row twice, and
 * the second must see the first).
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

  // Plan every statement before writing anything, so that a bad value is refused up front.
  // A row's round is how often its natural key occurred before it in this call: round 0 holds
  // every first occurrence, round 1 every second one, and so on. Rows of one round have distinct
  // keys, so they do not depend on each other and go in one statement per column set whatever
  // their order (the ingester's rows alternate between full and partial, with and without optional
  // columns); rounds run in order, so a repeated key still sees the row before it.
  const rounds: Map<RowPlan, Chunk[]>[] = [];
  const occurrences = new Map<string, number>();
  for (const row of rows) {
    const record = row as Record<string, unknown>;
    const plan = planOf(topic, record);
    const { columns, kinds } = plan;
    const bind: unknown[] = new Array(columns.length);
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i] as string;
      bind[i] = toBind(db, kinds[i] as ColumnDef, column, record[column]);
    }
    // NULL never equals NULL in SQL, so a row with a NULL key part never matches another row.
    // Key values are strings or numbers of a column's one kind: joined with a character none of
    // them holds, they identify the row.
    let rowKey: string | null = '';
    for (const i of plan.keyIndexes) {
      const value = bind[i];
      if (value === null || value === undefined) {
        rowKey = null;
        break;
      }
      rowKey += `${String(value)}\u0001`;
    }
    let round = 0;
    if (rowKey !== null) {
      round = occurrences.get(rowKey) ?? 0;
      occurrences.set(rowKey, round + 1);
    }
    const groups = rounds[round] ?? (rounds[round] = new Map());
    let list = groups.get(plan);
    if (list === undefined) groups.set(plan, (list = []));
    let chunk = list.at(-1);
    if (chunk === undefined || chunk.binds.length >= plan.maxRows)
      list.push((chunk = { mode: plan.mode, columns, binds: [] }));
    chunk.binds.push(bind);
  }
  const chunks = rounds.flatMap((groups) => [...groups.values()].flat());

  const run = async (transaction: Transaction): Promise<UpsertResult> => {
    const result: UpsertResult = { written: 0, unchanged: 0, missing: 0 };
    for (const chunk of chunks) {
      const n = chunk.binds.length;
      try {
        if (chunk.mode === 'update') {
          const { written, existing } = await writeUpdate(db, topic, chunk, transaction);
          result.written += written;
          result.unchanged += existing - written;
          result.missing += n - existing;
        } else {
          const written =
            chunk.mode === 'append'
              ? await writeAppend(db, topic, chunk, transaction)
              : await writeUpsert(db, topic, chunk, transaction);
          result.written += written;
          result.unchanged += n - written;
        }
      } catch (error) {
        throw describeWriteError(error, topic);
      }
    }
    return result;
  };
  return options.transaction ? run(options.transaction) : db.sequelize.transaction(run);
}
