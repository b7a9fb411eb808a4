// The client's public types. Topics, row types and columns come from the server's own catalogue
// (src/db/schema.ts) and the wire format from src/wire/protocol.ts: nothing here is retyped.
import type { ColumnOf, RowOf, TABLES, Topic } from '../../../src/db/schema.ts';
import type { ChangeOp, Commitment } from '../../../src/wire/index.ts';
import type { RetryOptions } from './backoff.ts';
import type { WebSocketConstructor } from './transport.ts';

export type { ChangeOp, ColumnOf, Commitment, RowOf, Topic, RetryOptions, WebSocketConstructor };

type ColumnDefOf<T extends Topic, C extends ColumnOf<T>> = (typeof TABLES)[T]['columns'][C];

/** Range operators are accepted on numeric columns only (u64 amounts, slots, counters, ids). */
type IsNumeric<D> = D extends { kind: 'u64' | 'i64' | 'int' | 'serial' } ? true : false;

export interface Range<V> {
  readonly gt?: V;
  readonly gte?: V;
  readonly lt?: V;
  readonly lte?: V;
}

/** A bare value (equality; `null` for IS NULL on nullable columns), `{in:[…]}`, or a range on numeric columns. */
export type Condition<T extends Topic, C extends ColumnOf<T>> =
  | RowOf<T>[C]
  | { readonly in: readonly NonNullable<RowOf<T>[C]>[] }
  | (IsNumeric<ColumnDefOf<T, C>> extends true ? Range<NonNullable<RowOf<T>[C]>> : never);

/** Column → condition; several columns mean AND. u64 amounts are decimal strings. */
export type Filter<T extends Topic> = { readonly [C in ColumnOf<T>]?: Condition<T, C> };

/** `true` for the server's default size, `{limit: N}` to choose it, `false` for none. */
export type SnapshotOption = boolean | { readonly limit: number };

export interface SubscribeOptions<T extends Topic> {
  readonly filter?: Filter<T>;
  /** Defaults to `true`. Ignored when `since` is given (resume instead of a snapshot). */
  readonly snapshot?: SnapshotOption;
  /** Resume after this cursor (from an earlier run); an expired one yields a `reset` and a snapshot. */
  readonly since?: string;
  /**
   * `confirmed` (the default): committed changes. `finalized`: committed changes once their slot is
   * finalized. `processed`: also speculative changes ahead of the database (`commitment:
   * 'processed'`, no cursor), `slot` events as their slots confirm, and `retract` events when one dies.
   */
  readonly commitment?: Commitment;
}

/** Why a subscription started over from a snapshot. */
export type ResetReason =
  /** The resume cursor is older than the server's change-log retention. */
  | 'cursor_expired'
  /** The server no longer knows the resume cursor (its change log was rebuilt). */
  | 'cursor_invalid'
  /** The resume cursor came from another database, or from this one before it was restored from a backup. */
  | 'cursor_epoch_mismatch'
  /** A processed subscription resumed owing fates of slots the server no longer knows. */
  | 'slots_unknown';

/** What `subscribe()` emits, in order: `subscribed`, then (when asked) `snapshot`, then `change`s. */
export type SubscriptionEvent<T extends Topic> =
  | {
      readonly type: 'subscribed';
      readonly topic: T;
      readonly cursor: string;
      /** True when this (re)subscription resumed from a cursor: nothing was missed. */
      readonly resumed: boolean;
    }
  | { readonly type: 'snapshot'; readonly topic: T; readonly rows: readonly RowOf<T>[]; readonly cursor: string }
  /** A committed change: resume after `cursor`. */
  | {
      readonly type: 'change';
      readonly topic: T;
      readonly op: ChangeOp;
      readonly row: RowOf<T>;
      readonly cursor: string;
      /** The chain slot it came from; null for a row no chain data made. */
      readonly slot: number | null;
      readonly commitment: 'confirmed' | 'finalized';
    }
  /**
   * A speculative change (processed subscriptions; on the wire a `change` at `commitment:
   * "processed"`): not in the change log yet, so no cursor; its committed twin follows once the
   * slot is confirmed, or a `retract` undoes it. A new row carries no `id` yet: apply changes by
   * natural key (naturalKeyOf).
   */
  | {
      readonly type: 'speculative';
      readonly topic: T;
      readonly op: ChangeOp;
      readonly row: RowOf<T>;
      readonly slot: number;
      readonly commitment: 'processed';
    }
  /**
   * A slot this processed subscription received speculative changes from is confirmed or
   * finalized; at finalized, `changes` (often empty) bring rows to what is stored, applied in order.
   */
  | {
      readonly type: 'slot';
      readonly topic: T;
      readonly slot: number;
      readonly commitment: 'confirmed' | 'finalized';
      readonly changes: readonly { readonly op: ChangeOp; readonly row: RowOf<T> }[];
    }
  /** A slot it received speculative changes from died: apply `changes` in order to undo them. */
  | {
      readonly type: 'retract';
      readonly topic: T;
      readonly slot: number;
      readonly changes: readonly { readonly op: ChangeOp; readonly row: RowOf<T> }[];
    }
  /** Changes were lost for good (see `reason`); a fresh `snapshot` follows. */
  | { readonly type: 'reset'; readonly topic: T; readonly reason: ResetReason };

export enum ClientState {
  /** Not connected and not trying (before the first subscription, after giving up or on 4401). */
  Disconnected = 'disconnected',
  /** Opening a socket, or waiting for the next reconnect attempt. */
  Connecting = 'connecting',
  Connected = 'connected',
  /** `close()` was called. Final. */
  Closed = 'closed',
}

export enum SubscriptionState {
  /** Not (yet) active on the server. */
  Unsubscribed = 'unsubscribed',
  /** Subscribe sent (or waiting for the connection). */
  Subscribing = 'subscribing',
  Subscribed = 'subscribed',
}

export interface StateChange<S> {
  readonly oldState: S;
  readonly newState: S;
}

/** A client state change, with why the connection dropped and when the next attempt is due. */
export interface ClientStateChange extends StateChange<ClientState> {
  /** Close code and reason of the drop that caused this change, when there was one. */
  readonly code?: number;
  readonly reason?: string;
  /** Reconnect attempt number (1 for the first after a drop) and its delay, when one is scheduled. */
  readonly attempt?: number;
  readonly delayMs?: number;
}

export interface ClientOptions {
  /** Websocket URL of the gateway, e.g. `ws://127.0.0.1:8080/ws`. */
  readonly url: string;
  /** API key, sent as the `solstream.key.<key>` subprotocol entry (works in browsers too). */
  readonly apiKey?: string;
  /** WebSocket class; defaults to the global one, else the `ws` package. */
  readonly WebSocket?: WebSocketConstructor;
  /** Reconnect backoff; see RetryOptions. */
  readonly retry?: RetryOptions;
  /** Interval of application pings; a connection silent for two intervals is dropped and reopened. Defaults to 15000. */
  readonly pingIntervalMs?: number;
  /** Give up on a socket that has not opened after this long, in ms. Defaults to 10000. */
  readonly connectTimeoutMs?: number;
}

export interface LiveOptions {
  /** Snapshot size for append-only topics; defaults to the server's. */
  readonly snapshot?: true | { readonly limit: number };
  /** `processed` for a set that shows speculative changes and drops them again when their slot dies. */
  readonly commitment?: Commitment;
}
