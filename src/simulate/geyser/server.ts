// The local cluster's Yellowstone (Geyser gRPC) endpoint, served with @grpc/grpc-js. It streams
// the ledger as the Yellowstone plugin streams a validator: `processed` subscribers get each
// account write and transaction as it lands, `confirmed` and `finalized` subscribers get a slot's
// final account versions and transactions when the slot reaches their commitment, followed by its
// block and block meta; slot statuses (incl. first-shred, created-bank, completed and dead, which
// need `interslot_updates`) go to every subscriber. Like the server it answers pings, sends its own
// ping every 10 s (so proxies keep an idle stream open), replays kept slots for `from_slot` (or
// says it cannot), and ends a stream with a status on a bad request or a lagging reader.
import os from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { Commitment } from '../commitment.ts';
import { meetsCommitment } from '../commitment.ts';
import type { LedgerEvent, LedgerSlot, LocalLedger } from '../ledger.ts';
import { CLUSTER_VERSION } from '../rpc-methods.ts';
import {
  CODECS_VERSION,
  GEYSER_SERVICE,
  SlotStatus,
  type GetBlockHeightRequest,
  type GetBlockHeightResponse,
  type GetLatestBlockhashRequest,
  type GetLatestBlockhashResponse,
  type GetSlotRequest,
  type GetSlotResponse,
  type GetVersionResponse,
  type IsBlockhashValidRequest,
  type IsBlockhashValidResponse,
  type PingRequest,
  type PongResponse,
  type SubscribeReplayInfoResponse,
  type SubscribeRequest,
  type SubscribeUpdate,
} from './codecs.ts';
import { FilterError, GeyserFilter, decodeCommitment } from './filters.ts';
import type { GeyserMessage } from './messages.ts';
import { ReplayStore, blockMessages, frozenSlotMessages, slotStatusMessage } from './replay.ts';

/** The server's default `replay_stored_slots`. */
export const DEFAULT_REPLAY_SLOTS = 150;
/** How often the server pings each stream. */
export const DEFAULT_PING_INTERVAL_MS = 10_000;
/** The server's default per-stream channel capacity. */
export const DEFAULT_MAX_QUEUED_UPDATES = 250_000;
/** Blockhashes the server keeps below the finalized slot for IsBlockhashValid (MAX_RECENT_BLOCKHASHES + 32). */
const BLOCKHASH_RETENTION_SLOTS = 332;
/** GetLatestBlockhash's last valid block height is this far above the block (MAX_RECENT_BLOCKHASHES). */
const MAX_RECENT_BLOCKHASHES = 300;

export interface GeyserServerOptions {
  readonly ledger: LocalLedger;
  readonly host?: string;
  /** 0 (the default) for any free port. */
  readonly port?: number;
  /** Slots kept for `from_slot`; null answers every `from_slot` with "from_slot is not supported". */
  readonly replaySlots?: number | null;
  readonly pingIntervalMs?: number;
  /** When set, every call must carry this `x-token` metadata, as a provider's endpoint requires. */
  readonly xToken?: string;
  /** A stream whose client reads slower than this many queued updates is ended, as the server does. */
  readonly maxQueuedUpdates?: number;
}

export interface StreamBreak {
  readonly code: grpc.status;
  readonly details: string;
}

export interface GeyserServer {
  /** `http://host:port`, what a Yellowstone client is given as its endpoint. */
  readonly url: string;
  /** Subscribe streams open now. */
  streamCount(): number;
  /**
   * Ends every open Subscribe stream with `status` (UNAVAILABLE, as when a provider restarts a
   * node, by default); returns how many were ended. New streams are accepted as before.
   */
  breakStreams(status?: StreamBreak): number;
  /** The oldest slot `from_slot` can replay from, or null (nothing kept, or replay off). */
  firstReplayableSlot(): number | null;
  close(): Promise<void>;
}

type Channel = Commitment | 'all';
type SubscribeCall = grpc.ServerDuplexStream<SubscribeRequest, SubscribeUpdate>;

const SHUTDOWN_STATUS: StreamBreak = {
  code: grpc.status.UNAVAILABLE,
  details: 'server is shutting down try again later',
};

/** One Subscribe stream: its filter (none until the first valid request), pings and replay. */
class Session {
  private filter: GeyserFilter | null = null;
  private closed = false;
  private readonly pinger: NodeJS.Timeout;

  constructor(
    private readonly call: SubscribeCall,
    private readonly server: LocalGeyser,
  ) {
    // The server's ping timer fires at once and then every interval (a tokio interval's first tick).
    const ping = () => this.write({ filters: [], ping: {}, createdAt: new Date() });
    this.pinger = setInterval(ping, server.pingIntervalMs);
    this.pinger.unref();
    setImmediate(ping);
    call.on('data', (request: SubscribeRequest) => this.onRequest(request));
    // A client that half-closes keeps receiving, as on the real server; only cancellation ends it.
    call.on('cancelled', () => this.dispose());
    call.on('close', () => this.dispose());
    call.on('error', () => this.dispose());
  }

  get commitment(): Commitment {
    return this.filter?.commitment ?? 'processed';
  }

