// Positions on the chain, for deciding whether a value is newer than the one stored.
//
// A slot alone cannot order an account read against an event of the same slot: an account read at
// slot s (getMultipleAccounts' context slot, an account notification) reflects every transaction
// of s, while an event of a transaction in s says what that transaction left. So each value gets a
// position: 2·s for a transaction's value, 2·s + 1 for an end-of-slot read. A value replaces the
// stored one when its position is at least as high: an event of slot s never overwrites a read of
// s, a read of s overwrites every event of s, and of two events in one slot the later-applied one
// (live and backfill both deliver a slot's transactions in chain order) wins.
import type { StateSource } from '../programs/types.ts';

export function positionOf(source: StateSource): number {
  return source.slot * 2 + (source.from === 'account' ? 1 : 0);
}

/** Per column of one stored row, the position its value came from; "*" covers the columns not listed. */
export type ColumnPositions = Record<string, number>;

export const ALL_COLUMNS = '*';

export function positionOfColumn(positions: ColumnPositions | undefined, column: string): number {
  if (positions === undefined) return -1;
  return positions[column] ?? positions[ALL_COLUMNS] ?? -1;
}

/**
 * Columns whose value only ever moves earlier: a row first seen in an account read records that
 * slot as its creation, and the creating transaction, read later from history, corrects it.
 */
export const EARLIEST_WINS: ReadonlySet<string> = new Set(['created_slot']);
