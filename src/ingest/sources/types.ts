// The ingester's live data source, as one small interface: a websocket RPC subscription today, a
// Geyser gRPC stream beside it. A source delivers what the chain does as it happens; what it may
// have missed (a drop, a lag) it says, and the ingester then reads it back from the RPC history.
import type { TransactionInput } from '../../programs/types.ts';

export interface LiveEvents {
  /** The current data of an account owned by `programId`, as of the end of `slot`. */
  account(programId: string, pubkey: string, data: Uint8Array, slot: number): void;
  /**
   * A transaction that called `programId`. `transaction` resolves to it, or to null when the
   * source could not obtain it (the stretch since the checkpoint is then incomplete, and the
   * source reports a gap). Transactions are written in the order they are announced.
   */
  transaction(programId: string, signature: string, transaction: Promise<TransactionInput | null>): void;
  /** The newest slot the source has seen (for the chain-tip metric and lag). */
  slot(slot: number): void;
  /**
   * A slot's status changed, with its parent when the source knows it (sources started with
   * `slotStatuses`; the processed stream follows slot fates with them).
   */
  slotStatus?(slot: number, status: SlotStatusKind, parent?: number): void;
  /** Updates may have been missed since the last catch-up: read back once `subscribed()` is true again. */
  gap(reason: string): void;
  /**
   * The source replays everything since the resume point it was started with (a Geyser server's
   * `from_slot`): nothing since the checkpoints needs reading back.
   */
  resumed(): void;
}

export type SlotStatusKind = 'processed' | 'confirmed' | 'finalized' | 'dead';

/** Where a source able to replay should start: the oldest slot not known to be written. */
export interface ResumePoint {
  readonly fromSlot: number;
}

export interface LiveSource {
  /** For logs and metrics, e.g. `rpc-websocket`. */
  readonly name: string;
  /** True when the source can replay from a slot (start it with a ResumePoint). */
  readonly replays: boolean;
  /** Subscribes to every program and starts delivering to `events`, replaying from `resume` when given. */
  start(events: LiveEvents, resume?: ResumePoint): void;
  /** True while every subscription is confirmed by the server: a catch-up started now leaves no gap. */
  subscribed(): boolean;
  close(): Promise<void>;
}
