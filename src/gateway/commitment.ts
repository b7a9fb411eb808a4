// What a subscription's commitment adds to the committed stream every subscription gets.
// - processed: the speculative changes of its topic as they are announced, a `slot` notice when a
//   slot it received from is confirmed or finalized, a `retract` when one dies; its snapshot is the
//   confirmed one with the newest speculative rows laid over it. A committed change that would take
//   a row back to before a speculative value it already has is not sent (the newer value stands;
//   should its slot die, the retraction restores the stored row, committed change included).
// - finalized: committed changes are held, in cursor order, until their slot is finalized.
import type { SpeculativeChange, SpeculativeFeed, SpeculativeNotice, SlotNotice } from '../capture/speculative.ts';
import { rowKey } from '../capture/speculative.ts';
import type { Change, ChangeOp } from '../capture/types.ts';
import { TABLES } from '../db/schema.ts';
import { MessageType, type RetractedChange, type ServerMessage } from '../wire/protocol.ts';
import { speculativeBody, viewOp } from './frames.ts';
import type { Subscription } from './subscription.ts';

/** What the commitment streams need from the connection. */
export interface CommitmentTarget {
  /** Sends a change frame (text), counting it and applying the slow-consumer bound. */
  sendChangeFrame(frame: string): void;
  send(message: ServerMessage): void;
}

/**
 * Starts a processed subscription's speculative stream; nothing is sent until `speculativeLive`
 * (set by the join once the subscription's first frame is out). Returns the detach function.
 */
export function attachProcessed(
  feed: SpeculativeFeed,
  subscription: Subscription,
  target: CommitmentTarget,
): () => void {
  const notices = feed.topic$(subscription.topic).subscribe((notice) => onNotice(subscription, notice, target));
  const fates = feed.fates$.subscribe((fate) => onFate(subscription, fate, target));
  return () => {
    notices.unsubscribe();
    fates.unsubscribe();
  };
}

function onNotice(subscription: Subscription, notice: SpeculativeNotice, target: CommitmentTarget): void {
  if (!subscription.speculativeLive || subscription.state === 'closed') return;
  if (notice.kind === 'change') {
    const op = viewOp(subscription.filter, notice.change);
    if (op === null) return;
    const { slot } = notice.change;
    const first = !subscription.received.has(slot);
    subscription.received.add(slot);
    target.sendChangeFrame(subscription.framePrefix + speculativeBody(notice.change, op) + '}');
    // A late change of a slot already confirmed: its confirmation went out before this subscriber
    // had anything of the slot, so it comes now, or the subscriber would wait for it forever.
    if (notice.confirmed && first) {
      target.send({ type: MessageType.Slot, id: subscription.id, slot, commitment: 'confirmed' });
    }
    return;
  }
  // A settlement is owed only for a slot this subscription received changes from.
  if (!subscription.received.delete(notice.slot)) return;
  const changes: RetractedChange[] = [];
  for (const change of notice.changes) {
    const op = viewOp(subscription.filter, change);
    if (op !== null) changes.push({ topic: change.topic, op, row: change.row });
  }
  if (notice.kind === 'retract') {
    target.send({ type: MessageType.Retract, id: subscription.id, slot: notice.slot, changes });
  } else {
    target.send({
      type: MessageType.Slot,
      id: subscription.id,
      slot: notice.slot,
      commitment: 'finalized',
      ...(changes.length > 0 ? { changes } : {}),
    });
  }
}

/** Confirmations (finalizations and deaths come per topic, as settlements). */
function onFate(subscription: Subscription, { slot, fate }: SlotNotice, target: CommitmentTarget): void {
  if (fate !== 'confirmed' || subscription.state === 'closed' || !subscription.received.has(slot)) return;
  target.send({ type: MessageType.Slot, id: subscription.id, slot, commitment: 'confirmed' });
}

/**
 * A processed subscription's snapshot: the confirmed rows with the speculative ones laid over
 * (a state row replaced, added or, when its speculative value leaves the filter, removed; an event
 * added), each slot laid over counted as received.
 */
export function overlaySnapshot(
  feed: SpeculativeFeed,
  subscription: Subscription,
  rows: readonly Record<string, unknown>[],
): Record<string, unknown>[] {
  const { topic, filter } = subscription;
  const overlay = feed.overlay(topic);
  if (overlay.length === 0) return [...rows];
  const out = new Map<string, Record<string, unknown>>();
  for (const row of rows) out.set(rowKey(topic, row), row);
  const state = TABLES[topic].kind === 'state';
  for (const change of overlay) {
    const key = rowKey(topic, change.row);
    const matches = filter.matches(change.row);
    if (matches) {
      if (!state && out.has(key)) continue;
      out.set(key, change.row as Record<string, unknown>);
      subscription.received.add(change.slot);
    } else if (state && out.delete(key)) {
      subscription.received.add(change.slot);
    }
  }
  return [...out.values()];
}

/** The first of a resumed processed subscription's slots whose fate is no longer known, or null. */
export function unknownSlot(
  feed: SpeculativeFeed,
  subscription: Pick<Subscription, 'topic' | 'resumeSlots'>,
): number | null {
  for (const slot of subscription.resumeSlots) if (feed.fateOf(slot, subscription.topic) === null) return slot;
  return null;
}

/**
 * A resumed processed subscription is owed the fates of the slots it names: told at once where
 * known, and counted as received where still to come.
 */
export function resumeOwed(feed: SpeculativeFeed, subscription: Subscription, target: CommitmentTarget): void {
  for (const slot of subscription.resumeSlots) {
    const owed = feed.fateOf(slot, subscription.topic);
    if (owed === null) continue;
    if (owed.state === 'pending') {
      subscription.received.add(slot);
    } else if (owed.state === 'confirmed') {
      subscription.received.add(slot);
      target.send({ type: MessageType.Slot, id: subscription.id, slot, commitment: 'confirmed' });
    } else {
      subscription.received.add(slot);
      onNotice(
        subscription,
        { kind: owed.state === 'dead' ? 'retract' : 'settle', slot, changes: owed.changes },
        target,
      );
    }
  }
}

/** True when a processed subscription must not be sent `change` (see the header). */
export function supersededFor(feed: SpeculativeFeed, subscription: Subscription, change: Change): boolean {
  return subscription.commitment === 'processed' && feed.supersedes(change, subscription.received);
}

/**
 * A finalized subscription's committed change: true when it is held (its slot is not finalized
 * yet, or changes before it are held), false when it may be sent now.
 */
export function holdUntilFinalized(
  feed: SpeculativeFeed,
  subscription: Subscription,
  change: Change,
  op: ChangeOp,
): boolean {
  if (subscription.held.length === 0 && (change.slot === null || change.slot <= feed.finalized())) return false;
  subscription.held.push({ change, op });
  return true;
}

/** Releases a finalized subscription's held changes as their slots are finalized; returns the detach function. */
export function attachFinalized(
  feed: SpeculativeFeed,
  subscription: Subscription,
  release: (change: Change, op: ChangeOp) => void,
): () => void {
  const stream = feed.finalized$.subscribe((finalized) => {
    const { held } = subscription;
    let released = 0;
    while (released < held.length) {
      const next = held[released] as { change: Change; op: ChangeOp };
      if (next.change.slot !== null && next.change.slot > finalized) break;
      released++;
      release(next.change, next.op);
      if (subscription.state === 'closed') return;
    }
    held.splice(0, released);
  });
  return () => stream.unsubscribe();
}

export type { SpeculativeChange };
