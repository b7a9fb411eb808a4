// The solstream websocket protocol: every message, error code and close code, and the one place
// where client input is validated. Server and clients both import this module, so it stays free of
// Node-only imports. PROTOCOL.md mirrors it; change both together.
import { isCursor } from './cursor.ts';

/** Every message type. The comment on each member says who sends it. */
export enum MessageType {
  /** Client → server: start a subscription (with an optional snapshot or a resume cursor). */
  Subscribe = 'subscribe',
  /** Client → server: end a subscription. */
  Unsubscribe = 'unsubscribe',
  /** Client → server: application-level keepalive; answered with `pong`. */
  Ping = 'ping',

  /** Server → client: the subscription exists; changes after `cursor` will follow. */
  Subscribed = 'subscribed',
  /** Server → client: the subscription is gone; nothing more will arrive for its id. */
  Unsubscribed = 'unsubscribed',
  /** Server → client: the rows matching a subscription at `cursor`. */
  Snapshot = 'snapshot',
  /** Server → client: one change matching a subscription (committed, or speculative at `processed`). */
  Change = 'change',
  /** Server → client (processed subscriptions): a slot whose changes this subscription received is now confirmed. */
  Slot = 'slot',
  /** Server → client (processed subscriptions): a slot died; these changes undo what it delivered. */
  Retract = 'retract',
  /** Server → client: a request failed (with `id` when it concerns a subscription). */
  Error = 'error',
  /** Server → client: answer to `ping`. */
  Pong = 'pong',
}

/** Stable error codes carried by `error` messages. */
export enum ErrorCode {
  /** The frame is not valid JSON. */
  BadJson = 'bad_json',
  /** The message is JSON but not a valid message (not an object, missing or mistyped field). */
  InvalidMessage = 'invalid_message',
  /** `type` is not one the server accepts from clients. */
  UnknownType = 'unknown_type',
  /** `topic` is not a seed table name. */
  UnknownTopic = 'unknown_topic',
  /** The filter names an unknown column, uses an operator the column does not support, or a value of the wrong type. */
  InvalidFilter = 'invalid_filter',
  /** `snapshot` is neither `true`/`false` nor `{"limit":N}` with N in 1..max. */
  InvalidSnapshot = 'invalid_snapshot',
  /** A state-table snapshot would hold more rows than the server's limit; narrow the filter. */
  SnapshotTooLarge = 'snapshot_too_large',
  /** `since` is not a cursor (a decimal string), or is ahead of the server's change log. */
  InvalidCursor = 'invalid_cursor',
  /** `since` is older than the change log's retention: take a new snapshot. */
  CursorExpired = 'cursor_expired',
  /**
   * `since` was issued by another database's change log, or by this one before it was restored
   * from a backup (its epoch is not the server's): take a new snapshot.
   */
  CursorEpochMismatch = 'cursor_epoch_mismatch',
  /** A subscription with this id is already active on this connection. */
  DuplicateId = 'duplicate_id',
  /** `unsubscribe` for an id that is not active on this connection. */
  UnknownSubscription = 'unknown_subscription',
  /** The connection already has the maximum number of subscriptions. */
  TooManySubscriptions = 'too_many_subscriptions',
  /** More messages per second than allowed; this message was ignored. */
  RateLimited = 'rate_limited',
  /** The API key may not read this topic. */
  ForbiddenTopic = 'forbidden_topic',
  /** `commitment` is not `processed`, `confirmed` or `finalized` (or this gateway cannot serve it). */
  InvalidCommitment = 'invalid_commitment',
  /** A resumed processed subscription named a slot whose fate the server no longer knows: take a new snapshot. */
  SlotsUnknown = 'slots_unknown',
  /** The server failed; the subscription (if any) was not created or has ended. */
  InternalError = 'internal_error',
}

/**
 * Close codes the server uses. 1xxx are standard websocket codes; 4xxx are solstream's.
 * A connection dropped without a close frame (code 1006 on the client) means the heartbeat found it dead.
 */
export enum CloseCode {
  /** The server is shutting down; reconnect (to another instance) and resume with `since`. */
  GoingAway = 1001,
  /** A frame exceeded the maximum frame size (the `ws` library sends this standard code). */
  FrameTooLarge = 1009,
  /** The server failed unexpectedly. */
  InternalError = 1011,
  /** Missing or unknown API key. */
  Unauthorized = 4401,
  /** The connection's send buffer passed its bound: the client reads too slowly. Resume with `since`. */
  SlowConsumer = 4408,
  /** The client kept sending above the message rate limit after `rate_limited` errors. */
  RateLimitAbuse = 4429,
}

