// The Yellowstone (Geyser gRPC) source, through the official client (@triton-one/yellowstone-grpc):
// one Subscribe stream with the programs' accounts (by owner), their transactions (by account
// include, failed ones too), slot updates and block meta (a transaction's block time), at the
// ingester's commitment. The server's pings are answered so proxies keep the stream open.
//
// Resume: on a restart with checkpoints, and after a broken stream, the stream asks for `from_slot`
// (the checkpoints' oldest slot, or the last slot seen). A server that replays sends everything
// since, and no RPC catch-up is needed; one that cannot (replay not supported, or the slot is out
// of range) is asked again without it, and the source reports a gap, which the ingester reads back
// over RPC.
import type { Commitment } from '../../config.ts';
import type { Logger } from '../../log.ts';
import type { TransactionInput } from '../../programs/types.ts';
import type { ChainReader } from '../chain.ts';
import { fromGeyserTransaction, type GeyserTransactionInfo } from './geyser-transactions.ts';
import type { LiveEvents, LiveSource, ResumePoint, SlotStatusKind } from './types.ts';
import { utils } from '@coral-xyz/anchor';

const bs58 = utils.bytes.bs58;

export interface GeyserSourceOptions {
  readonly url: string;
  readonly xToken: string | null;
  readonly programIds: readonly string[];
  readonly commitment: Commitment;
  /** For what a stream cannot give: a block time whose block meta never came. */
  readonly chain: ChainReader;
  readonly logger: Logger;
  /** Report every slot status (processed, confirmed, finalized, dead) with its parent, not only the commitment's. */
  readonly slotStatuses?: boolean;
  /**
   * Whether a transaction waits for its block's time (block meta, else getBlockTime) before it is
   * handed on (default true). The processed stream hands it on at once, without one.
   */
  readonly waitForBlockTime?: boolean;
}

/** The slice of the official client this source uses (its typings describe the CommonJS build). */
interface ClientStream extends NodeJS.EventEmitter {
  write(request: unknown, callback?: (error?: Error | null) => void): boolean;
  destroy(error?: Error): void;
}
interface YellowstoneClient {
  connect(): Promise<void>;
  subscribe(): Promise<ClientStream>;
}
interface YellowstoneModule {
  readonly Client: new (endpoint: string, xToken: string | undefined, options: undefined) => YellowstoneClient;
  /** A whole SubscribeRequest from the fields given (the client needs every field present). */
  readonly request: (parts: object) => unknown;
  readonly CommitmentLevel: Record<'PROCESSED' | 'CONFIRMED' | 'FINALIZED', number>;
  readonly decodeError: (bytes: Uint8Array) => unknown;
}

async function loadClient(): Promise<YellowstoneModule> {
  // Loaded on first use: the package's native transport is only needed when this source runs.
  type Exports = {
    default?: unknown;
    CommitmentLevel?: YellowstoneModule['CommitmentLevel'];
    SubscribeRequest?: { fromPartial(parts: object): unknown };
    txErrDecode?: { decode(bytes: Uint8Array): unknown };
  };
  const module = (await import('@triton-one/yellowstone-grpc')) as unknown as Exports;
  const root = (module.default ?? {}) as Exports;
  const Client = (root.default ?? root) as YellowstoneModule['Client'];
  const CommitmentLevel = module.CommitmentLevel ?? root.CommitmentLevel;
  const txErrDecode = module.txErrDecode ?? root.txErrDecode;
  const SubscribeRequest = module.SubscribeRequest ?? root.SubscribeRequest;
  if (
    typeof Client !== 'function' ||
    CommitmentLevel === undefined ||
    txErrDecode === undefined ||
    SubscribeRequest === undefined
  )
    throw new Error('@triton-one/yellowstone-grpc does not export its client as expected');
  return {
    Client,
    CommitmentLevel,
    request: (parts) => SubscribeRequest.fromPartial(parts),
    decodeError: (bytes) => txErrDecode.decode(bytes),
  };
}

interface Update {
  readonly account?: {
    readonly account?: { pubkey: Uint8Array; owner: Uint8Array; data: Uint8Array };
    readonly slot: string;
  };
  readonly transaction?: { readonly transaction?: GeyserTransactionInfo; readonly slot: string };
  readonly slot?: { readonly slot: string; readonly parent?: string; readonly status?: number };
  readonly block?: { readonly slot: string; readonly blockTime?: { readonly timestamp: string } };
  readonly blockMeta?: { readonly slot: string; readonly blockTime?: { readonly timestamp: string } };
  readonly ping?: object;
  readonly pong?: { readonly id: number };
}

