// One websocket connection as the protocol core sees it: its messages (subscribe, unsubscribe,
// ping), rate limit, subscriptions, and the delivery of changes to them with the slow-consumer bound.
import type { Change, ChangeFeed, ChangeOp } from '../capture/types.ts';
import { CursorEpochMismatchError, CursorExpiredError, InvalidCursorError } from '../capture/types.ts';
import type { Dialect } from '../config.ts';
import { isTopic, TABLES, type Topic } from '../db/schema.ts';
import { compareCursors } from '../wire/cursor.ts';
import {
  CloseCode,
  ErrorCode,
  MessageType,
  parseClientMessage,
  ProtocolError,
  stringifyServerMessage,
  type ServerMessage,
  type SubscribeMessage,
} from '../wire/protocol.ts';
import { compileFilter, FilterError, type CompiledFilter } from './filters.ts';
import {
  attachFinalized,
  attachProcessed,
  holdUntilFinalized,
  overlaySnapshot,
  resumeOwed,
  supersededFor,
  unknownSlot,
  type CommitmentTarget,
} from './commitment.ts';
import { changeBody } from './frames.ts';
import { join, type JoinContext } from './join.ts';
import { RateLimiter } from './limits.ts';
import { SnapshotTooLargeError } from './snapshot.ts';
import type { Subscription } from './subscription.ts';
import type { ConnectionHandle, GatewayMetrics, GatewayOptions, GatewaySocket, Principal } from './types.ts';

/** Most changes a subscription holds while its snapshot or replay is read; past it the client is too slow. */
export const JOIN_BUFFER_LIMIT = 100_000;

const NO_SUBSCRIPTIONS: ReadonlyMap<string, Subscription> = new Map();

/** What a connection needs from the gateway that holds it. */
export interface ConnectionHost {
  readonly options: GatewayOptions;
  readonly metrics: GatewayMetrics;
  /** Routes `topic`'s changes that can be in `filter`'s view to `target`; returns the detach function. */
  attach(topic: Topic, target: (change: Change) => void, filter?: CompiledFilter): () => void;
  delivered(change: Change): void;
  /** What `change` is to `filter`'s view, shared by the subscriptions with that filter (fanout.ts). */
  view(filter: CompiledFilter, change: Change): ChangeOp | null;
  /** `build()`'s frame for `change`, shared by the subscriptions that would build the same one. */
  frame(change: Change, key: string, build: () => string): Buffer | string;
  forget(connection: Connection): void;
}

export class Connection implements ConnectionHandle, JoinContext, CommitmentTarget {
  /** Its subscriptions; made at the first one (an idle connection is kept as small as it can be). */
  private subscriptionsById: Map<string, Subscription> | null = null;
  private readonly limiter: RateLimiter;
  /** Bytes of snapshot frames still being written; not counted against the slow-consumer bound. */
  private snapshotBytesInFlight = 0;
  private done = false;

  constructor(
    private readonly gateway: ConnectionHost,
    private readonly socket: GatewaySocket,
    private readonly principal: Principal,
  ) {
    this.limiter = new RateLimiter(gateway.options.limits.maxMessagesPerSecond);
  }

  private get subscriptions(): ReadonlyMap<string, Subscription> {
    return this.subscriptionsById ?? NO_SUBSCRIPTIONS;
  }

  private get options(): GatewayOptions {
    return this.gateway.options;
  }

  private get metrics(): GatewayMetrics {
    return this.gateway.metrics;
  }

  get feed(): ChangeFeed {
    return this.options.feed;
  }

  get dialect(): Dialect {
    return this.options.dialect;
  }