/** Websocket subprotocol clients may offer; an API key can ride along as a second protocol entry. */
export const SUBPROTOCOL = 'solstream.v1';
/** Prefix of the subprotocol entry that carries an API key: `solstream.key.<key>`. */
export const KEY_SUBPROTOCOL_PREFIX = 'solstream.key.';

export type ChangeOp = 'insert' | 'update' | 'delete';

/**
 * How settled a change is. `processed`: seen in a slot that may still be dropped (a minority fork);
 * `confirmed`: voted on by a supermajority (what the database holds); `finalized`: rooted, final.
 */
export type Commitment = 'processed' | 'confirmed' | 'finalized';
export const COMMITMENTS: readonly Commitment[] = ['processed', 'confirmed', 'finalized'];

/** A JSON scalar a filter compares with. u64 values as decimal strings (or safe integers). */
export type FilterScalar = string | number | boolean;

export interface InCondition {
  readonly in: readonly FilterScalar[];
}

export interface RangeCondition {
  readonly gt?: string | number;
  readonly gte?: string | number;
  readonly lt?: string | number;
  readonly lte?: string | number;
}

/** A bare value (equality, `null` for IS NULL), `{"in":[…]}`, or a range on a numeric column. */
export type FilterCondition = FilterScalar | null | InCondition | RangeCondition;

/** Column name → condition; several keys mean AND. */
export type Filter = Readonly<Record<string, FilterCondition>>;

export interface SubscribeMessage {
  readonly type: MessageType.Subscribe;
  /** Chosen by the client, unique among its active subscriptions; echoed on every related message. */
  readonly id: string;
  /** A seed table name, e.g. `escrows`. */
  readonly topic: string;
  readonly filter?: Filter;
  /** `true` for the default size, `{limit:N}` to choose it; absent or `false` for none. */
  readonly snapshot?: boolean | { readonly limit: number };
  /** Resume: deliver every matching change after this cursor, then live. Excludes `snapshot`. */
  readonly since?: string;
  /**
   * `confirmed` (the default): committed changes as they commit. `finalized`: committed changes once
   * their slot is finalized. `processed`: also speculative changes as soon as their slot is
   * processed, `slot` notices when such a slot confirms and `retract` when it dies.
   */
  readonly commitment?: Commitment;
  /**
   * processed, resuming with `since`: the slots whose speculative changes the client received
   * before it lost the connection and whose fate it was not told. The server answers each with a
   * `slot` notice or a `retract` (or fails the subscription with `slots_unknown` when it no longer
   * knows one: take a new snapshot).
   */
  readonly slots?: readonly number[];
}

export interface UnsubscribeMessage {
  readonly type: MessageType.Unsubscribe;
  readonly id: string;
}

export interface PingMessage {
  readonly type: MessageType.Ping;
}

export interface SubscribedMessage {
  readonly type: MessageType.Subscribed;
  readonly id: string;
  readonly topic: string;
  /** Position the subscription starts from: every matching change after it will be delivered. */
  readonly cursor: string;
}

export interface UnsubscribedMessage {
  readonly type: MessageType.Unsubscribed;
  readonly id: string;
}

export interface SnapshotMessage {
  readonly type: MessageType.Snapshot;
  readonly id: string;
  readonly rows: readonly Readonly<Record<string, unknown>>[];
  /** The change-log position the rows reflect. */
  readonly cursor: string;
}

/** A committed change: in the change log, at `cursor`. */
export interface ChangeMessage {
  readonly type: MessageType.Change;
  readonly id: string;
  readonly topic: string;
  readonly op: ChangeOp;
  /** The row after the change (before it, for a delete). */
  readonly row: Readonly<Record<string, unknown>>;
  /** Its position in the change log: resume after it with `since`. */
  readonly cursor: string;
  /** The chain slot the change came from; null for a row no chain data made (another writer's). */
  readonly slot: number | null;
  /** How settled the change is as delivered: `confirmed`, or `finalized` on a finalized subscription. */
  readonly commitment: 'confirmed' | 'finalized';
}

/**
 * A speculative change (processed subscriptions only): seen in a processed slot, ahead of the
 * database, with no place in the change log yet (no cursor). The slot may still die: a `retract`
 * then undoes it. Its committed twin follows as an ordinary change once the slot is confirmed.
 */
