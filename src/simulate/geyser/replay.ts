// The slots the Geyser endpoint keeps for `from_slot`, like the server's `replay_stored_slots`: each
// processed slot's messages (accounts at their final version, transaction, entry) and the statuses
// it reached, newest `capacity` slots kept; a dead slot is dropped. A replay sends, for every kept
// slot from `from_slot` on that reached the subscriber's commitment, its messages, its block and
// block meta, then its statuses.
import { COMMITMENTS, maxCommitment, type Commitment } from '../commitment.ts';
import type { LedgerSlot } from '../ledger.ts';
import { SlotStatus } from './codecs.ts';
import { latestVersions, type GeyserMessage, type SlotMessage } from './messages.ts';

interface StoredSlot {
  readonly slot: LedgerSlot;
  readonly messages: readonly GeyserMessage[];
  reached: Commitment;
  readonly statuses: SlotMessage[];
}

const STATUS_OF: Record<Commitment, SlotStatus> = {
  processed: SlotStatus.SLOT_PROCESSED,
  confirmed: SlotStatus.SLOT_CONFIRMED,
  finalized: SlotStatus.SLOT_FINALIZED,
};

export function slotStatusMessage(slot: LedgerSlot, commitment: Commitment, createdAt: Date): SlotMessage {
  return {
    kind: 'slot',
    slot: slot.slot,
    parent: slot.parent,
    status: STATUS_OF[commitment],
    deadError: undefined,
    createdAt,
  };
}

/** A frozen slot's data messages, as sent to confirmed and finalized subscribers and on replay. */
export function frozenSlotMessages(slot: LedgerSlot, createdAt: Date): GeyserMessage[] {
  return [
    ...latestVersions(slot.updates).map((update): GeyserMessage => ({
      kind: 'account',
      slot: slot.slot,
      update,
      createdAt,
    })),
    ...slot.transactions.map((tx): GeyserMessage => ({ kind: 'transaction', slot: slot.slot, tx, createdAt })),
    { kind: 'entry', slot, createdAt },
  ];
}

/** The block and block meta messages closing a slot. */
export function blockMessages(slot: LedgerSlot, createdAt: Date): GeyserMessage[] {
  return [
    { kind: 'block', slot, accounts: latestVersions(slot.updates), createdAt },
    { kind: 'blockMeta', slot, createdAt },
  ];
}

export type ReplayAnswer =
  | { readonly kind: 'messages'; readonly messages: readonly GeyserMessage[] }
  /** `firstAvailable`: the oldest slot still kept. */
  | { readonly kind: 'outOfRange'; readonly firstAvailable: number };

export class ReplayStore {
  private readonly slots = new Map<number, StoredSlot>();

  constructor(private readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 1))
      throw new RangeError(`replay keeps at least 1 slot, got ${capacity}`);
  }

  /** The oldest slot a replay can start from, or null while nothing is kept. */
  firstAvailable(): number | null {
    let first: number | null = null;
    for (const slot of this.slots.keys()) if (first === null || slot < first) first = slot;
    return first;
  }

  processed(slot: LedgerSlot, createdAt: Date): void {
    this.slots.set(slot.slot, {
      slot,
      messages: frozenSlotMessages(slot, createdAt),
      reached: 'processed',
      statuses: [slotStatusMessage(slot, 'processed', createdAt)],
    });
    // Map iteration follows insertion, and slots are inserted in slot order.
    for (const oldest of this.slots.keys()) {
      if (this.slots.size <= this.capacity) break;
      this.slots.delete(oldest);
    }
  }

  reached(slot: LedgerSlot, commitment: Commitment, createdAt: Date): void {
    const stored = this.slots.get(slot.slot);
    if (stored === undefined) return;
    stored.reached = maxCommitment(stored.reached, commitment);
    stored.statuses.push(slotStatusMessage(slot, commitment, createdAt));
  }

  dead(slot: number): void {
    this.slots.delete(slot);
  }

  replay(fromSlot: number, commitment: Commitment): ReplayAnswer {
    const first = this.firstAvailable();
    if (first !== null && fromSlot < first) return { kind: 'outOfRange', firstAvailable: first };
    const createdAt = new Date();
    const rank = COMMITMENTS.indexOf(commitment);
    const messages: GeyserMessage[] = [];
    for (const stored of [...this.slots.values()].sort((a, b) => a.slot.slot - b.slot.slot)) {
      if (stored.slot.slot < fromSlot || COMMITMENTS.indexOf(stored.reached) < rank) continue;
      messages.push(...stored.messages, ...blockMessages(stored.slot, createdAt), ...stored.statuses);
    }
    return { kind: 'messages', messages };
  }
}
