// The protocol core, independent of the websocket library: `makeGateway(options).opened(socket)`
// handles one connection's messages and subscriptions. src/gateway/ws.ts adapts `ws` sockets to it.
//
// Join without gaps or duplicates: a subscription attaches to the topic's hot stream first and
// buffers, then reads its starting point (snapshot, replay or the feed's position), then drains
// the buffer. Each subscription keeps its own position and drops every change at or below it, so a
// change is delivered once whether it was seen in the snapshot, the replay or the stream.
import type { Subscription as RxSubscription } from 'rxjs';
import type { Change, ChangeFeed, ChangeOp } from '../capture/types.ts';
import { CursorExpiredError, InvalidCursorError } from '../capture/types.ts';
import type { Config, Dialect } from '../config.ts';
import { isTopic, TABLES, type Topic } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import { compileFilter, FilterError, type CompiledFilter } from './filters.ts';
import { RateLimiter } from './limits.ts';
import {
  CloseCode,
  compareCursors,
  ErrorCode,
  MessageType,
  parseClientMessage,
  ProtocolError,
  stringifyServerMessage,
  type ServerMessage,
  type SubscribeMessage,
} from './protocol.ts';
import { SnapshotTooLargeError, takeSnapshot } from './snapshot.ts';

/** What the core needs from a transport connection. */
export interface GatewaySocket {
  /** Queues a text frame; `sent` runs once it is handed to the operating system. */
  send(data: string, sent?: (error?: Error) => void): void;
  /** Bytes queued and not yet handed to the operating system. */
  readonly bufferedAmount: number;
  readonly isOpen: boolean;
  close(code: number, reason: string): void;
}

/** Who is connected: the API key's name (null on an open gateway) and the topics it may read. */
export interface Principal {
  readonly key: string | null;
  readonly topics: readonly string[] | '*';
}

/** Counters the core reports to; src/http/metrics.ts implements them with prom-client. */
export interface GatewayMetrics {
  connectionOpened(): void;
  connectionClosed(): void;
  subscriptionAdded(topic: Topic): void;
  subscriptionRemoved(topic: Topic): void;
  /** One server message handed to a socket, by message type. */
  messageSent(type: MessageType): void;
  /** Changes not delivered because the connection was cut off, by reason. */
  messagesDropped(reason: 'slow_consumer' | 'closed', count: number): void;
  /** A live change handed to its first socket; `committedAt` is when its transaction committed. */
  changeDelivered(committedAt: number): void;
}

export const noMetrics: GatewayMetrics = {
  connectionOpened: () => undefined,
  connectionClosed: () => undefined,
  subscriptionAdded: () => undefined,
  subscriptionRemoved: () => undefined,
  messageSent: () => undefined,
  messagesDropped: () => undefined,
  changeDelivered: () => undefined,
};

export interface GatewayOptions {
  readonly feed: ChangeFeed;
  readonly dialect: Dialect;
  readonly limits: Config['ws'];
  readonly logger: Logger;
  readonly metrics?: GatewayMetrics;
}

export interface ConnectionHandle {
  /** A text frame arrived. */
  message(data: string): void;
  /** A binary frame arrived (the protocol is text-only). */
  binary(): void;
  /** The transport closed; release every subscription. */
  closed(): void;
}

export interface Gateway {
  opened(socket: GatewaySocket, principal: Principal): ConnectionHandle;
  /** Open connections. */
  readonly connections: number;
  /** Closes every connection with `code` (1001 on shutdown) and stops accepting messages. */
  closeAll(code: number, reason: string): void;
}

/** Most changes a subscription holds while its snapshot or replay is read; past it the client is too slow. */
export const JOIN_BUFFER_LIMIT = 100_000;

/** Changes read from the log per replay query. */
const REPLAY_PAGE = 1000;

// A change is serialised once per op it is delivered as, whoever receives it: the shared part of
// its frame, cached per change.
const bodies = new WeakMap<Change, Partial<Record<ChangeOp, string>>>();

function changeBody(change: Change, op: ChangeOp): string {
  let cached = bodies.get(change);
  if (cached === undefined) {
    cached = {};
    bodies.set(change, cached);
  }
  let body = cached[op];
  if (body === undefined) {
    body =
      `"topic":${JSON.stringify(change.topic)},"op":${JSON.stringify(op)},` +
      `"row":${JSON.stringify(change.row)},"cursor":${JSON.stringify(change.cursor)}`;
    cached[op] = body;
  }
  return body;
}

/**
 * What a change is to a filtered view: an update that makes a row match arrives as an insert, one
 * that makes it stop matching as a delete (with the row's new values), one that matches before and
 * after as an update; null when the view does not see it at all.
 */
