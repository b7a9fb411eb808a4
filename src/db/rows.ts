// The one mapping between database values and wire values. Every row that leaves solstream
// (snapshot, change, REST) passes through toWireRow, whichever dialect and driver produced it.
import { TABLES, type ColumnDef, type Topic, type RowOf } from './schema.ts';

export const U64_MAX = 18446744073709551615n;

/** True for a canonical u64 decimal string ("0", "42", … "18446744073709551615"). */
export function isU64String(value: string): boolean {
  return /^(0|[1-9][0-9]{0,19})$/.test(value) && BigInt(value) <= U64_MAX;
}

/**
 * Accepts a u64 as bigint, safe integer or decimal string and returns its canonical decimal string.
 * Throws a RangeError naming the column for anything else (negative, fractional, too large, unsafe number).
 */
export function toU64String(value: unknown, column = 'value'): string {
  if (typeof value === 'bigint') {
    if (value < 0n || value > U64_MAX) throw new RangeError(`${column} must be a u64 (0..${U64_MAX}), got ${value}`);
    return value.toString();
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(
        `${column} must be a u64; the number ${value} is not a safe non-negative integer (pass larger values as a string or bigint)`,
      );
    }
    return String(value);
  }
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (/^[0-9]+$/.test(trimmed)) {
      const big = BigInt(trimmed);
      if (big <= U64_MAX) return big.toString();
    }
    throw new RangeError(`${column} must be a u64 decimal string (0..${U64_MAX}), got "${value}"`);
  }
  throw new RangeError(`${column} must be a u64, got ${value === null ? 'null' : typeof value}`);
}

/**
 * toU64String for writes: a string must already be canonical. A writer handing over "01" or " 7"
 * has a bug worth reporting, not a value to guess at (filters, which only read, still normalise).
 */
export function toStoredU64(value: unknown, column = 'value'): string {
  if (typeof value === 'string' && !isU64String(value)) {
    throw new RangeError(
      `${column} must be a canonical u64 decimal string (digits only, no sign or leading zero, at most ${U64_MAX}), got "${value}"`,
    );
  }
  return toU64String(value, column);
}

// "2026-11-29 13:14:03", "2026-11-29 13:14:03.123 +00:00", "2026-11-29T13:14:03.123456": all UTC.
const SQL_TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?$/;

export function toIsoTimestamp(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number') return new Date(value * (value < 1e12 ? 1000 : 1)).toISOString();
  if (typeof value === 'string') {
    const m = SQL_TIMESTAMP.exec(value.trim());
    if (m !== null) {
      const [, date, time, fraction = '', zone] = m;
      const ms = fraction === '' ? '' : fraction.slice(0, 4).padEnd(4, '0');
      const offset =
        zone === undefined || zone === 'Z' ? 'Z' : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
      return new Date(`${date}T${time}${ms}${offset}`).toISOString();
    }
    const parsed = new Date(value);
    if (!Number.isNaN(parsed.getTime())) return parsed.toISOString();
  }
  throw new RangeError(`not a timestamp: ${String(value)}`);
}

function toSafeNumber(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : Number(String(value));
  if (!Number.isSafeInteger(n)) throw new RangeError(`integer out of the safe range: ${String(value)}`);
  return n;
}

/** One column's value from any driver (pg, sqlite3, a trigger's JSON) to its wire form. */
export function toWireValue(def: ColumnDef, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (def.kind) {
    case 'u64':
      return toU64String(value);
    case 'serial':
    case 'i64':
    case 'int':
      return toSafeNumber(value);
    case 'bool':
      return value === true || value === 1 || value === '1' || value === 't' || value === 'true';
    case 'timestamp':
      return toIsoTimestamp(value);
    case 'json':
      if (typeof value === 'string') {
        try {
          return JSON.parse(value) as unknown;
        } catch {
          return value;
        }
      }
      return value;
    default:
      return String(value);
  }
}

type Converter = (value: unknown) => unknown;

/** PostgreSQL's text of a TIMESTAMP (UTC, no zone), years 1000–9999. */
const PG_TIMESTAMP_TEXT = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?$/;

