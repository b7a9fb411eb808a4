// @solstream/client: a typed client for the solstream gateway, for Node and browsers.
export { createClient, naturalKeyOf, SolstreamClient } from './client.ts';
export { ClientErrorCode, ErrorCode, SolstreamError, type SolstreamErrorCode } from './errors.ts';
export { backoffDelay } from './backoff.ts';
export {
  ClientState,
  SubscriptionState,
  type ChangeOp,
  type ClientOptions,
  type ClientStateChange,
  type ColumnOf,
  type Condition,
  type Filter,
  type LiveOptions,
  type Range,
  type ResetReason,
  type RetryOptions,
  type RowOf,
  type SnapshotOption,
  type StateChange,
  type SubscribeOptions,
  type SubscriptionEvent,
  type Topic,
  type WebSocketConstructor,
} from './types.ts';
export { TOPICS, TABLES } from '../../../src/db/schema.ts';
export { compareCursors, isCursor, parseCursor, type CursorParts } from '../../../src/wire/cursor.ts';