  deliver(messages: readonly GeyserMessage[]): void {
    const filter = this.filter;
    if (filter === null) return;
    for (const message of messages) {
      for (const update of filter.updatesFor(message, (slot) => this.server.ledger.blockhash(slot))) {
        if (!this.write(update)) return;
      }
    }
  }

  end(status: StreamBreak): void {
    if (this.closed) return;
    this.dispose();
    this.call.emit('error', { code: status.code, details: status.details, metadata: new grpc.Metadata() });
  }

  private onRequest(request: SubscribeRequest): void {
    let filter: GeyserFilter;
    try {
      filter = new GeyserFilter(request);
    } catch (error) {
      const details =
        error instanceof FilterError ? `failed to create filter: ${error.message}` : (error as Error).message;
      this.end({ code: error instanceof FilterError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL, details });
      return;
    }
    if (filter.ping !== undefined) {
      // A ping request only asks for a pong; the filters in force stay.
      this.write({ filters: [], pong: { id: filter.ping }, createdAt: new Date() });
      return;
    }
    this.filter = filter;
    if (request.fromSlot !== undefined) this.replay(Number(request.fromSlot));
  }

  private replay(fromSlot: number): void {
    const store = this.server.replayStore;
    if (store === null) {
      this.end({ code: grpc.status.INTERNAL, details: 'from_slot is not supported' });
      return;
    }
    const answer = store.replay(fromSlot, this.commitment);
    if (answer.kind === 'outOfRange') {
      this.end({
        code: grpc.status.OUT_OF_RANGE,
        details: `broadcast from ${fromSlot} is not available, last available: ${answer.firstAvailable}`,
      });
      return;
    }
    this.deliver(answer.messages);
  }

  private write(update: SubscribeUpdate): boolean {
    if (this.closed) return false;
    if (this.call.writableLength >= this.server.maxQueuedUpdates) {
      this.end({ code: grpc.status.INTERNAL, details: 'lagged to send an update' });
      return false;
    }
    this.call.write(update);
    return true;
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pinger);
    this.server.sessions.delete(this);
  }
}

class LocalGeyser {
  readonly sessions = new Set<Session>();
  readonly replayStore: ReplayStore | null;
  readonly pingIntervalMs: number;
  readonly maxQueuedUpdates: number;
  private readonly unlisten: () => void;

  constructor(
    readonly ledger: LocalLedger,
    options: GeyserServerOptions,
  ) {
    const replaySlots = options.replaySlots === undefined ? DEFAULT_REPLAY_SLOTS : options.replaySlots;
    this.replayStore = replaySlots === null ? null : new ReplayStore(replaySlots);
    this.pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    this.maxQueuedUpdates = options.maxQueuedUpdates ?? DEFAULT_MAX_QUEUED_UPDATES;
    this.unlisten = ledger.onEvent((event) => this.onLedgerEvent(event));
  }

  close(): void {
    this.unlisten();
  }

  subscribe(call: SubscribeCall): void {
    this.sessions.add(new Session(call, this));
  }

  private publish(channel: Channel, messages: readonly GeyserMessage[]): void {
    for (const session of [...this.sessions]) {
      if (channel === 'all' || session.commitment === channel) session.deliver(messages);
    }
  }

  private lifecycle(slot: LedgerSlot, status: SlotStatus, createdAt: Date, parent?: number, deadError?: string) {
    this.publish('all', [{ kind: 'slot', slot: slot.slot, parent, status, deadError, createdAt }]);
  }

  /** Routes ledger events the way the Yellowstone plugin and its block reconstruction do. */
  private onLedgerEvent(event: LedgerEvent): void {
    const createdAt = new Date();
    const { slot } = event;
    switch (event.type) {
      case 'slotStarted':
        this.lifecycle(slot, SlotStatus.SLOT_FIRST_SHRED_RECEIVED, createdAt);
        this.lifecycle(slot, SlotStatus.SLOT_CREATED_BANK, createdAt, slot.parent);
        break;
      case 'transaction':
        this.publish('processed', [
          ...event.updates.map((update): GeyserMessage => ({ kind: 'account', slot: slot.slot, update, createdAt })),
          { kind: 'transaction', slot: slot.slot, tx: event.tx, createdAt },
        ]);
        break;
      case 'slotProcessed':
        this.publish('processed', [{ kind: 'entry', slot, createdAt }]);
        this.lifecycle(slot, SlotStatus.SLOT_COMPLETED, createdAt);
        this.replayStore?.processed(slot, createdAt);
        this.publish('processed', blockMessages(slot, createdAt));
        this.publish('all', [slotStatusMessage(slot, 'processed', createdAt)]);
        break;
      case 'slotConfirmed':
      case 'slotFinalized': {
        const commitment = event.type === 'slotConfirmed' ? 'confirmed' : 'finalized';
        this.replayStore?.reached(slot, commitment, createdAt);
        this.publish(commitment, [...frozenSlotMessages(slot, createdAt), ...blockMessages(slot, createdAt)]);
        this.publish('all', [slotStatusMessage(slot, commitment, createdAt)]);
        break;
      }
      case 'slotDead':
        this.replayStore?.dead(slot.slot);
        this.lifecycle(slot, SlotStatus.SLOT_DEAD, createdAt, slot.parent, slot.deadError ?? '');
        break;
    }
  }
}

