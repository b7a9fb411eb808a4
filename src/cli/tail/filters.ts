// `--filter` arguments of `solstream tail`: `column=value`, `column=a,b` (any of), `column>=v`,
// `column<v`, …; values are coerced by the column's kind in the schema catalogue, so the shell's
// strings become the wire's numbers, booleans and u64 decimal strings.
import { columnDef, TABLES, type ColumnDef, type Topic } from '../../db/schema.ts';
import type { Filter, FilterCondition, FilterScalar, RangeCondition } from '../../wire/protocol.ts';

export class UsageError extends Error {
  override name = 'UsageError';
}

const FILTER = /^([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<|=)(.*)$/s;
const RANGE_OPS = { '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' } as const;
const U64 = /^(0|[1-9][0-9]{0,19})$/;
const INTEGER = /^-?(0|[1-9][0-9]*)$/;

function coerce(topic: Topic, column: string, def: ColumnDef, raw: string): FilterScalar | null {
  if (raw === 'null') {
    if (def.nullable) return null;
    throw new UsageError(`--filter ${column}: ${topic}.${column} is never null`);
  }
  switch (def.kind) {
    case 'serial':
    case 'i64':
    case 'int': {
      const value = Number(raw);
      if (!INTEGER.test(raw) || !Number.isSafeInteger(value)) {
        throw new UsageError(`--filter ${column}: expected a whole number, got "${raw}"`);
      }
      return value;
    }
    case 'u64':
      if (!U64.test(raw) || BigInt(raw) > 18446744073709551615n) {
        throw new UsageError(`--filter ${column}: expected a u64 amount (decimal digits), got "${raw}"`);
      }
      return raw;
    case 'bool':
      if (raw !== 'true' && raw !== 'false')
        throw new UsageError(`--filter ${column}: expected true or false, got "${raw}"`);
      return raw === 'true';
    case 'enum':
      if (!def.labels?.includes(raw)) {
        throw new UsageError(`--filter ${column}: expected one of ${def.labels?.join(', ')}, got "${raw}"`);
      }
      return raw;
    case 'json':
      throw new UsageError(`--filter ${column}: JSON columns cannot be filtered`);
    default:
      return raw;
  }
}

/** Builds the subscription filter from `--filter` arguments; throws UsageError naming the problem. */
export function parseFilters(topic: Topic, args: readonly string[]): Filter {
  const filter: Record<string, FilterCondition> = {};
  for (const arg of args) {
    const match = FILTER.exec(arg);
    if (match === null) throw new UsageError(`--filter "${arg}": expected column=value (or column>=value, …)`);
    const [, column = '', op = '=', raw = ''] = match;
    const def = columnDef(topic, column);
    if (def === undefined) {
      throw new UsageError(
        `--filter ${column}: ${topic} has no column "${column}" (columns: ${Object.keys(TABLES[topic].columns).join(', ')})`,
      );
    }
    if (op === '=') {
      if (column in filter) throw new UsageError(`--filter ${column}: given more than once`);
      const values = raw.split(',').map((value) => coerce(topic, column, def, value.trim()));
      if (values.length === 1) filter[column] = values[0] as FilterScalar | null;
      else if (values.includes(null)) throw new UsageError(`--filter ${column}: null cannot be one of several values`);
      else filter[column] = { in: values as FilterScalar[] };
      continue;
    }
    if (!['serial', 'i64', 'int', 'u64'].includes(def.kind)) {
      throw new UsageError(`--filter ${column}: ${op} applies only to numeric columns`);
    }
    const value = coerce(topic, column, def, raw.trim());
    if (value === null || typeof value === 'boolean') throw new UsageError(`--filter ${column}: ${op} needs a number`);
    const existing = filter[column];
    if (existing !== undefined && (typeof existing !== 'object' || existing === null || 'in' in existing)) {
      throw new UsageError(`--filter ${column}: cannot combine a range with a value`);
    }
    filter[column] = { ...(existing as RangeCondition | undefined), [RANGE_OPS[op as keyof typeof RANGE_OPS]]: value };
  }
  return filter;
}