export interface ProcessedChangeMessage {
  readonly type: MessageType.Change;
  readonly id: string;
  readonly topic: string;
  readonly op: ChangeOp;
  readonly row: Readonly<Record<string, unknown>>;
  readonly slot: number;
  readonly commitment: 'processed';
}

/** A processed subscription's slot reached `commitment`: the speculative changes it received from it stand. */
export interface SlotMessage {
  readonly type: MessageType.Slot;
  readonly id: string;
  readonly slot: number;
  readonly commitment: 'confirmed' | 'finalized';
  /**
   * finalized only, when present: rows as stored where they differ from the speculative values
   * this slot delivered (what a processed view cannot give exactly, such as a row's `id` or a
   * creation slot read later from history). Applied in order, like a retraction's changes.
   */
  readonly changes?: readonly RetractedChange[];
}

/** One change of a retraction: applied like a change, it restores what the dead slot changed. */
export interface RetractedChange {
  readonly topic: string;
  readonly op: ChangeOp;
  readonly row: Readonly<Record<string, unknown>>;
}

/**
 * A slot a processed subscription received speculative changes from died (its fork was dropped):
 * `changes`, applied in order, undo exactly what it delivered: a state row returns to its value
 * without that slot, an event row it inserted is deleted.
 */
export interface RetractMessage {
  readonly type: MessageType.Retract;
  readonly id: string;
  readonly slot: number;
  readonly changes: readonly RetractedChange[];
}

export interface ErrorMessage {
  readonly type: MessageType.Error;
  /** The subscription id the error concerns, when there is one. */
  readonly id?: string;
  readonly code: ErrorCode;
  readonly message: string;
}

export interface PongMessage {
  readonly type: MessageType.Pong;
}

export type ClientMessage = SubscribeMessage | UnsubscribeMessage | PingMessage;
export type ServerMessage =
  | SubscribedMessage
  | UnsubscribedMessage
  | SnapshotMessage
  | ChangeMessage
  | ProcessedChangeMessage
  | SlotMessage
  | RetractMessage
  | ErrorMessage
  | PongMessage;

/** Why a client message was rejected, ready to be sent back as an `error` message. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The subscription id, when the message carried a usable one. */
    readonly id?: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }

  toMessage(): ErrorMessage {
    return this.id === undefined
      ? { type: MessageType.Error, code: this.code, message: this.message }
      : { type: MessageType.Error, id: this.id, code: this.code, message: this.message };
  }
}

/** Longest subscription id accepted. */
export const MAX_ID_LENGTH = 128;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readId(message: Record<string, unknown>): string {
  const id = message.id;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new ProtocolError(
      ErrorCode.InvalidMessage,
      `"id" must be a non-empty string of at most ${MAX_ID_LENGTH} characters`,
    );
  }
  return id;
}

const SUBSCRIBE_FIELDS = new Set(['type', 'id', 'topic', 'filter', 'snapshot', 'since', 'commitment', 'slots']);
/** Most slots a resumed processed subscription may name (a few seconds of slots is usual). */
export const MAX_PENDING_SLOTS = 1000;