/** Yellowstone's SlotStatus values this source reports (the rest are steps before processed). */
const STATUS_OF: Readonly<Record<number, SlotStatusKind>> = {
  0: 'processed',
  1: 'confirmed',
  2: 'finalized',
  6: 'dead',
};

/** How a server refuses a `from_slot`: not supported (INTERNAL), or too old (OUT_OF_RANGE). */
const REPLAY_REFUSED = /from_slot|out of range|is not available/i;
const RETRY_MAX_MS = 10_000;
/** How long a transaction waits for its block (its block time) before asking the RPC. */
const BLOCK_TIME_WAIT_MS = 1_000;

export function geyserSource(options: GeyserSourceOptions): LiveSource {
  const { logger } = options;
  const programIds = new Set(options.programIds);
  let events: LiveEvents | null = null;
  let client: YellowstoneClient | null = null;
  let stream: ClientStream | null = null;
  let closed = false;
  let live = false;
  let lastSlot: number | null = null;
  let attempt = 0;
  const blockTimes = new Map<number, { value: number | null; waiters: ((t: number | null) => void)[] }>();

  const blockTime = (slot: number): Promise<number | null> => {
    const known = blockTimes.get(slot);
    if (known?.value !== undefined && known.value !== null) return Promise.resolve(known.value);
    if (options.waitForBlockTime === false) return Promise.resolve(null);
    return new Promise((resolve) => {
      const entry = known ?? { value: null, waiters: [] };
      blockTimes.set(slot, entry);
      let done = false;
      const finish = (t: number | null) => {
        if (done) return;
        done = true;
        resolve(t);
      };
      entry.waiters.push(finish);
      setTimeout(() => {
        if (done) return;
        options.chain.connection.getBlockTime(slot).then(finish, () => finish(null));
      }, BLOCK_TIME_WAIT_MS).unref();
    });
  };

  const onBlockMeta = (slot: number, timestamp: number | null) => {
    const entry = blockTimes.get(slot) ?? { value: null, waiters: [] };
    entry.value = timestamp;
    blockTimes.set(slot, entry);
    for (const waiter of entry.waiters.splice(0)) waiter(timestamp);
    // Block times of slots long gone are not asked for again.
    if (blockTimes.size > 2_000) for (const key of [...blockTimes.keys()].slice(0, 1_000)) blockTimes.delete(key);
  };

  const handle = (update: Update, target: LiveEvents, { request, decodeError }: YellowstoneModule) => {
    if (update.ping !== undefined) {
      stream?.write(request({ ping: { id: 1 } }));
      return;
    }
    if (update.account?.account !== undefined) {
      const slot = Number(update.account.slot);
      const { pubkey, owner, data } = update.account.account;
      const programId = bs58.encode(owner);
      if (!programIds.has(programId)) return;
      target.slot(slot);
      target.account(programId, bs58.encode(pubkey), data, slot);
      return;
    }
    if (update.transaction?.transaction !== undefined) {
      const slot = Number(update.transaction.slot);
      const info = update.transaction.transaction;
      target.slot(slot);
      const signature = bs58.encode(info.signature);
      const input: Promise<TransactionInput | null> = blockTime(slot).then((time) =>
        fromGeyserTransaction(signature, slot, time, info, decodeError),
      );
      const keys = new Set(
        [
          ...(info.transaction?.message?.accountKeys ?? []),
          ...(info.meta?.loadedWritableAddresses ?? []),
          ...(info.meta?.loadedReadonlyAddresses ?? []),
        ].map((k) => bs58.encode(k)),
      );
      for (const programId of programIds) if (keys.has(programId)) target.transaction(programId, signature, input);
      return;
    }
    const block = update.block ?? update.blockMeta;
    if (block !== undefined) {
      const ts = block.blockTime?.timestamp;
      onBlockMeta(Number(block.slot), ts === undefined ? null : Number(ts));
      return;
    }
    if (update.slot !== undefined) {
      const slot = Number(update.slot.slot);
      target.slot(slot);
      const status = update.slot.status === undefined ? undefined : STATUS_OF[update.slot.status];
      if (options.slotStatuses === true && status !== undefined) {
        const parent = update.slot.parent === undefined ? undefined : Number(update.slot.parent);
        target.slotStatus?.(slot, status, parent);
      }
    }
  };

  const connect = async (fromSlot: number | null, target: LiveEvents): Promise<void> => {
    const yellowstone = await loadClient();
    const commitment =
      options.commitment === 'processed'
        ? yellowstone.CommitmentLevel.PROCESSED
        : options.commitment === 'finalized'
          ? yellowstone.CommitmentLevel.FINALIZED
          : yellowstone.CommitmentLevel.CONFIRMED;
    client = new yellowstone.Client(options.url, options.xToken ?? undefined, undefined);
    await client.connect();
    const current = await client.subscribe();
    stream = current;
    live = false;
    const ids = [...programIds];
    const request = yellowstone.request({
      accounts: { programs: { owner: ids } },
      // Votes never name these programs; failed transactions are kept (their transactions rows).
      transactions: { programs: { accountInclude: ids, vote: false } },
      // Only the commitment's own status, unless the processed stream follows every slot's fate:
      // then every status, and the updates between them (`interslot_updates`: created bank with its
      // parent, dead), without which Yellowstone sends no SLOT_DEAD.
      slots: {
        slots:
          options.slotStatuses === true
            ? { filterByCommitment: false, interslotUpdates: true }
            : { filterByCommitment: true },
      },
      // Blocks without their content, for their block time (the client drops an empty blocks_meta
      // filter, so the block filter stands in for it).
      blocks: {
        blocks: { accountInclude: ids, includeTransactions: false, includeAccounts: false, includeEntries: false },
      },
      commitment,
      ...(fromSlot === null ? {} : { fromSlot: String(fromSlot) }),
    });
    current.on('data', (update: Update) => {
      if (closed || current !== stream) return;
      if (!live) {
        // The server took the request (a from_slot it could not serve ends the stream instead).
        live = true;
        attempt = 0;
        if (fromSlot !== null) target.resumed();
      }
      handle(update, target, yellowstone);
    });
    current.on('error', (error: Error & { cause?: unknown }) => {
      if (closed || current !== stream) return;
      stream = null;
      live = false;
      // The official client reports the server's status in the message of `cause`
      // (`code: 'Internal error', message: "from_slot is not supported"`).
      const detail = `${error.message} ${error.cause instanceof Error ? error.cause.message : ''}`.trim();
      const noReplay = fromSlot !== null && REPLAY_REFUSED.test(detail);
      if (noReplay) {
        logger.warn(
          { fromSlot, err: detail },
          'the Geyser server cannot replay from that slot; reading the gap over RPC',
        );
        target.gap(`Geyser replay from slot ${fromSlot} refused`);
        schedule(null, target);
      } else {
        logger.warn({ err: detail }, 'the Geyser stream broke; resubscribing');
        // Resume where the stream stopped; a server without replay refuses, and the gap is read over
        // RPC. Before any slot was seen there is nothing to resume from: that is a gap at once.
        if (lastSlot === null) target.gap('the Geyser stream broke');
        schedule(lastSlot, target);
      }
    });
    current.on('end', () => {
      if (closed || current !== stream) return;
      current.emit('error', new Error('the Geyser stream ended'));
    });
    await new Promise<void>((resolve, reject) =>
      current.write(request, (error?: Error | null) => (error ? reject(error) : resolve())),
    );
    // Nudge the server: its pong (or its first update) confirms the subscription.
    current.write(yellowstone.request({ ping: { id: 0 } }));
  };

  const schedule = (fromSlot: number | null, target: LiveEvents) => {
    if (closed) return;
    const delay = Math.random() * Math.min(RETRY_MAX_MS, 200 * 2 ** attempt++);
    setTimeout(() => {
      connect(fromSlot, target).catch((error: Error) => {
        logger.warn({ err: error.message }, 'could not reach the Geyser endpoint; retrying');
        target.gap('Geyser endpoint unreachable');
        schedule(null, target);
      });
    }, delay).unref();
  };

  return {
    name: 'geyser',
    replays: true,
    start(target: LiveEvents, resume?: ResumePoint) {
      events = {
        ...target,
        slot: (slot) => {
          if (lastSlot === null || slot > lastSlot) lastSlot = slot;
          target.slot(slot);
        },
      };
      const wrapped = events;
      connect(resume?.fromSlot ?? null, wrapped).catch((error: Error) => {
        logger.warn({ err: error.message }, 'could not reach the Geyser endpoint; retrying');
        wrapped.gap('Geyser endpoint unreachable');
        schedule(null, wrapped);
      });
    },
    subscribed: () => live,
    async close() {
      closed = true;
      live = false;
      stream?.destroy();
      stream = null;
      client = null;
      events = null;
    },
  };
}
