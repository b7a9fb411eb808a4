// The solstream client: one websocket, any number of subscriptions, each an RxJS Observable.
//
// The client and each subscription are small state machines (see ClientState, SubscriptionState);
// state changes go through one mutator each, and every drop of the connection goes through
// `_disconnect(code, reason, reconnect)`. Each subscription keeps its own stream position (the last
// cursor it delivered); after a reconnect it resubscribes with `since` = that position, so the
// server replays exactly what was missed, and changes at or below the position are dropped as a
// safety net against duplicates.
import { BehaviorSubject, Observable, Subject, map, type Subscriber } from 'rxjs';
import { TABLES, type RowOf, type Topic } from '../../../src/db/schema.ts';
import {
  CloseCode,
  compareCursors,
  ErrorCode,
  KEY_SUBPROTOCOL_PREFIX,
  MAX_PENDING_SLOTS,
  MessageType,
  parseServerMessage,
  stringifyClientMessage,
  SUBPROTOCOL,
  type ClientMessage,
  type Commitment,
  type ServerMessage,
  type SubscribeMessage,
} from '../../../src/wire/index.ts';
import { backoffDelay, DEFAULT_RETRY, type RetryOptions } from './backoff.ts';
import { ClientErrorCode, SolstreamError } from './errors.ts';
import { CLOSED, frameText, OPEN, resolveWebSocket, type WebSocketLike } from './transport.ts';
import {
  ClientState,
  SubscriptionState,
  type ClientOptions,
  type ClientStateChange,
  type Filter,
  type LiveOptions,
  type ResetReason,
  type SnapshotOption,
  type StateChange,
  type SubscribeOptions,
  type SubscriptionEvent,
} from './types.ts';

/** Close code the client uses for its own drops (browsers allow only 1000 and 3000–4999). */
const CLIENT_CLOSE = 1000;
/** Pseudo close code for a connection that stopped answering pings or never opened. */
const NO_RESPONSE = 4000;

/** Per-subscription bookkeeping; the consumer sees only the Observable. */
class ClientSubscription<T extends Topic = Topic> {
  state = SubscriptionState.Unsubscribed;
  /** Id of the current server-side subscription; a fresh one per (re)subscribe. */
  serverId: string | null = null;
  /** Last cursor delivered (or the snapshot's); null before the first, and after a reset. */
  position: string | null;
  /** True when `position` came from the server rather than the caller's `since`. */
  positionFromServer = false;
  /** The current attempt asked for a snapshot, which has not arrived yet. */
  awaitingSnapshot = false;
  /** The current attempt resumes from `position`. */
  resuming = false;
  /** After a reset the next attempt takes a snapshot whatever the caller asked. */
  forceSnapshot = false;
  /** processed: slots speculative changes came from whose fate has not been told (sent on resume). */
  readonly pendingSlots = new Set<number>();

  constructor(
    readonly topic: T,
    readonly filter: Filter<T> | undefined,
    readonly snapshot: SnapshotOption,
    readonly commitment: Commitment | undefined,
    since: string | undefined,
    readonly observer: Subscriber<SubscriptionEvent<T>>,
    private readonly onState: (change: StateChange<SubscriptionState> & { topic: Topic }) => void,
  ) {
    this.position = since ?? null;
  }

  setState(newState: SubscriptionState): void {
    const oldState = this.state;
    if (oldState === newState) return;
    this.state = newState;
    this.onState({ oldState, newState, topic: this.topic });
  }

  emit(event: SubscriptionEvent<T>): void {
    this.observer.next(event);
  }
}

/** A row's key in `live()` sets: its natural key (e.g. an escrow's pubkey), columns joined by `|`. */
export function naturalKeyOf<T extends Topic>(topic: T, row: RowOf<T>): string {
  const columns: readonly string[] = TABLES[topic].naturalKey;
  const values = row as Readonly<Record<string, unknown>>;
  return columns.length === 1 ? String(values[columns[0] as string]) : columns.map((c) => String(values[c])).join('|');
}

export class SolstreamClient {
  private _state = ClientState.Disconnected;
  private readonly _stateChanges = new Subject<ClientStateChange>();
  private readonly _status: BehaviorSubject<ClientStateChange>;
  private readonly _errors = new Subject<SolstreamError>();
  private readonly _subscriptionStates = new Subject<StateChange<SubscriptionState> & { topic: Topic }>();
  private readonly retry: Required<RetryOptions>;
  private readonly subscriptions = new Set<ClientSubscription>();
  private readonly byServerId = new Map<string, ClientSubscription>();
  private socket: WebSocketLike | null = null;
  private nextServerId = 0;
  /** Reconnect attempts since the last healthy connection. */
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private heardSincePing = true;
  private closedSocket: Promise<void> = Promise.resolve();
  private _connections = 0;

