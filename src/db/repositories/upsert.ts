// Idempotent writes by natural key: storing the same on-chain update twice changes nothing (no row
// update, so no captured change either).
//  - state tables (escrows, listings, pools, …): insert, or update the given columns when any of
//    them differs; an identical row is left alone.
//  - append tables (swaps, sales, votes, …): insert unless a row with the same natural key exists.
// Rows go to the database in multi-row statements (one round trip per run of similar rows, not per
// row): the ingester writes thousands of rows a second and a round trip costs more than a row.
// The statements themselves, and how rows travel to each dialect, are in upsert-statements.ts.
import type { Transaction } from 'sequelize';
import type { Database } from '../connection.ts';
import { toStoredU64 } from '../rows.ts';
import { TABLES, type ColumnDef, type RowOf, type Topic } from '../schema.ts';
import { describeWriteError } from './errors.ts';
import { writeAppend, writeUpdate, writeUpsert, type Chunk, type Mode } from './upsert-statements.ts';

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
      // PostgreSQL: the value travels inside the rows' JSON (see upsert-statements.ts), as it is.
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
