// Cursors on the wire: a position in one database's change log, tagged with that log's epoch.
//
// A cursor stays what it always was for a client, an opaque decimal string that grows in commit
// order, so clients that compare cursors as big integers keep working. Inside it, the last 19
// digits are the change-log offset (zero-padded) and the digits before them are the epoch: an
// 18-digit number that identifies the log (see src/capture/log-identity.ts). A cursor of at most
// 19 digits carries no epoch: it is a bare offset, as servers issued before epochs existed, and is
// still accepted as a position in the current log.
//
// Like a Centrifugo stream position {offset, epoch}: an offset means nothing without the identity
// of the log it came from. Server and clients both import this module; it has no Node-only imports.

/** Digits of the offset part of a tagged cursor (a bigint offset never needs more). */
export const OFFSET_DIGITS = 19;
/** Digits of an epoch as this server makes them. */
export const EPOCH_DIGITS = 18;

const CURSOR = /^(0|[1-9][0-9]{0,38})$/;
const OFFSET = /^(0|[1-9][0-9]{0,18})$/;
const EPOCH = /^[1-9][0-9]{17}$/;

export interface CursorParts {
  /** The epoch of the log the cursor came from, or null for a bare offset (a cursor without epoch). */
  readonly epoch: string | null;
  /** Position in that log: a decimal string of a non-negative bigint, without leading zeros. */
  readonly offset: string;
}

/** True for a cursor as a server issues it: a decimal string without leading zeros, at most 39 digits. */
export function isCursor(value: unknown): value is string {
  return typeof value === 'string' && CURSOR.test(value);
}

/** True for an epoch as this server makes them (18 digits, no leading zero). */
export function isEpoch(value: unknown): value is string {
  return typeof value === 'string' && EPOCH.test(value);
}

/** The cursor for `offset` in the log of `epoch`. */
export function formatCursor(epoch: string, offset: string): string {
  if (!isEpoch(epoch)) throw new Error(`"${epoch}" is not an epoch (${EPOCH_DIGITS} digits, no leading zero)`);
  if (!OFFSET.test(offset)) throw new Error(`"${offset}" is not a change-log offset`);
  return epoch + offset.padStart(OFFSET_DIGITS, '0');
}

/** Splits a cursor into its epoch and offset; null when `cursor` is not a cursor at all. */
export function parseCursor(cursor: string): CursorParts | null {
  if (!isCursor(cursor)) return null;
  if (cursor.length <= OFFSET_DIGITS) return { epoch: null, offset: cursor };
  const offset = cursor.slice(-OFFSET_DIGITS).replace(/^0+(?=.)/, '');
  return { epoch: cursor.slice(0, -OFFSET_DIGITS), offset };
}

/**
 * Orders two cursors of the same log: compared as big integers (by length, then as text), which
 * is their offsets' order when both carry the same epoch. Cursors of different epochs have no
 * meaningful order.
 */
export function compareCursors(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