/** The ISO form toIsoTimestamp gives, without building a Date: milliseconds truncated, as Date does. */
function pgTimestampText(value: string): string {
  const m = PG_TIMESTAMP_TEXT.exec(value);
  if (m === null) return toIsoTimestamp(value);
  const [, date, time, fraction = ''] = m;
  return `${date}T${time}.${fraction.slice(0, 3).padEnd(3, '0')}Z`;
}

/** u64 from NUMERIC(20,0) / canonical TEXT: up to 19 digits without a leading zero is already canonical and below u64::MAX. */
const CANONICAL_SHORT_U64 = /^(0|[1-9][0-9]{0,18})$/;

/** An integer's text that is exactly a safe JavaScript number (at most 15 digits). */
const SHORT_INTEGER = /^-?(0|[1-9][0-9]{0,14})$/;

// Per column kind, the cheapest conversion that gives exactly what toWireValue gives: snapshots
// convert every column of thousands of rows, and the common driver values need no parsing at all.
function converter(def: ColumnDef): Converter {
  switch (def.kind) {
    case 'u64':
      return (value) =>
        value === null || value === undefined
          ? null
          : typeof value === 'string' && CANONICAL_SHORT_U64.test(value)
            ? value
            : toU64String(value);
    case 'serial':
    case 'i64':
    case 'int':
      return (value) =>
        value === null || value === undefined
          ? null
          : typeof value === 'number' && Number.isSafeInteger(value)
            ? value
            : typeof value === 'string' && SHORT_INTEGER.test(value)
              ? Number(value)
              : toSafeNumber(value);
    case 'timestamp':
      return (value) =>
        value === null || value === undefined
          ? null
          : value instanceof Date
            ? value.toISOString()
            : typeof value === 'string'
              ? pgTimestampText(value)
              : toIsoTimestamp(value);
    case 'pubkey':
    case 'signature':
    case 'text':
    case 'enum':
      return (value) =>
        value === null || value === undefined ? null : typeof value === 'string' ? value : String(value);
    default:
      return (value) => toWireValue(def, value);
  }
}

const converters = new Map<Topic, readonly (readonly [string, Converter])[]>();

function convertersOf(topic: Topic): readonly (readonly [string, Converter])[] {
  let list = converters.get(topic);
  if (list === undefined) {
    const columns: Readonly<Record<string, ColumnDef>> = TABLES[topic].columns;
    list = Object.entries(columns).map(([name, def]) => [name, converter(def)] as const);
    converters.set(topic, list);
  }
  return list;
}

/** A row of `topic` from the database (any dialect) in wire form; unknown keys are dropped. */
export function toWireRow<T extends Topic>(topic: T, raw: Readonly<Record<string, unknown>>): RowOf<T> {
  const row: Record<string, unknown> = {};
  for (const [name, convert] of convertersOf(topic)) {
    if (Object.prototype.hasOwnProperty.call(raw, name)) row[name] = convert(raw[name]);
  }
  return row as RowOf<T>;
}

/** Per result field list: the fields toWireRow keeps, by position, in the table's column order. */
const fieldPlans = new Map<string, readonly (readonly [number, string, Converter])[]>();

function fieldPlanOf(topic: Topic, names: readonly string[]): readonly (readonly [number, string, Converter])[] {
  const id = `${topic}\u0000${names.join('\u0000')}`;
  let plan = fieldPlans.get(id);
  if (plan === undefined) {
    plan = convertersOf(topic).flatMap(([name, convert]) => {
      const index = names.indexOf(name);
      return index < 0 ? [] : [[index, name, convert] as const];
    });
    if (fieldPlans.size > 256) fieldPlans.clear();
    fieldPlans.set(id, plan);
  }
  return plan;
}

/**
 * Rows of `topic` given as values by position (`names` the fields, as the driver returns rows in
 * array form) in wire form: what toWireRow gives each, without an object keyed by field first.
 */
export function toWireRows<T extends Topic>(
  topic: T,
  names: readonly string[],
  rows: readonly (readonly unknown[])[],
): RowOf<T>[] {
  const plan = fieldPlanOf(topic, names);
  const out = new Array<RowOf<T>>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const values = rows[r] as readonly unknown[];
    const row: Record<string, unknown> = {};
    for (let f = 0; f < plan.length; f++) {
      const [index, name, convert] = plan[f] as readonly [number, string, Converter];
      row[name] = convert(values[index]);
    }
    out[r] = row as RowOf<T>;
  }
  return out;
}
