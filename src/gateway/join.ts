// The join: how a subscription starts without gaps or duplicates. It attaches to the topic's hot
// stream first and buffers (the caller does that and passes `attachedAt`, the feed's position at
// that moment), then reads its starting point (a snapshot, a replay from the log, or the newest
// committed change), then drains the buffer. The subscription keeps its own position and every
// delivery drops changes at or below it, so a change is delivered once whether it was seen in the
// snapshot, the replay or the stream.
import { CursorEpochMismatchError, InvalidCursorError, type Change, type ChangeFeed } from '../capture/types.ts';
import type { Dialect } from '../config.ts';
import { compareCursors, formatCursor, parseCursor } from '../wire/cursor.ts';
import { MessageType, type ServerMessage, type SubscribeMessage } from '../wire/protocol.ts';
import { takeSnapshot } from './snapshot.ts';
import type { Subscription } from './subscription.ts';

/** Changes read from the log per replay query. */
export const REPLAY_PAGE = 1000;

/** What the join needs from its connection. */
export interface JoinContext {
  readonly feed: ChangeFeed;
  readonly dialect: Dialect;
  send(message: ServerMessage): void;
  /** Sends a snapshot frame; resolves once it is written. */
  sendSnapshot(message: ServerMessage): Promise<void>;
  deliver(subscription: Subscription, change: Change): void;
  /**
   * The subscription's first frame is about to go out: from now on its speculative changes may be
   * sent. Returns the snapshot rows to send (a processed snapshot has speculative rows laid over).
   */
  started(subscription: Subscription, rows: readonly Record<string, unknown>[]): Record<string, unknown>[];
}

/** The change-log offset a resume starts after; throws for a cursor of another log. */
export function resumeOffset(feed: ChangeFeed, since: string): string {
  const parts = parseCursor(since);
  if (parts === null) throw new InvalidCursorError(since);
  // A bare offset (no epoch) is read as a position in this log, as before epochs existed.
  if (parts.epoch !== null && parts.epoch !== feed.epoch) {
    throw new CursorEpochMismatchError(since, parts.epoch, feed.epoch);
  }
  return parts.offset;
}

export async function join(
  context: JoinContext,
  subscription: Subscription,
  request: SubscribeMessage,
  snapshotLimit: number,
  attachedAt: string,
): Promise<void> {
  const { feed, dialect } = context;
  const { id, topic } = subscription;
  const wire = (offset: string) => formatCursor(feed.epoch, offset);
  if (request.snapshot !== undefined && request.snapshot !== false) {
    const snapshot = await takeSnapshot(feed, dialect, {
      topic,
      filter: subscription.filter,
      limit: snapshotLimit,
      refuseTruncation: true,
    });
    if (subscription.state === 'closed') return;
    subscription.position = snapshot.offset;
    const rows = context.started(subscription, snapshot.rows);
    context.send({ type: MessageType.Subscribed, id, topic, cursor: snapshot.cursor });
    await context.sendSnapshot({ type: MessageType.Snapshot, id, rows, cursor: snapshot.cursor });
  } else if (request.since !== undefined) {
    const since = resumeOffset(feed, request.since);
    // Replay (since, attachedAt] from the log in pages; the hot stream buffer covers the rest.
    // The first read also validates the cursor (expired, or never issued by this database).
    let page = await feed.replay(topic, since, attachedAt, REPLAY_PAGE);
    if (subscription.state === 'closed') return;
    subscription.position = since;
    context.send({ type: MessageType.Subscribed, id, topic, cursor: wire(since) });
    context.started(subscription, []);
    for (;;) {
      for (const change of page) context.deliver(subscription, change);
      const last = page.at(-1);
      if (last === undefined || page.length < REPLAY_PAGE || subscription.state !== 'joining') break;
      page = await feed.replay(topic, last.cursor, attachedAt, REPLAY_PAGE);
    }
  } else {
    // Start at the newest committed change, which may be ahead of what this process has read so far
    // (one read: a subscription without a snapshot holds no transaction open).
    const cursor = await feed.newest();
    if (subscription.state === 'closed') return;
    subscription.position = compareCursors(cursor, attachedAt) > 0 ? cursor : attachedAt;
    context.send({ type: MessageType.Subscribed, id, topic, cursor: wire(subscription.position) });
    context.started(subscription, []);
  }
  if (subscription.state !== 'joining') return;
  const buffered = subscription.buffer;
  subscription.buffer = [];
  subscription.state = 'live';
  for (const change of buffered) context.deliver(subscription, change);
}