export function viewOp(filter: CompiledFilter, change: Change): ChangeOp | null {
  const now = filter.matches(change.row);
  if (change.op !== 'update' || change.oldRow === undefined) return now ? change.op : null;
  const before = filter.matches(change.oldRow);
  if (now) return before ? 'update' : 'insert';
  return before ? 'delete' : null;
}

type SubscriptionState = 'joining' | 'live' | 'closed';

interface Subscription {
  readonly id: string;
  /** `"type":"change","id":<id>,` ready to prefix a change body. */
  readonly framePrefix: string;
  readonly topic: Topic;
  readonly filter: CompiledFilter;
  state: SubscriptionState;
  /** Changes at or below this cursor have been delivered (or are in the snapshot). */
  position: string;
  buffer: Change[];
  /** Stops this subscription's share of the topic's stream. */
  detach: (() => void) | null;
}

class Connection implements ConnectionHandle {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly limiter: RateLimiter;
  /** Bytes of snapshot frames still being written; not counted against the slow-consumer bound. */
  private snapshotBytesInFlight = 0;
  private done = false;

  constructor(
    private readonly gateway: GatewayCore,
    private readonly socket: GatewaySocket,
    private readonly principal: Principal,
  ) {
    this.limiter = new RateLimiter(gateway.options.limits.maxMessagesPerSecond);
  }

  private get options(): GatewayOptions {
    return this.gateway.options;
  }

  private get metrics(): GatewayMetrics {
    return this.gateway.metrics;
  }

  private send(message: ServerMessage): void {
    if (this.done || !this.socket.isOpen) return;
    this.socket.send(stringifyServerMessage(message));
    this.metrics.messageSent(message.type);
  }

  private sendError(error: ProtocolError): void {
    this.send(error.toMessage());
  }

  /** Closes the connection once, dropping every subscription. */
  disconnect(code: number, reason: string): void {
    if (this.done) return;
    this.release(code === CloseCode.SlowConsumer ? 'slow_consumer' : 'closed');
    if (this.socket.isOpen) this.socket.close(code, reason);
  }

  message(data: string): void {
    if (this.done) return;
    const verdict = this.limiter.check();
    if (verdict === 'abuse') {
      this.options.logger.warn({ key: this.principal.key }, 'closing a connection that ignores rate limiting');
      this.disconnect(CloseCode.RateLimitAbuse, 'rate limit exceeded');
      return;
    }
    if (verdict === 'limited') {
      this.sendError(
        new ProtocolError(
          ErrorCode.RateLimited,
          `more than ${this.options.limits.maxMessagesPerSecond} messages per second; message ignored`,
        ),
      );
      return;
    }
    const parsed = parseClientMessage(data);
    if (parsed instanceof ProtocolError) {
      this.sendError(parsed);
      return;
    }
    switch (parsed.type) {
      case MessageType.Ping:
        this.send({ type: MessageType.Pong });
        return;
      case MessageType.Unsubscribe: {
        const subscription = this.subscriptions.get(parsed.id);
        if (subscription === undefined) {
          this.sendError(
            new ProtocolError(ErrorCode.UnknownSubscription, `no active subscription "${parsed.id}"`, parsed.id),
          );
          return;
        }
        this.remove(subscription);
        this.send({ type: MessageType.Unsubscribed, id: parsed.id });
        return;
      }
      case MessageType.Subscribe:
        this.subscribe(parsed);
        return;
    }
  }

  binary(): void {
    if (this.done) return;
    this.sendError(new ProtocolError(ErrorCode.InvalidMessage, 'binary frames are not accepted; send JSON text'));
  }

  closed(): void {
    this.release('closed');
  }

  private release(reason: 'slow_consumer' | 'closed'): void {
    if (this.done) return;
    this.done = true;
    let dropped = 0;
    for (const subscription of this.subscriptions.values()) {
      dropped += subscription.buffer.length;
      this.remove(subscription);
    }
    if (dropped > 0) this.metrics.messagesDropped(reason, dropped);
    this.gateway.forget(this);
  }

  private remove(subscription: Subscription): void {
    if (subscription.state === 'closed') return;
    subscription.state = 'closed';
    subscription.detach?.();
    subscription.detach = null;
    subscription.buffer = [];
    this.subscriptions.delete(subscription.id);
    this.metrics.subscriptionRemoved(subscription.topic);
  }

