// Change frames and what a change is to a filtered view. A change is serialised once per op it is
// delivered as, whoever receives it: the shared part of its frame is cached per change.
import type { SpeculativeChange } from '../capture/speculative.ts';
import type { Change, ChangeOp } from '../capture/types.ts';
import { formatCursor } from '../wire/cursor.ts';
import type { CompiledFilter } from './filters.ts';

/** How settled a committed change is as delivered: `finalized` on finalized subscriptions. */
export type CommittedLevel = 'confirmed' | 'finalized';

const bodies = new WeakMap<Change, Partial<Record<`${ChangeOp}:${CommittedLevel}`, string>>>();

/**
 * `"topic":…,"op":…,"row":…,"cursor":…,"slot":…,"commitment":…` of a committed change's frame, the
 * cursor tagged with `epoch`.
 */
export function changeBody(change: Change, op: ChangeOp, epoch: string, level: CommittedLevel = 'confirmed'): string {
  let cached = bodies.get(change);
  if (cached === undefined) {
    cached = {};
    bodies.set(change, cached);
  }
  let body = cached[`${op}:${level}`];
  if (body === undefined) {
    body =
      `"topic":${JSON.stringify(change.topic)},"op":${JSON.stringify(op)},` +
      `"row":${JSON.stringify(change.row)},"cursor":"${formatCursor(epoch, change.cursor)}",` +
      `"slot":${change.slot === null ? 'null' : String(change.slot)},"commitment":"${level}"`;
    cached[`${op}:${level}`] = body;
  }
  return body;
}

const speculativeBodies = new WeakMap<SpeculativeChange, Partial<Record<ChangeOp, string>>>();

/** `"topic":…,"op":…,"row":…,"slot":…,"commitment":"processed"` of a speculative change's frame. */
export function speculativeBody(change: SpeculativeChange, op: ChangeOp): string {
  let cached = speculativeBodies.get(change);
  if (cached === undefined) {
    cached = {};
    speculativeBodies.set(change, cached);
  }
  let body = cached[op];
  if (body === undefined) {
    body =
      `"topic":${JSON.stringify(change.topic)},"op":${JSON.stringify(op)},` +
      `"row":${JSON.stringify(change.row)},"slot":${change.slot},"commitment":"processed"`;
    cached[op] = body;
  }
  return body;
}

/**
 * What a change is to a filtered view: an update that makes a row match arrives as an insert, one
 * that makes it stop matching as a delete (with the row's new values), one that matches before and
 * after as an update; null when the view does not see it at all.
 */
export function viewOp(filter: CompiledFilter, change: Pick<Change, 'op' | 'row' | 'oldRow'>): ChangeOp | null {
  const now = filter.matches(change.row);
  if (change.op !== 'update' || change.oldRow === undefined) return now ? change.op : null;
  const before = filter.matches(change.oldRow);
  if (now) return before ? 'update' : 'insert';
  return before ? 'delete' : null;
}