/** Unary answers read the block the ledger has at the asked commitment (processed by default). */
function blockAt(ledger: LocalLedger, level: number | undefined): LedgerSlot {
  let commitment: Commitment;
  try {
    commitment = decodeCommitment(level);
  } catch {
    throw serviceError(grpc.status.UNKNOWN, `failed to create CommitmentLevel from ${level}`);
  }
  const tip = ledger.tip(commitment);
  // The server knows blocks from the metadata the validator sent it; there is none before the first slot.
  if (tip.slot === ledger.genesisSlot) throw serviceError(grpc.status.INTERNAL, 'block is not available yet');
  return tip;
}

function serviceError(code: grpc.status, details: string): Partial<grpc.ServiceError> {
  return { code, details, metadata: new grpc.Metadata() };
}

function unary<Req, Res>(
  authorize: (metadata: grpc.Metadata) => boolean,
  answer: (request: Req) => Res,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    if (!authorize(call.metadata)) {
      callback(serviceError(grpc.status.UNAUTHENTICATED, 'No valid auth token'));
      return;
    }
    try {
      callback(null, answer(call.request));
    } catch (error) {
      callback(error as Partial<grpc.ServiceError>);
    }
  };
}

export async function startGeyserServer(options: GeyserServerOptions): Promise<GeyserServer> {
  const { ledger } = options;
  const geyser = new LocalGeyser(ledger, options);
  const authorize = (metadata: grpc.Metadata) =>
    options.xToken === undefined || metadata.get('x-token')[0]?.toString() === options.xToken;
  const server = new grpc.Server();
  server.addService(GEYSER_SERVICE, {
    Subscribe(call: SubscribeCall) {
      if (!authorize(call.metadata)) {
        call.emit('error', serviceError(grpc.status.UNAUTHENTICATED, 'No valid auth token'));
        return;
      }
      geyser.subscribe(call);
    },
    SubscribeDeshred(call: grpc.ServerDuplexStream<unknown, unknown>) {
      call.emit(
        'error',
        serviceError(grpc.status.UNIMPLEMENTED, 'the local cluster does not stream deshred transactions'),
      );
    },
    SubscribeReplayInfo: unary(authorize, (): SubscribeReplayInfoResponse => {
      const first = geyser.replayStore?.firstAvailable() ?? null;
      return first === null ? {} : { firstAvailable: String(first) };
    }),
    Ping: unary(authorize, (request: PingRequest): PongResponse => ({ count: request.count })),
    GetLatestBlockhash: unary(authorize, (request: GetLatestBlockhashRequest): GetLatestBlockhashResponse => {
      const block = blockAt(ledger, request.commitment);
      return {
        slot: String(block.slot),
        blockhash: block.blockhash,
        lastValidBlockHeight: String(block.blockHeight + MAX_RECENT_BLOCKHASHES),
      };
    }),
    GetBlockHeight: unary(authorize, (request: GetBlockHeightRequest): GetBlockHeightResponse => ({
      blockHeight: String(blockAt(ledger, request.commitment).blockHeight),
    })),
    GetSlot: unary(authorize, (request: GetSlotRequest): GetSlotResponse => ({
      slot: String(blockAt(ledger, request.commitment).slot),
    })),
    IsBlockhashValid: unary(authorize, (request: IsBlockhashValidRequest): IsBlockhashValidResponse => {
      const block = blockAt(ledger, request.commitment);
      const commitment = decodeCommitment(request.commitment);
      const of = ledger.blockhashSlot(request.blockhash);
      const valid =
        of !== null &&
        meetsCommitment(of.status, commitment) &&
        of.slot + BLOCKHASH_RETENTION_SLOTS >= ledger.slot('finalized');
      return { slot: String(block.slot), valid };
    }),
    GetVersion: unary(authorize, (): GetVersionResponse => ({
      version: JSON.stringify({
        version: {
          package: 'solstream-local-cluster',
          version: CODECS_VERSION,
          proto: CODECS_VERSION,
          solana: CLUSTER_VERSION['solana-core'],
          git: '',
          rustc: '',
          buildts: '',
        },
        extra: { hostname: os.hostname() },
      }),
    })),
  });

  const host = options.host ?? '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${urlHost}:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error === null ? resolve(bound) : reject(error),
      ),
    );
  } catch (error) {
    geyser.close();
    throw error;
  }

  return {
    url: `http://${urlHost}:${port}`,
    streamCount: () => geyser.sessions.size,
    breakStreams(status = SHUTDOWN_STATUS) {
      const sessions = [...geyser.sessions];
      for (const session of sessions) session.end(status);
      return sessions.length;
    },
    firstReplayableSlot: () => geyser.replayStore?.firstAvailable() ?? null,
    async close() {
      geyser.close();
      for (const session of [...geyser.sessions]) session.end(SHUTDOWN_STATUS);
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}