  send(message: ServerMessage): void {
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
    subscription.detachCommitment?.();
    subscription.detachCommitment = null;
    subscription.buffer = [];
    subscription.held = [];
    this.subscriptionsById?.delete(subscription.id);
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
    if (request.commitment === 'finalized' && this.options.speculative === undefined) {
      return new ProtocolError(
        ErrorCode.InvalidCommitment,
        'this gateway does not follow finalized slots; subscribe at confirmed',
        id,
      );
    }
    if (request.slots !== undefined && request.slots.length > 0) {
      const unknown =
        this.options.speculative === undefined
          ? request.slots[0]
          : unknownSlot(this.options.speculative, { topic, resumeSlots: request.slots });
      if (unknown !== null && unknown !== undefined) {
        return new ProtocolError(
          ErrorCode.SlotsUnknown,
          `the fate of slot ${unknown} is no longer known here; subscribe again with a snapshot`,
          id,
        );
      }
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
      commitment: request.commitment ?? 'confirmed',
      speculativeLive: false,
      received: new Set(),
      resumeSlots: request.slots ?? [],
      held: [],
      detachCommitment: null,
    };
    (this.subscriptionsById ??= new Map()).set(request.id, subscription);
    const speculative = this.options.speculative;
    if (speculative !== undefined && subscription.commitment === 'processed') {
      subscription.detachCommitment = attachProcessed(speculative, subscription, this);
    } else if (speculative !== undefined && subscription.commitment === 'finalized') {
      subscription.detachCommitment = attachFinalized(speculative, subscription, (change, op) =>
        this.sendCommitted(subscription, change, op),
      );
    }
    this.metrics.subscriptionAdded(topic);
    // Attach first, then read the position: every change after it reaches this subscription.
    subscription.detach = this.gateway.attach(
      topic,
      (change) => this.onChange(subscription, change),
      subscription.filter,
    );
    const attachedAt = feed.position();
    join(this, subscription, request, checked.limit, attachedAt).catch((error: unknown) => {
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
    if (error instanceof CursorEpochMismatchError) {
      return new ProtocolError(ErrorCode.CursorEpochMismatch, `${error.message}; subscribe again with a snapshot`, id);
    }
    if (error instanceof SnapshotTooLargeError) return new ProtocolError(ErrorCode.SnapshotTooLarge, error.message, id);
    this.options.logger.error({ err: (error as Error).message, subscription: id }, 'subscription failed');
    return new ProtocolError(ErrorCode.InternalError, 'the subscription could not be started', id);
  }

  /** Sends a snapshot frame and waits until it is written, so its size never counts as slowness. */
  sendSnapshot(message: ServerMessage): Promise<void> {
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
      if (this.gateway.view(subscription.filter, change) === null) return;
      subscription.buffer.push(change);
      if (subscription.buffer.length > JOIN_BUFFER_LIMIT) this.slowConsumer();
    }
  }

  started(subscription: Subscription, rows: readonly Record<string, unknown>[]): Record<string, unknown>[] {
    const speculative = this.options.speculative;
    if (speculative === undefined || subscription.commitment !== 'processed') return rows as Record<string, unknown>[];
    subscription.speculativeLive = true;
    resumeOwed(speculative, subscription, this);
    return overlaySnapshot(speculative, subscription, rows);
  }

  deliver(subscription: Subscription, change: Change): void {
    if (this.done || subscription.state === 'closed') return;
    if (compareCursors(change.cursor, subscription.position) <= 0) return;
    const op = this.gateway.view(subscription.filter, change);
    if (op === null) return;
    subscription.position = change.cursor;
    const speculative = this.options.speculative;
    if (speculative !== undefined && subscription.commitment !== 'confirmed') {
      if (supersededFor(speculative, subscription, change)) return;
      if (subscription.commitment === 'finalized' && holdUntilFinalized(speculative, subscription, change, op)) {
        if (subscription.held.length > JOIN_BUFFER_LIMIT) this.slowConsumer();
        return;
      }
    }
    this.sendCommitted(subscription, change, op);
  }

  private sendCommitted(subscription: Subscription, change: Change, op: ChangeOp): void {
    if (this.done || !this.socket.isOpen) return;
    const level = subscription.commitment === 'finalized' ? 'finalized' : 'confirmed';
    const { framePrefix } = subscription;
    this.sendChangeFrame(
      this.gateway.frame(
        change,
        `${op}:${level}:${framePrefix}`,
        () => framePrefix + changeBody(change, op, this.options.feed.epoch, level) + '}',
      ),
    );
    this.gateway.delivered(change);
  }

  sendChangeFrame(frame: string | Buffer): void {
    if (this.done || !this.socket.isOpen) return;
    this.socket.send(frame);
    this.metrics.messageSent(MessageType.Change);
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
