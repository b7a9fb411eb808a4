// Subscription filters: validated against the topic's columns (src/db/schema.ts), then compiled once
// into a predicate over wire rows (for the live stream) and a parameterised WHERE clause (for
// snapshots and REST), so the stream and the snapshot agree on what "matches" means.
import type { Dialect } from '../config.ts';
import { columnDef, type ColumnDef, type ColumnKind, type Topic } from '../db/schema.ts';
import { toU64String } from '../db/rows.ts';
import type { Filter } from '../wire/protocol.ts';

/** A filter that cannot be applied; the message names the column. */
export class FilterError extends Error {
  constructor(
    message: string,
    readonly column?: string,
  ) {
    super(message);
    this.name = 'FilterError';
  }
}

export interface SqlWhere {
  /** Conditions joined with AND, or '' when the filter is empty. Placeholders are `$n`. */
  readonly sql: string;
  readonly bind: readonly unknown[];
}

export interface CompiledFilter {
  readonly topic: Topic;
  /** The filter as given, normalised (u64 values canonical, timestamps ISO); safe to echo or log. */
  readonly source: Filter;
  /** Equal for filters that match the same rows as written (topic and normalised source). */
  readonly key: string;
  /** True when every row matches. */
  readonly matchesAll: boolean;
  /**
   * A column the filter requires to be exactly `value` (its first equality), or null: only a row
   * (or the row before it) with that value can be in the view, so fan-out looks subscribers up by it.
   */
  readonly equality: { readonly column: string; readonly value: Value } | null;
  /** Evaluates the filter on a wire row (see db/rows.ts). */
  matches(row: Readonly<Record<string, unknown>>): boolean;
  /** The WHERE condition for `dialect`, with placeholders numbered from `firstParam`. */
  toSql(dialect: Dialect, firstParam?: number): SqlWhere;
}

export interface CompileOptions {
  /** Accept strings for numbers and booleans (REST query strings carry only strings). */
  readonly coerceStrings?: boolean;
}

/** Most values accepted in one `{"in":[…]}`. */
export const MAX_IN_VALUES = 1000;

const NUMERIC_KINDS: ReadonlySet<ColumnKind> = new Set(['serial', 'i64', 'int', 'u64']);
const RANGE_OPS = ['gt', 'gte', 'lt', 'lte'] as const;
type RangeOp = (typeof RANGE_OPS)[number];
const SQL_OPS: Record<RangeOp, string> = { gt: '>', gte: '>=', lt: '<', lte: '<=' };

type Value = string | number | boolean;

type Clause =
  | { readonly column: string; readonly def: ColumnDef; readonly op: 'isnull' }
  | { readonly column: string; readonly def: ColumnDef; readonly op: 'eq'; readonly value: Value }
  | { readonly column: string; readonly def: ColumnDef; readonly op: 'in'; readonly values: readonly Value[] }
  | { readonly column: string; readonly def: ColumnDef; readonly op: RangeOp; readonly value: Value };

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const BASE58_INDEX = new Map([...BASE58].map((ch, i) => [ch, i]));

