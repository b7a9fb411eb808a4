// SQL fragments that differ between the dialects for solstream's column kinds.
import type { Dialect } from '../config.ts';

/**
 * ORDER BY terms for a u64 column. On SQLite u64 values are canonical decimal TEXT (no leading
 * zeros), so numeric order is (length, text); on PostgreSQL they are NUMERIC.
 */
export function orderU64(dialect: Dialect, column: string, direction: 'ASC' | 'DESC'): string {
  return dialect === 'postgres' ? `${column} ${direction}` : `length(${column}) ${direction}, ${column} ${direction}`;
}

export type Comparison = '=' | '<' | '<=' | '>' | '>=';

/**
 * `column <op> $n` for a u64 column and a bound canonical decimal string, exact on both dialects.
 * `param` is the placeholder (e.g. `$3`).
 */
export function compareU64(dialect: Dialect, column: string, op: Comparison, param: string): string {
  if (dialect === 'postgres') return `${column} ${op} CAST(${param} AS NUMERIC)`;
  if (op === '=') return `${column} = ${param}`;
  const strict = op === '<' || op === '>' ? op : op === '<=' ? '<' : '>';
  return `(length(${column}) ${strict} length(${param}) OR (length(${column}) = length(${param}) AND ${column} ${op} ${param}))`;
}