function validateSubscribe(message: Record<string, unknown>): SubscribeMessage {
  const id = readId(message);
  for (const key of Object.keys(message)) {
    if (!SUBSCRIBE_FIELDS.has(key)) {
      throw new ProtocolError(ErrorCode.InvalidMessage, `unknown field "${key}" in subscribe`, id);
    }
  }
  if (typeof message.topic !== 'string') {
    throw new ProtocolError(ErrorCode.InvalidMessage, '"topic" must be a string', id);
  }
  const filter = message.filter;
  if (filter !== undefined && filter !== null && !isPlainObject(filter)) {
    throw new ProtocolError(ErrorCode.InvalidFilter, '"filter" must be an object of column → condition', id);
  }
  const snapshot = message.snapshot;
  if (snapshot !== undefined && typeof snapshot !== 'boolean') {
    const limit = isPlainObject(snapshot) ? snapshot.limit : undefined;
    if (
      !isPlainObject(snapshot) ||
      Object.keys(snapshot).some((k) => k !== 'limit') ||
      typeof limit !== 'number' ||
      !Number.isSafeInteger(limit) ||
      limit < 1
    ) {
      throw new ProtocolError(
        ErrorCode.InvalidSnapshot,
        '"snapshot" must be true, false or {"limit": N} with N a positive integer',
        id,
      );
    }
  }
  const since = message.since;
  if (since !== undefined && !isCursor(since)) {
    throw new ProtocolError(ErrorCode.InvalidCursor, '"since" must be a cursor string as sent by the server', id);
  }
  if (since !== undefined && snapshot !== undefined && snapshot !== false) {
    throw new ProtocolError(
      ErrorCode.InvalidMessage,
      '"snapshot" and "since" exclude each other: resume with since, or start over with a snapshot',
      id,
    );
  }
  const commitment = message.commitment;
  if (commitment !== undefined && !(COMMITMENTS as readonly unknown[]).includes(commitment)) {
    throw new ProtocolError(
      ErrorCode.InvalidCommitment,
      '"commitment" must be "processed", "confirmed" or "finalized"',
      id,
    );
  }
  const slots = message.slots;
  if (slots !== undefined) {
    if (
      !Array.isArray(slots) ||
      slots.length > MAX_PENDING_SLOTS ||
      !slots.every((slot) => Number.isSafeInteger(slot) && (slot as number) >= 0)
    ) {
      throw new ProtocolError(
        ErrorCode.InvalidMessage,
        `"slots" must be an array of at most ${MAX_PENDING_SLOTS} slot numbers`,
        id,
      );
    }
    if (commitment !== 'processed' || since === undefined) {
      throw new ProtocolError(ErrorCode.InvalidMessage, '"slots" goes with "since" and "commitment":"processed"', id);
    }
  }
  return {
    type: MessageType.Subscribe,
    id,
    topic: message.topic,
    ...(isPlainObject(filter) ? { filter: filter as Filter } : {}),
    ...(snapshot !== undefined ? { snapshot: snapshot as SubscribeMessage['snapshot'] } : {}),
    ...(since !== undefined ? { since: since as string } : {}),
    ...(commitment !== undefined ? { commitment: commitment as Commitment } : {}),
    ...(slots !== undefined ? { slots: slots as number[] } : {}),
  };
}

/** Validates a decoded message from a client; throws ProtocolError. Filter contents are checked by filters.ts. */
export function validateClientMessage(value: unknown): ClientMessage {
  if (!isPlainObject(value)) throw new ProtocolError(ErrorCode.InvalidMessage, 'a message must be a JSON object');
  switch (value.type) {
    case MessageType.Subscribe:
      return validateSubscribe(value);
    case MessageType.Unsubscribe:
      return { type: MessageType.Unsubscribe, id: readId(value) };
    case MessageType.Ping:
      return { type: MessageType.Ping };
    default: {
      const id = typeof value.id === 'string' && value.id.length <= MAX_ID_LENGTH ? value.id : undefined;
      if (typeof value.type !== 'string') {
        throw new ProtocolError(ErrorCode.InvalidMessage, 'a message needs a string "type"', id);
      }
      throw new ProtocolError(
        ErrorCode.UnknownType,
        `unknown message type "${value.type.slice(0, 64)}" (expected subscribe, unsubscribe or ping)`,
        id,
      );
    }
  }
}

/** Parses one text frame from a client: the message, or the ProtocolError to answer with. */
export function parseClientMessage(raw: string): ClientMessage | ProtocolError {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return new ProtocolError(ErrorCode.BadJson, 'the frame is not valid JSON');
  }
  try {
    return validateClientMessage(value);
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
}

/** Serialises a server message (changes on the hot path use the gateway's cached body instead). */
export function stringifyServerMessage(message: ServerMessage): string {
  return JSON.stringify(message);
}

/** Serialises a client message. */
export function stringifyClientMessage(message: ClientMessage): string {
  return JSON.stringify(message);
}

const SERVER_TYPES = new Set<string>([
  MessageType.Subscribed,
  MessageType.Unsubscribed,
  MessageType.Snapshot,
  MessageType.Change,
  MessageType.Slot,
  MessageType.Retract,
  MessageType.Error,
  MessageType.Pong,
]);

/** Parses a frame from the server (for clients); throws on anything that is not a server message. */
export function parseServerMessage(raw: string): ServerMessage {
  const value: unknown = JSON.parse(raw);
  if (!isPlainObject(value) || typeof value.type !== 'string' || !SERVER_TYPES.has(value.type)) {
    throw new Error(`not a solstream server message: ${raw.slice(0, 200)}`);
  }
  return value as unknown as ServerMessage;
}