  /** Every state change as `{oldState, newState}` (plus the drop's code and the retry schedule). */
  readonly stateChanges$: Observable<ClientStateChange>;
  /** The latest state change, replayed to each new subscriber (handy for status indicators). */
  readonly status$: Observable<ClientStateChange>;
  /** Errors that concern no subscription (e.g. `rate_limited`). */
  readonly errors$: Observable<SolstreamError>;
  /** Subscription state changes, for diagnostics. */
  readonly subscriptionStates$: Observable<StateChange<SubscriptionState> & { topic: Topic }>;

  constructor(private readonly options: ClientOptions) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this._status = new BehaviorSubject<ClientStateChange>({
      oldState: ClientState.Disconnected,
      newState: ClientState.Disconnected,
    });
    this.stateChanges$ = this._stateChanges.asObservable();
    this.status$ = this._status.asObservable();
    this.errors$ = this._errors.asObservable();
    this.subscriptionStates$ = this._subscriptionStates.asObservable();
  }

  get state(): ClientState {
    return this._state;
  }

  /** Successful connections so far (more than one means the client has reconnected). */
  get connections(): number {
    return this._connections;
  }

  /** Connects now (subscribing connects on demand anyway). */
  connect(): void {
    if (this._state === ClientState.Closed)
      throw new SolstreamError(ClientErrorCode.ClientClosed, 'the client is closed');
    if (this._state !== ClientState.Disconnected) return;
    this.attempt = 0;
    this._setState(ClientState.Connecting);
    void this._openSocket();
  }

  /**
   * Events of one subscription: `subscribed`, the snapshot (unless `snapshot: false`), then every
   * matching change, across reconnects, each exactly once. Errors are `SolstreamError`s.
   */
  subscribe<T extends Topic>(topic: T, options: SubscribeOptions<T> = {}): Observable<SubscriptionEvent<T>> {
    return new Observable<SubscriptionEvent<T>>((observer) => {
      if (this._state === ClientState.Closed) {
        observer.error(new SolstreamError(ClientErrorCode.ClientClosed, 'the client is closed', topic));
        return undefined;
      }
      const subscription = new ClientSubscription<T>(
        topic,
        options.filter,
        options.snapshot ?? true,
        options.commitment,
        options.since,
        observer,
        (change) => this._subscriptionStates.next(change),
      );
      this.subscriptions.add(subscription as unknown as ClientSubscription);
      if (this._state === ClientState.Connected) this._sendSubscribe(subscription as unknown as ClientSubscription);
      else if (this._state === ClientState.Disconnected) this.connect();
      return () => this._forget(subscription as unknown as ClientSubscription, true);
    });
  }

  /**
   * The current set of rows matching `filter`, keyed by natural key: the snapshot, then every change
   * applied (insert/update set the row, delete removes it). A `reset` replaces the whole set with the
   * fresh snapshot. Each emission is a new Map.
   *
   * The server tells the view when an update moves a row into it (insert) or out of it (delete), so
   * the set stays exact for any filter, e.g. `{ state: 'created' }`.
   */
  live<T extends Topic>(
    topic: T,
    filter?: Filter<T>,
    options: LiveOptions = {},
  ): Observable<ReadonlyMap<string, RowOf<T>>> {
    return new Observable<ReadonlyMap<string, RowOf<T>>>((observer) => {
      let rows = new Map<string, RowOf<T>>();
      let ready = false;
      const events = this.subscribe(topic, {
        ...(filter !== undefined ? { filter } : {}),
        snapshot: options.snapshot ?? true,
        ...(options.commitment !== undefined ? { commitment: options.commitment } : {}),
      });
      const apply = (op: string, row: RowOf<T>) => {
        if (op === 'delete') rows.delete(naturalKeyOf(topic, row));
        else rows.set(naturalKeyOf(topic, row), row);
      };
      return events
        .pipe(
          map((event): ReadonlyMap<string, RowOf<T>> | null => {
            switch (event.type) {
              case 'snapshot':
                rows = new Map(event.rows.map((row) => [naturalKeyOf(topic, row), row]));
                ready = true;
                return new Map(rows);
              case 'change':
              case 'speculative':
                apply(event.op, event.row);
                return ready ? new Map(rows) : null;
              case 'retract':
              case 'slot':
                if (event.changes.length === 0) return null;
                for (const change of event.changes) apply(change.op, change.row);
                return ready ? new Map(rows) : null;
              case 'reset':
                ready = false;
                return null;
              case 'subscribed':
                return null;
            }
          }),
        )
        .subscribe({
          next: (set) => set !== null && observer.next(set),
          error: (error: unknown) => observer.error(error),
          complete: () => observer.complete(),
        });
    });
  }

  /** Ends every subscription (their Observables complete), closes the socket and stops retrying. */
  close(): Promise<void> {
    if (this._state === ClientState.Closed) return this.closedSocket;
    this._setState(ClientState.Closed);
    this._disconnect(CLIENT_CLOSE, 'client closed', false);
    for (const subscription of [...this.subscriptions]) {
      this._forget(subscription, false);
      subscription.observer.complete();
    }
    this._stateChanges.complete();
    this._status.complete();
    this._errors.complete();
    this._subscriptionStates.complete();
    // A peer that never answers the closing handshake must not hold close() up for long.
    return Promise.race([
      this.closedSocket,
      new Promise<void>((resolve) => (setTimeout(resolve, 2000) as { unref?: () => void }).unref?.()),
    ]);
  }

  // -- state ---------------------------------------------------------------------------------------

  private _setState(newState: ClientState, detail: Omit<ClientStateChange, 'oldState' | 'newState'> = {}): void {
    const oldState = this._state;
    if (oldState === newState && detail.attempt === undefined) return;
    this._state = newState;
    const change: ClientStateChange = { oldState, newState, ...detail };
    this._stateChanges.next(change);
    this._status.next(change);
  }

  // -- connection ----------------------------------------------------------------------------------

  private async _openSocket(): Promise<void> {
    const WebSocketClass = await resolveWebSocket(this.options.WebSocket);
    if (this._state !== ClientState.Connecting || this.socket !== null) return;
    if (WebSocketClass === null) {
      const error = new SolstreamError(
        ClientErrorCode.NoWebSocket,
        'no WebSocket implementation found: pass the `ws` package as the WebSocket option',
      );
      this._disconnect(NO_RESPONSE, error.message, false);
      this._failAll(error);
      return;
    }
    const protocols = [SUBPROTOCOL];
    if (this.options.apiKey !== undefined) protocols.push(KEY_SUBPROTOCOL_PREFIX + this.options.apiKey);
    let socket: WebSocketLike;
    try {
      socket = new WebSocketClass(this.options.url, protocols) as WebSocketLike;
    } catch (error) {
      // A malformed URL throws at construction; retrying would not help.
      this._disconnect(NO_RESPONSE, (error as Error).message, false);
      this._failAll(
        new SolstreamError(ErrorCode.InternalError, `cannot open ${this.options.url}: ${(error as Error).message}`),
      );
      return;
    }
    this.socket = socket;
    let settle: () => void = () => undefined;
    this.closedSocket = new Promise<void>((resolve) => (settle = resolve));
    this.connectTimer = setTimeout(() => {
      if (this.socket === socket) this._disconnect(NO_RESPONSE, 'connect timeout', true);
    }, this.options.connectTimeoutMs ?? 10_000);
    socket.onopen = () => {
      if (this.socket === socket) this._onOpen();
    };
    socket.onmessage = (event) => {
      if (this.socket === socket) this._onMessage(event.data);
    };
    socket.onerror = () => undefined; // a close event follows with the code
    socket.onclose = (event) => {
      settle();
      if (this.socket === socket) this._disconnect(event.code, event.reason, event.code !== CloseCode.Unauthorized);
    };
  }

  private _onOpen(): void {
    this._clearTimer('connectTimer');
    this._connections += 1;
    this._setState(ClientState.Connected);
    // The pong proves the server speaks the protocol; only then is the backoff reset.
    this._send({ type: MessageType.Ping });
    this.heardSincePing = true;
    const interval = this.options.pingIntervalMs ?? 15_000;
    this.pingTimer = setInterval(() => {
      if (!this.heardSincePing) {
        this._disconnect(NO_RESPONSE, 'no response to ping', true);
        return;
      }
      this.heardSincePing = false;
      this._send({ type: MessageType.Ping });
    }, interval);
    (this.pingTimer as { unref?: () => void }).unref?.();
    for (const subscription of this.subscriptions) this._sendSubscribe(subscription);
  }

  /** The one way a connection ends: release the socket, then reconnect (with backoff) or stop. */
  private _disconnect(code: number, reason: string, reconnect: boolean): void {
    this._clearTimer('connectTimer');
    this._clearTimer('reconnectTimer');
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) {
      socket.onopen = null;
      socket.onmessage = null;
      if (socket.readyState !== CLOSED) {
        try {
          socket.close(CLIENT_CLOSE, reason.slice(0, 100));
        } catch {
          // closing a socket that is still connecting throws in some implementations
        }
      }
    }
    this.byServerId.clear();
    for (const subscription of this.subscriptions) {
      subscription.serverId = null;
      subscription.setState(reconnect ? SubscriptionState.Subscribing : SubscriptionState.Unsubscribed);
    }
    if (this._state === ClientState.Closed) return;
    if (code === CloseCode.Unauthorized) {
      this._setState(ClientState.Disconnected, { code, reason });
      this._failAll(
        new SolstreamError(ClientErrorCode.Unauthorized, `the gateway refused the API key (${code} ${reason})`),
      );
      return;
    }
    if (!reconnect || this.attempt >= this.retry.maxAttempts) {
      this._setState(ClientState.Disconnected, { code, reason });
      return;
    }
    const delayMs = backoffDelay(this.attempt, this.retry);
    this.attempt += 1;
    this._setState(ClientState.Connecting, { code, reason, attempt: this.attempt, delayMs });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this._openSocket();
    }, delayMs);
  }

  private _clearTimer(name: 'connectTimer' | 'reconnectTimer'): void {
    const timer = this[name];
    if (timer !== null) clearTimeout(timer);
    this[name] = null;
  }

  private _send(message: ClientMessage): void {
    if (this.socket !== null && this.socket.readyState === OPEN) this.socket.send(stringifyClientMessage(message));
  }

  // -- subscriptions -------------------------------------------------------------------------------

  private _sendSubscribe(subscription: ClientSubscription): void {
    const serverId = String(++this.nextServerId);
    subscription.serverId = serverId;
    this.byServerId.set(serverId, subscription);
    const resume = subscription.position !== null && !subscription.forceSnapshot;
    subscription.resuming = resume;
    const snapshot: SnapshotOption = subscription.forceSnapshot
      ? subscription.snapshot === false
        ? true
        : subscription.snapshot
      : subscription.snapshot;
    subscription.awaitingSnapshot = !resume && snapshot !== false;
    const message: SubscribeMessage = {
      type: MessageType.Subscribe,
      id: serverId,
      topic: subscription.topic,
      ...(subscription.filter !== undefined ? { filter: subscription.filter as SubscribeMessage['filter'] } : {}),
      ...(resume ? { since: subscription.position as string } : snapshot !== false ? { snapshot } : {}),
      ...(subscription.commitment !== undefined ? { commitment: subscription.commitment } : {}),
      // A processed subscription resuming is owed the fates of the slots it has speculative changes of.
      ...(resume && subscription.commitment === 'processed' && subscription.pendingSlots.size > 0
        ? { slots: [...subscription.pendingSlots].slice(-MAX_PENDING_SLOTS) }
        : {}),
    };
    // Without a resume, the snapshot (or the live stream) starts over: no fates are owed.
    if (!resume) subscription.pendingSlots.clear();
    subscription.setState(SubscriptionState.Subscribing);
    this._send(message);
  }

  /** Drops a subscription from the client (and from the server when `unsubscribe` is true). */
  private _forget(subscription: ClientSubscription, unsubscribe: boolean): void {
    if (!this.subscriptions.delete(subscription)) return;
    const serverId = subscription.serverId;
    subscription.serverId = null;
    if (serverId !== null) {
      this.byServerId.delete(serverId);
      if (unsubscribe) this._send({ type: MessageType.Unsubscribe, id: serverId });
    }
    subscription.setState(SubscriptionState.Unsubscribed);
  }

  private _fail(subscription: ClientSubscription, error: SolstreamError): void {
    this._forget(subscription, false);
    subscription.observer.error(error);
  }

  private _failAll(error: SolstreamError): void {
    for (const subscription of [...this.subscriptions]) {
      this._fail(subscription, new SolstreamError(error.code, error.message, subscription.topic));
    }
  }

  private _reset(subscription: ClientSubscription, reason: ResetReason): void {
    if (subscription.serverId !== null) this.byServerId.delete(subscription.serverId);
    subscription.position = null;
    subscription.positionFromServer = false;
    subscription.forceSnapshot = true;
    subscription.pendingSlots.clear();
    subscription.emit({ type: 'reset', topic: subscription.topic, reason });
    if (this.subscriptions.has(subscription) && this._state === ClientState.Connected)
      this._sendSubscribe(subscription);
  }

  // -- messages ------------------------------------------------------------------------------------

  private _onMessage(data: unknown): void {
    this.heardSincePing = true;
    const text = frameText(data);
    let message: ServerMessage;
    try {
      if (text === null) throw new Error('binary frame');
      message = parseServerMessage(text);
    } catch (error) {
      this._errors.next(
        new SolstreamError(ErrorCode.InvalidMessage, `unreadable server frame: ${(error as Error).message}`),
      );
      return;
    }
    switch (message.type) {
      case MessageType.Pong:
        this.attempt = 0;
        return;
      case MessageType.Unsubscribed:
        return;
      case MessageType.Error: {
        const subscription = message.id === undefined ? undefined : this.byServerId.get(message.id);
        if (subscription === undefined) {
          this._errors.next(new SolstreamError(message.code, message.message));
          return;
        }
        if (message.code === ErrorCode.CursorExpired && subscription.position !== null) {
          this._reset(subscription, 'cursor_expired');
        } else if (message.code === ErrorCode.CursorEpochMismatch && subscription.position !== null) {
          this._reset(subscription, 'cursor_epoch_mismatch');
        } else if (message.code === ErrorCode.InvalidCursor && subscription.positionFromServer) {
          this._reset(subscription, 'cursor_invalid');
        } else if (message.code === ErrorCode.SlotsUnknown) {
          this._reset(subscription, 'slots_unknown');
        } else {
          this._fail(subscription, new SolstreamError(message.code, message.message, subscription.topic));
        }
        return;
      }
    }
    const subscription = this.byServerId.get(message.id);
    if (subscription === undefined) return; // a late frame for a subscription already left behind
    switch (message.type) {
      case MessageType.Subscribed:
        subscription.setState(SubscriptionState.Subscribed);
        subscription.forceSnapshot = false;
        if (!subscription.awaitingSnapshot && !subscription.resuming) {
          subscription.position = message.cursor;
          subscription.positionFromServer = true;
        }
        subscription.emit({
          type: 'subscribed',
          topic: subscription.topic,
          cursor: message.cursor,
          resumed: subscription.resuming,
        });
        return;
      case MessageType.Snapshot:
        // The position moves only once the rows are here: a drop before this resubscribes with a snapshot.
        subscription.awaitingSnapshot = false;
        subscription.position = message.cursor;
        subscription.positionFromServer = true;
        subscription.emit({
          type: 'snapshot',
          topic: subscription.topic,
          rows: message.rows as unknown as RowOf<Topic>[],
          cursor: message.cursor,
        });
        return;
      case MessageType.Change:
        if (message.commitment === 'processed') {
          // Speculative: no place in the log, so the resume position stays where it is.
          subscription.pendingSlots.add(message.slot);
          subscription.emit({
            type: 'speculative',
            topic: subscription.topic,
            op: message.op,
            row: message.row as unknown as RowOf<Topic>,
            slot: message.slot,
            commitment: 'processed',
          });
          return;
        }
        if (subscription.position !== null && compareCursors(message.cursor, subscription.position) <= 0) return;
        subscription.position = message.cursor;
        subscription.positionFromServer = true;
        subscription.emit({
          type: 'change',
          topic: subscription.topic,
          op: message.op,
          row: message.row as unknown as RowOf<Topic>,
          cursor: message.cursor,
          slot: message.slot ?? null,
          commitment: message.commitment ?? 'confirmed',
        });
        return;
      case MessageType.Slot:
        if (message.commitment === 'finalized') subscription.pendingSlots.delete(message.slot);
        subscription.emit({
          type: 'slot',
          topic: subscription.topic,
          slot: message.slot,
          commitment: message.commitment,
          changes: (message.changes ?? []).map((c) => ({ op: c.op, row: c.row as unknown as RowOf<Topic> })),
        });
        return;
      case MessageType.Retract:
        subscription.pendingSlots.delete(message.slot);
        subscription.emit({
          type: 'retract',
          topic: subscription.topic,
          slot: message.slot,
          changes: message.changes.map((c) => ({ op: c.op, row: c.row as unknown as RowOf<Topic> })),
        });
        return;
    }
  }
}

/** Creates a client; it connects when the first subscription starts (or on `connect()`). */
export function createClient(options: ClientOptions): SolstreamClient {
  return new SolstreamClient(options);
}