/** Number of bytes a base58 string decodes to, or null when it is not base58. */
export function base58DecodedLength(text: string): number | null {
  if (text.length === 0) return null;
  const bytes: number[] = [];
  for (const ch of text) {
    let carry = BASE58_INDEX.get(ch);
    if (carry === undefined) return null;
    for (let i = 0; i < bytes.length; i++) {
      carry += (bytes[i] as number) * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  let zeros = 0;
  while (zeros < text.length && text[zeros] === '1') zeros++;
  return zeros + bytes.length;
}

/** True for a base58 string of a 32-byte public key. */
export function isPubkey(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 32 && value.length <= 44 && base58DecodedLength(value) === 32;
}

/** True for a base58 string of a 64-byte signature. */
export function isSignature(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 64 && value.length <= 88 && base58DecodedLength(value) === 64;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Checks one value against the column's kind and returns it in wire form. */
function normaliseValue(column: string, def: ColumnDef, value: unknown, coerce: boolean): Value {
  const fail = (expected: string): never => {
    throw new FilterError(`filter on "${column}": expected ${expected}, got ${describe(value)}`, column);
  };
  switch (def.kind) {
    case 'serial':
    case 'i64':
    case 'int': {
      let n = value;
      if (coerce && typeof value === 'string' && /^-?[0-9]+$/.test(value.trim())) n = Number(value.trim());
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) return fail('an integer');
      return n;
    }
    case 'u64':
      if (typeof value !== 'string' && typeof value !== 'number') return fail('a u64 as a decimal string');
      try {
        return toU64String(value, column);
      } catch {
        return fail('a u64 as a decimal string (0..18446744073709551615)');
      }
    case 'pubkey':
      if (!isPubkey(value)) return fail('a base58 public key (32 bytes)');
      return value;
    case 'signature':
      if (!isSignature(value)) return fail('a base58 transaction signature (64 bytes)');
      return value;
    case 'text':
      if (typeof value !== 'string') return fail('a string');
      if (def.maxLength !== undefined && value.length > def.maxLength) {
        return fail(`a string of at most ${def.maxLength} characters`);
      }
      return value;
    case 'enum':
      if (typeof value !== 'string' || !(def.labels ?? []).includes(value)) {
        return fail(`one of ${(def.labels ?? []).join(', ')}`);
      }
      return value;
    case 'bool':
      if (coerce && (value === 'true' || value === 'false')) return value === 'true';
      if (typeof value !== 'boolean') return fail('true or false');
      return value;
    case 'timestamp': {
      if (
        typeof value !== 'string' ||
        !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)
      ) {
        return fail('an ISO-8601 timestamp with a zone, e.g. 2026-01-31T12:00:00Z');
      }
      const date = new Date(value);
      if (Number.isNaN(date.getTime())) return fail('a valid ISO-8601 timestamp');
      return date.toISOString();
    }
    case 'json':
      throw new FilterError(`filter on "${column}": JSON columns cannot be filtered`, column);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function compileClause(topic: Topic, column: string, condition: unknown, coerce: boolean): Clause[] {
  const def = columnDef(topic, column);
  if (def === undefined) throw new FilterError(`unknown column "${column}" in topic ${topic}`, column);
  if (condition === null) {
    if (!def.nullable) throw new FilterError(`filter on "${column}": the column is never null`, column);
    return [{ column, def, op: 'isnull' }];
  }
  if (Array.isArray(condition)) {
    throw new FilterError(`filter on "${column}": use {"in": [...]} to match one of several values`, column);
  }
  if (!isObject(condition)) return [{ column, def, op: 'eq', value: normaliseValue(column, def, condition, coerce) }];

  const keys = Object.keys(condition);
  if (keys.length === 1 && keys[0] === 'in') {
    const list = condition.in;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_IN_VALUES) {
      throw new FilterError(`filter on "${column}": "in" needs an array of 1 to ${MAX_IN_VALUES} values`, column);
    }
    return [{ column, def, op: 'in', values: list.map((v) => normaliseValue(column, def, v, coerce)) }];
  }
  if (keys.length === 0 || keys.some((k) => !(RANGE_OPS as readonly string[]).includes(k))) {
    throw new FilterError(
      `filter on "${column}": a condition object is {"in":[...]} or any of gt, gte, lt, lte (got ${keys.join(', ') || 'none'})`,
      column,
    );
  }
  if (!NUMERIC_KINDS.has(def.kind)) {
    throw new FilterError(`filter on "${column}": range operators apply only to numeric columns`, column);
  }
  return keys.map((op) => ({
    column,
    def,
    op: op as RangeOp,
    value: normaliseValue(column, def, condition[op], coerce),
  }));
}

/** Orders two canonical u64 decimal strings without BigInt allocation. */
function compareU64(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function clausePredicate(clause: Clause): (row: Readonly<Record<string, unknown>>) => boolean {
  const { column } = clause;
  switch (clause.op) {
    case 'isnull':
      return (row) => row[column] === null || row[column] === undefined;
    case 'eq': {
      const expected = clause.value;
      return (row) => row[column] === expected;
    }
    case 'in': {
      const set = new Set<unknown>(clause.values);
      return (row) => set.has(row[column]);
    }
    default: {
      const op = clause.op;
      const bound = clause.value;
      const test = (c: number): boolean => (op === 'gt' ? c > 0 : op === 'gte' ? c >= 0 : op === 'lt' ? c < 0 : c <= 0);
      if (clause.def.kind === 'u64') {
        // Wire rows carry canonical u64 strings: order by length, then lexically, which is exact.
        return (row) => {
          const v = row[column];
          return typeof v === 'string' && test(compareU64(v, bound as string));
        };
      }
      return (row) => {
        const v = row[column];
        return typeof v === 'number' && test(v - (bound as number));
      };
    }
  }
}

function quote(column: string): string {
  return `"${column}"`;
}

function clauseSql(clause: Clause, dialect: Dialect, param: () => string, bind: unknown[]): string {
  const col = quote(clause.column);
  const kind = clause.def.kind;
  // The bound value in each dialect's representation; u64 and timestamps need a cast or a rewrite.
  const placeholder = (value: Value): string => {
    if (dialect === 'sqlite' && kind === 'bool') bind.push(value ? 1 : 0);
    else bind.push(value);
    const p = param();
    if (dialect === 'postgres' && kind === 'u64') return `${p}::numeric`;
    if (dialect === 'postgres' && kind === 'timestamp') return `${p}::timestamp`;
    return p;
  };
  // SQLite stores timestamps as text in a few shapes; compare them in the wire's ISO form.
  const target = dialect === 'sqlite' && kind === 'timestamp' ? `strftime('%Y-%m-%dT%H:%M:%fZ', ${col})` : col;
  switch (clause.op) {
    case 'isnull':
      return `${col} IS NULL`;
    case 'eq':
      return `${target} = ${placeholder(clause.value)}`;
    case 'in':
      return `${target} IN (${clause.values.map(placeholder).join(', ')})`;
    default: {
      const sqlOp = SQL_OPS[clause.op];
      if (dialect === 'sqlite' && kind === 'u64') {
        // u64 is canonical decimal TEXT on SQLite: longer means larger, equal lengths compare as text.
        const p = placeholder(clause.value);
        const strict = sqlOp.charAt(0);
        return `(length(${col}) ${strict} length(${p}) OR (length(${col}) = length(${p}) AND ${col} ${sqlOp} ${p}))`;
      }
      return `${col} ${sqlOp} ${placeholder(clause.value)}`;
    }
  }
}

/**
 * Validates `filter` against `topic`'s columns and compiles it. Throws FilterError naming the
 * offending column. `null`/`undefined` mean "every row".
 */
export function compileFilter(topic: Topic, filter: unknown, options: CompileOptions = {}): CompiledFilter {
  if (filter !== undefined && filter !== null && !isObject(filter)) {
    throw new FilterError('a filter must be an object of column → condition');
  }
  const coerce = options.coerceStrings === true;
  const clauses: Clause[] = [];
  const source: Record<string, unknown> = {};
  for (const [column, condition] of Object.entries(filter ?? {})) {
    const compiled = compileClause(topic, column, condition, coerce);
    clauses.push(...compiled);
    const first = compiled[0] as Clause;
    if (first.op === 'isnull') source[column] = null;
    else if (first.op === 'eq') source[column] = first.value;
    else if (first.op === 'in') source[column] = { in: first.values };
    else source[column] = Object.fromEntries(compiled.map((c) => [c.op, (c as { value: Value }).value]));
  }
  const predicates = clauses.map(clausePredicate);
  const eq = clauses.find((c): c is Extract<Clause, { op: 'eq' }> => c.op === 'eq');
  return {
    topic,
    source: source as Filter,
    key: `${topic}:${JSON.stringify(source)}`,
    matchesAll: clauses.length === 0,
    equality: eq === undefined ? null : { column: eq.column, value: eq.value },
    matches: (row) => {
      for (const p of predicates) if (!p(row)) return false;
      return true;
    },
    toSql: (dialect, firstParam = 1) => {
      const bind: unknown[] = [];
      let next = firstParam;
      const param = (): string => `$${next++}`;
      const sql = clauses.map((c) => clauseSql(c, dialect, param, bind)).join(' AND ');
      return { sql, bind };
    },
  };
}
