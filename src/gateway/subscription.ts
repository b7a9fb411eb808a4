// One subscription of one connection, as the join and the fan-out see it.
import type { Change, ChangeOp } from '../capture/types.ts';
import type { Topic } from '../db/schema.ts';
import type { Commitment } from '../wire/protocol.ts';
import type { CompiledFilter } from './filters.ts';

/** `joining`: its starting point is being read and live changes are buffered; `live`: delivered as they come. */
export type SubscriptionState = 'joining' | 'live' | 'closed';

export interface Subscription {
  readonly id: string;
  /** `"type":"change","id":<id>,` ready to prefix a change body. */
  readonly framePrefix: string;
  readonly topic: Topic;
  readonly filter: CompiledFilter;
  state: SubscriptionState;
  /** Changes at or below this change-log offset have been delivered (or are in the snapshot). */
  position: string;
  /** Live changes that arrived while joining, in cursor order. */
  buffer: Change[];
  /** Stops this subscription's share of the topic's stream. */
  detach: (() => void) | null;
  /** What it asked for (commitment.ts): `confirmed` unless said otherwise. */
  readonly commitment: Commitment;
  /** processed: speculative frames may be sent (its first frame is out). */
  speculativeLive: boolean;
  /** processed: slots it received speculative changes from whose fate it is still owed. */
  readonly received: Set<number>;
  /** processed, resumed: the slots the client says it is owed fates of (from before its reconnect). */
  readonly resumeSlots: readonly number[];
  /** finalized: committed changes waiting for their slot to be finalized, in cursor order. */
  held: { readonly change: Change; readonly op: ChangeOp }[];
  /** Stops its speculative or finalized-slot stream. */
  detachCommitment: (() => void) | null;
}