  /** Validates a subscribe request; returns the error to answer with, or the pieces to subscribe. */
  private check(request: SubscribeMessage): ProtocolError | { topic: Topic; filter: CompiledFilter; limit: number } {
    const { id } = request;
    const limits = this.options.limits;
    if (this.subscriptions.has(id)) {
      return new ProtocolError(ErrorCode.DuplicateId, `subscription "${id}" is already active`, id);
    }
    if (this.subscriptions.size >= limits.maxSubscriptions) {
      return new ProtocolError(
        ErrorCode.TooManySubscriptions,
        `at most ${limits.maxSubscriptions} subscriptions per connection`,
        id,
      );
    }
    if (!isTopic(request.topic)) {
      return new ProtocolError(ErrorCode.UnknownTopic, `unknown topic "${request.topic.slice(0, 64)}"`, id);
    }
    const topic = request.topic;
    if (this.principal.topics !== '*' && !this.principal.topics.includes(topic)) {
      return new ProtocolError(ErrorCode.ForbiddenTopic, `this API key may not read ${topic}`, id);
    }
    let filter: CompiledFilter;
    try {
      filter = compileFilter(topic, request.filter);
    } catch (error) {
      if (error instanceof FilterError) return new ProtocolError(ErrorCode.InvalidFilter, error.message, id);
      throw error;
    }
    const state = TABLES[topic].kind === 'state';
    let limit = state ? limits.snapshotMaxLimit : limits.snapshotDefaultLimit;
    if (typeof request.snapshot === 'object') {
      if (request.snapshot.limit > limits.snapshotMaxLimit) {
        return new ProtocolError(
          ErrorCode.InvalidSnapshot,
          `snapshot limit must be between 1 and ${limits.snapshotMaxLimit}`,
          id,
        );
      }
      limit = request.snapshot.limit;
    }
    return { topic, filter, limit };
  }

  private subscribe(request: SubscribeMessage): void {
    const checked = this.check(request);
    if (checked instanceof ProtocolError) {
      this.sendError(checked);
      return;
    }
    const { topic, filter } = checked;
    const feed = this.options.feed;
    const subscription: Subscription = {
      id: request.id,
      framePrefix: `{"type":"change","id":${JSON.stringify(request.id)},`,
      topic,
      filter,
      state: 'joining',
      position: '0',
      buffer: [],
      detach: null,
    };
    this.subscriptions.set(request.id, subscription);
    this.metrics.subscriptionAdded(topic);
    // Attach first, then read the position: every change after it reaches this subscription.
    subscription.detach = this.gateway.attach(topic, (change) => this.onChange(subscription, change));
    const attachedAt = feed.position();
    this.join(subscription, request, checked.limit, attachedAt).catch((error: unknown) => {
      if (subscription.state === 'closed') return;
      this.remove(subscription);
      this.sendError(this.joinError(error, request.id));
    });
  }

  private joinError(error: unknown, id: string): ProtocolError {
    if (error instanceof CursorExpiredError) {
      return new ProtocolError(ErrorCode.CursorExpired, `${error.message}; subscribe again with a snapshot`, id);
    }
    if (error instanceof InvalidCursorError) return new ProtocolError(ErrorCode.InvalidCursor, error.message, id);
    if (error instanceof SnapshotTooLargeError) return new ProtocolError(ErrorCode.SnapshotTooLarge, error.message, id);
    this.options.logger.error({ err: (error as Error).message, subscription: id }, 'subscription failed');
    return new ProtocolError(ErrorCode.InternalError, 'the subscription could not be started', id);
  }

  private async join(subscription: Subscription, request: SubscribeMessage, limit: number, attachedAt: string) {
    const { feed, dialect } = this.options;
    const { id, topic } = subscription;
    if (request.snapshot !== undefined && request.snapshot !== false) {
      const snapshot = await takeSnapshot(feed, dialect, {
        topic,
        filter: subscription.filter,
        limit,
        refuseTruncation: true,
      });
      if (subscription.state === 'closed') return;
      subscription.position = snapshot.cursor;
      this.send({ type: MessageType.Subscribed, id, topic, cursor: snapshot.cursor });
      await this.sendSnapshot({ type: MessageType.Snapshot, id, rows: snapshot.rows, cursor: snapshot.cursor });
    } else if (request.since !== undefined) {
      // Replay (since, attachedAt] from the log in pages; the hot stream buffer covers the rest.
      // The first read also validates the cursor (expired, or never issued by this database).
      let page = await feed.replay(topic, request.since, attachedAt, REPLAY_PAGE);
      if (subscription.state === 'closed') return;
      subscription.position = request.since;
      this.send({ type: MessageType.Subscribed, id, topic, cursor: request.since });
      for (;;) {
        for (const change of page) this.deliver(subscription, change);
        const last = page.at(-1);
        if (last === undefined || page.length < REPLAY_PAGE || subscription.state !== 'joining') break;
        page = await feed.replay(topic, last.cursor, attachedAt, REPLAY_PAGE);
      }
    } else {
      // Start at the newest committed change, which may be ahead of what this process has read so far.
      const { cursor } = await feed.snapshot(async () => null);
      if (subscription.state === 'closed') return;
      subscription.position = compareCursors(cursor, attachedAt) > 0 ? cursor : attachedAt;
      this.send({ type: MessageType.Subscribed, id, topic, cursor: subscription.position });
    }
    if (subscription.state !== 'joining') return;
    const buffered = subscription.buffer;
    subscription.buffer = [];
    subscription.state = 'live';
    for (const change of buffered) this.deliver(subscription, change);
  }

