// Commitment levels as a validator knows them, and the local cluster's rule for when a slot reaches
// one: after a number of later slots, or after a delay, or at once.

export type Commitment = 'processed' | 'confirmed' | 'finalized';

export const COMMITMENTS: readonly Commitment[] = ['processed', 'confirmed', 'finalized'];

/** Where a slot stands; `dead` slots were on a minority fork and never reach `confirmed`. */
export type SlotStatus = Commitment | 'dead';

const RANK: Record<Commitment, number> = { processed: 0, confirmed: 1, finalized: 2 };

/** Whether a slot at `status` is visible to a reader asking for `commitment`. */
export function meetsCommitment(status: SlotStatus, commitment: Commitment): boolean {
  return status !== 'dead' && RANK[status] >= RANK[commitment];
}

/** The higher of two commitment levels. */
export function maxCommitment(a: Commitment, b: Commitment): Commitment {
  return RANK[a] >= RANK[b] ? a : b;
}

/**
 * When a processed slot reaches the next level: once `slots` later slots have landed on the
 * surviving chain (0 = at once), or `ms` after it was processed.
 */
export type CommitmentDelay = { readonly slots: number } | { readonly ms: number };

export const AT_ONCE: CommitmentDelay = { slots: 0 };

/**
 * Parses a delay as settings and flags write it: `0`, `3slots`, `1500ms`, `2s`.
 * Throws a RangeError naming `what` when the text is none of these.
 */
export function parseCommitmentDelay(raw: string, what: string): CommitmentDelay {
  const text = raw.trim().toLowerCase();
  const match = /^(\d+(?:\.\d+)?)\s*(slots?|ms|s)?$/.exec(text);
  if (match === null) throw new RangeError(`${what} must look like 0, 3slots, 1500ms or 2s, got "${raw}"`);
  const value = Number(match[1]);
  const unit = match[2];
  if (unit === undefined) {
    if (value !== 0) throw new RangeError(`${what} needs a unit (slots, ms or s), got "${raw}"`);
    return AT_ONCE;
  }
  if (unit.startsWith('slot')) {
    if (!Number.isInteger(value)) throw new RangeError(`${what} counts whole slots, got "${raw}"`);
    return { slots: value };
  }
  const ms = unit === 's' ? value * 1000 : value;
  if (!Number.isInteger(ms)) throw new RangeError(`${what} must be a whole number of milliseconds, got "${raw}"`);
  return { ms };
}

/** The delay written back as a setting (`3slots`, `2000ms`). */
export function formatCommitmentDelay(delay: CommitmentDelay): string {
  return 'slots' in delay ? `${delay.slots}slots` : `${delay.ms}ms`;
}

/**
 * A commitment named in a request. Validators still accept the names of older releases
 * (`recent`, `single`, `singleGossip`, `root`, `max`) as aliases.
 */
export function parseCommitment(value: unknown): Commitment | null {
  switch (value) {
    case 'processed':
    case 'recent':
      return 'processed';
    case 'confirmed':
    case 'single':
    case 'singleGossip':
      return 'confirmed';
    case 'finalized':
    case 'root':
    case 'max':
      return 'finalized';
    default:
      return null;
  }
}