  /** Sends a snapshot frame and waits until it is written, so its size never counts as slowness. */
  private sendSnapshot(message: ServerMessage): Promise<void> {
    if (this.done || !this.socket.isOpen) return Promise.resolve();
    const frame = stringifyServerMessage(message);
    const bytes = Buffer.byteLength(frame);
    this.snapshotBytesInFlight += bytes;
    this.metrics.messageSent(message.type);
    return new Promise((resolve) => {
      this.socket.send(frame, () => {
        this.snapshotBytesInFlight -= bytes;
        resolve();
      });
    });
  }

  private onChange(subscription: Subscription, change: Change): void {
    if (subscription.state === 'live') {
      this.deliver(subscription, change);
    } else if (subscription.state === 'joining') {
      if (viewOp(subscription.filter, change) === null) return;
      subscription.buffer.push(change);
      if (subscription.buffer.length > JOIN_BUFFER_LIMIT) this.slowConsumer();
    }
  }

  private deliver(subscription: Subscription, change: Change): void {
    if (this.done || subscription.state === 'closed') return;
    if (compareCursors(change.cursor, subscription.position) <= 0) return;
    const op = viewOp(subscription.filter, change);
    if (op === null) return;
    subscription.position = change.cursor;
    if (!this.socket.isOpen) return;
    this.socket.send(subscription.framePrefix + changeBody(change, op) + '}');
    this.metrics.messageSent(MessageType.Change);
    this.gateway.delivered(change);
    if (this.socket.bufferedAmount - this.snapshotBytesInFlight > this.options.limits.maxBufferedBytes) {
      this.slowConsumer();
    }
  }

  private slowConsumer(): void {
    this.options.logger.warn(
      { key: this.principal.key, buffered: this.socket.bufferedAmount },
      'closing a slow consumer: its send buffer passed the bound',
    );
    this.disconnect(CloseCode.SlowConsumer, 'slow consumer: send buffer full');
  }
}

class GatewayCore implements Gateway {
  readonly metrics: GatewayMetrics;
  private readonly open = new Set<Connection>();
  private closing = false;

  constructor(readonly options: GatewayOptions) {
    this.metrics = options.metrics ?? noMetrics;
  }

  get connections(): number {
    return this.open.size;
  }

  // One RxJS subscription per topic for the whole gateway, fanning out to its subscriptions with a
  // plain loop: a thousand subscribers of one topic cost one Subject observer, not a thousand.
  private readonly routes = new Map<Topic, { stream: RxSubscription; targets: Set<(change: Change) => void> }>();

  /** Routes every change of `topic` to `target` from now on; returns the detach function. */
  attach(topic: Topic, target: (change: Change) => void): () => void {
    let route = this.routes.get(topic);
    if (route === undefined) {
      const targets = new Set<(change: Change) => void>();
      const stream = this.options.feed.topic$(topic).subscribe({
        next: (change) => {
          for (const deliver of targets) deliver(change);
        },
      });
      route = { stream, targets };
      this.routes.set(topic, route);
    }
    const { targets } = route;
    targets.add(target);
    return () => {
      targets.delete(target);
    };
  }

  /** The change most recently handed to a socket, so its lag is recorded once, not per subscriber. */
  private lastDelivered: Change | null = null;

  delivered(change: Change): void {
    // A change reaches all its subscribers in one synchronous emission, so comparing with the last
    // one is enough to see the first delivery of each.
    if (change === this.lastDelivered) return;
    this.lastDelivered = change;
    this.metrics.changeDelivered(change.committedAt);
  }

  opened(socket: GatewaySocket, principal: Principal): ConnectionHandle {
    const connection = new Connection(this, socket, principal);
    this.open.add(connection);
    this.metrics.connectionOpened();
    if (this.closing) connection.disconnect(CloseCode.GoingAway, 'server shutting down');
    return connection;
  }

  forget(connection: Connection): void {
    if (this.open.delete(connection)) this.metrics.connectionClosed();
  }

  closeAll(code: number, reason: string): void {
    this.closing = true;
    for (const connection of [...this.open]) connection.disconnect(code, reason);
  }
}

export function makeGateway(options: GatewayOptions): Gateway {
  return new GatewayCore(options);
}
