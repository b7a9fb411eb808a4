// The ingester: follows the configured programs through a web3.js Connection and writes what their
// decoders make of it.
//
// - live: a program-account subscription and a logs subscription per program; a logged signature
//   is fetched with getTransaction; everything is decoded and written in arrival order, in batches.
// - catch-up: once the subscriptions are confirmed (at start, and again after every websocket drop)
//   the signatures since the program's checkpoint are read back page by page and their
//   transactions written oldest first, after the current state of the accounts they touched. On
//   the very first start the program's accounts are loaded with getProgramAccounts instead.
// - checkpoints advance with the rows they cover, and only over a stretch known to be complete: a
//   live transaction moves the checkpoint only if it arrived while no gap was open.
import { Connection, PublicKey, type VersionedTransactionResponse } from '@solana/web3.js';
import type { ChangeFeed } from '../capture/types.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/connection.ts';
import { upsertRows } from '../db/repositories/index.ts';
import type { Logger } from '../log.ts';
import type { DecodedRow, ProgramDecoder, TransactionInput } from '../programs/types.ts';
import { backfillProgress } from './progress.ts';
import { mapConcurrent, toTransactionInput, withRetry, writableAccountsOf, type RetryPolicy } from './rpc.ts';
import { watchSocket, type SocketWatch } from './socket-state.ts';
import { BatchWriter, type Checkpoint, type Update, type UpsertRows } from './writer.ts';

export interface IngesterOptions {
  readonly db: Database;
  readonly config: Pick<Config, 'solana'>;
  readonly decoders: readonly ProgramDecoder[];
  /** Poked after every committed batch so the gateway reads the new changes at once. */
  readonly feed?: ChangeFeed | undefined;
  readonly logger: Logger;
  /** The idempotent row writer; the repository's upsertRows unless a benchmark swaps it. */
  readonly upsert?: UpsertRows;
}

export interface IngesterStats {
  /** Account notifications and loaded accounts decoded. */
  accountUpdates: number;
  /** Transactions fetched and decoded (live and catch-up). */
  transactions: number;
  /** Of which read back by a catch-up. */
  backfilledTransactions: number;
  rowsWritten: number;
  staleRows: number;
  decodeErrors: number;
  failedUpdates: number;
  batches: number;
  /** Websocket drops seen. */
  reconnects: number;
  catchUps: number;
}

export interface Ingester {
  /** Resolves when the subscriptions are live and the first catch-up is written. */
  readonly ready: Promise<void>;
  readonly stats: Readonly<IngesterStats>;
  readonly connection: Connection;
  /** Resolves once nothing is queued, no catch-up is running, and every write has committed. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

type LiveItem =
  | { kind: 'account'; programId: string; pubkey: string; data: Uint8Array; slot: number }
  | {
      kind: 'transaction';
      programId: string;
      signature: string;
      checkpointable: boolean;
      fetched: Promise<Fetched | null>;
    };

interface Fetched {
  readonly input: TransactionInput;
  readonly response: VersionedTransactionResponse;
}

/** getTransaction may answer null for a moment after a logs notification; these attempts wait for it. */
const MISSING_TRANSACTION = 'transaction not yet available';
const POLL_MS = 25;
const MULTIPLE_ACCOUNTS_CHUNK = 100;

export function startIngester(options: IngesterOptions): Ingester {
  const { db, decoders, logger } = options;
  const settings = options.config.solana;
  const connection = new Connection(settings.rpcUrl, {
    wsEndpoint: settings.wsUrl,
    commitment: settings.commitment,
    // 429s are retried here, with jitter and a bound, rather than by web3.js's own loop.
    disableRetryOnRateLimit: true,
  });
  const writer = new BatchWriter(db, { upsert: options.upsert ?? upsertRows, feed: options.feed, logger });
  const retry: RetryPolicy = { maxRetries: settings.rpcMaxRetries, baseMs: settings.rpcRetryBaseMs };
  const stats: IngesterStats = {
    accountUpdates: 0,
    transactions: 0,
    backfilledTransactions: 0,
    rowsWritten: 0,
    staleRows: 0,
    decodeErrors: 0,
    failedUpdates: 0,
    batches: 0,
    reconnects: 0,
    catchUps: 0,
  };
  const byProgram = new Map<string, ProgramDecoder[]>();
  for (const decoder of decoders) {
    const list = byProgram.get(decoder.programId) ?? [];
    list.push(decoder);
    byProgram.set(decoder.programId, list);
  }
  const programName = (programId: string) => (byProgram.get(programId) ?? []).map((d) => d.name).join('+') || programId;

  let closed = false;
  /** True while every transaction since the checkpoints is known to be written or queued. */
  let contiguous = false;
  /** Bumped by every websocket drop; a catch-up only closes the gap if none happened meanwhile. */
  let generation = 0;
  let catchUpNeeded = true;
  let catchUpRunning: Promise<void> | null = null;
  const queue: LiveItem[] = [];
  let draining: Promise<void> | null = null;
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  const subscriptionIds: number[] = [];
  const listenerRemovals: (() => Promise<void>)[] = [];
  let watch: SocketWatch | null = null;
  let supervisor: NodeJS.Timeout | null = null;

  const rpc = <T>(what: string, call: () => Promise<T>) => withRetry(what, call, retry, logger, () => closed);

  // --- decoding -------------------------------------------------------------------------------

  const decodeAccount = (programId: string, pubkey: string, data: Uint8Array, slot: number): Update => {
    stats.accountUpdates++;
    const rows: DecodedRow[] = [];
    for (const decoder of byProgram.get(programId) ?? []) {
      try {
        rows.push(...decoder.decodeAccount(pubkey, data, slot));
      } catch (error) {
        stats.decodeErrors++;
        logger.warn(
          { pubkey, program: decoder.name, slot, err: (error as Error).message },
          'account data does not decode; skipped',
        );
      }
    }
    return { rows, source: pubkey };
  };

  const decodeTransaction = (programId: string, tx: TransactionInput, checkpoint: boolean): Update => {
    stats.transactions++;
    const rows: DecodedRow[] = [];
    for (const decoder of byProgram.get(programId) ?? []) {
      try {
        rows.push(...decoder.decodeTransaction(tx));
      } catch (error) {
        stats.decodeErrors++;
        logger.warn(
          { signature: tx.signature, program: decoder.name, slot: tx.slot, err: (error as Error).message },
          'transaction does not decode; skipped',
        );
      }
    }
    const update: Update = { rows, source: tx.signature };
    return checkpoint ? { ...update, checkpoint: { programId, slot: tx.slot, signature: tx.signature } } : update;
  };

  const fetchTransaction = async (signature: string): Promise<Fetched> => {
    while (inFlight >= settings.rpcConcurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    inFlight++;
    try {
      const response = await rpc(`getTransaction ${signature}`, async () => {
        const got = await connection.getTransaction(signature, {
          maxSupportedTransactionVersion: 0,
          commitment: settings.commitment === 'processed' ? 'confirmed' : settings.commitment,
        });
        if (got === null) throw new Error(MISSING_TRANSACTION);
        return got;
      });
      return { input: toTransactionInput(signature, response), response };
    } finally {
      inFlight--;
      waiting.shift()?.();
    }
  };

  const write = async (updates: Update[]) => {
    if (updates.length === 0) return;
    const result = await writer.write(updates);
    stats.batches++;
    stats.rowsWritten += result.rowsWritten;
    stats.staleRows += result.staleRows;
    stats.failedUpdates += result.failedUpdates;
  };

  // --- live -----------------------------------------------------------------------------------

  const enqueue = (item: LiveItem) => {
    if (closed) return;
    queue.push(item);
    startDrain();
  };

  const startDrain = () => {
    draining ??= drain().finally(() => {
      draining = null;
      // Items that arrived while the last batch committed.
      if (queue.length > 0 && !closed) startDrain();
    });
  };

  const drain = async () => {
    const batch: Update[] = [];
    while (!closed) {
      const item = queue.shift();
      if (item === undefined) break;
      if (item.kind === 'account') {
        batch.push(decodeAccount(item.programId, item.pubkey, item.data, item.slot));
      } else {
        const fetched = await item.fetched;
        if (fetched !== null) batch.push(decodeTransaction(item.programId, fetched.input, item.checkpointable));
      }
      if (queue.length === 0 && batch.length < settings.batchSize && settings.flushMs > 0) {
        // A short wait lets a burst of notifications share one transaction.
        await new Promise((resolve) => setTimeout(resolve, settings.flushMs));
      }
      if (batch.length >= settings.batchSize || queue.length === 0) await write(batch.splice(0));
    }
  };

  const onLogs = (programId: string, signature: string) => {
    const checkpointable = contiguous;
    const fetched = fetchTransaction(signature).catch((error: unknown) => {
      if (!closed) {
        // Without this transaction the stretch since the checkpoint is no longer complete: read it back.
        logger.warn(
          { signature, program: programName(programId), err: (error as Error).message },
          'live transaction unavailable; catching up',
        );
        openGap();
      }
      return null;
    });
    enqueue({ kind: 'transaction', programId, signature, checkpointable, fetched });
  };

  const openGap = () => {
    contiguous = false;
    generation++;
    catchUpNeeded = true;
  };

  // --- catch-up -------------------------------------------------------------------------------

  const collectSignatures = async (programId: string, bound: { until?: string; afterSlot?: number; limit: number }) => {
    const out: { signature: string; slot: number }[] = [];
    let before: string | undefined;
    const address = new PublicKey(programId);
    while (out.length < bound.limit && !closed) {
      const limit = Math.min(settings.backfillPageSize, bound.limit - out.length);
      const page = await rpc(`getSignaturesForAddress ${programId}`, () =>
        connection.getSignaturesForAddress(
          address,
          {
            limit,
            ...(before === undefined ? {} : { before }),
            ...(bound.until === undefined ? {} : { until: bound.until }),
          },
          settings.commitment === 'processed' ? 'confirmed' : settings.commitment,
        ),
      );
      for (const entry of page) {
        if (bound.afterSlot !== undefined && entry.slot <= bound.afterSlot) return out;
        out.push({ signature: entry.signature, slot: entry.slot });
      }
      if (page.length < limit) break;
      before = page[page.length - 1]?.signature;
    }
    return out;
  };

  const refreshAccounts = async (programId: string, pubkeys: readonly string[]): Promise<Update[]> => {
    const updates: Update[] = [];
    for (let i = 0; i < pubkeys.length; i += MULTIPLE_ACCOUNTS_CHUNK) {
      const chunk = pubkeys.slice(i, i + MULTIPLE_ACCOUNTS_CHUNK);
      const { context, value } = await rpc(`getMultipleAccounts for ${programName(programId)}`, () =>
        connection.getMultipleAccountsInfoAndContext(chunk.map((k) => new PublicKey(k))),
      );
      value.forEach((info, j) => {
        if (info === null || info.owner.toBase58() !== programId) return;
        updates.push(decodeAccount(programId, chunk[j] as string, info.data, context.slot));
      });
    }
    return updates;
  };

  const backfillTransactions = async (
    programId: string,
    signatures: readonly { signature: string }[],
    refresh: boolean,
  ) => {
    const progress = backfillProgress(logger, { program: programId, name: programName(programId) }, signatures.length);
    for (let i = 0; i < signatures.length && !closed; i += settings.batchSize) {
      const window = signatures.slice(i, i + settings.batchSize);
      const fetched = await mapConcurrent(window, settings.rpcConcurrency, (s) => fetchTransaction(s.signature));
      const txUpdates = fetched.map((f) => decodeTransaction(programId, f.input, true));
      stats.backfilledTransactions += fetched.length;
      // Current state first: the transactions' own (older) state rows then yield to it, and their
      // events find the accounts they name.
      const touched = refresh
        ? [...new Set(fetched.flatMap((f) => writableAccountsOf(f.input, f.response, programId)))]
        : [];
      const accountUpdates = await refreshAccounts(programId, touched);
      await write([...accountUpdates, ...txUpdates]);
      progress.advance(window.length);
    }
    progress.finish();
  };

  const catchUpProgram = async (programId: string, checkpoint: Checkpoint | undefined) => {
    if (checkpoint === undefined) {
      const { context, value } = await rpc(`getProgramAccounts ${programId}`, () =>
        connection.getProgramAccounts(new PublicKey(programId), { commitment: settings.commitment, withContext: true }),
      );
      logger.info(
        { program: programName(programId), accounts: value.length, slot: context.slot },
        'loading current accounts',
      );
      const accounts = value.map((a) => decodeAccount(programId, a.pubkey.toBase58(), a.account.data, context.slot));
      for (let i = 0; i < accounts.length; i += settings.batchSize)
        await write(accounts.slice(i, i + settings.batchSize));
      const recent =
        settings.initialHistoryLimit === 0
          ? []
          : await collectSignatures(programId, { limit: settings.initialHistoryLimit });
      if (recent.length === 0) {
        await write([{ rows: [], source: programId, checkpoint: { programId, slot: context.slot, signature: null } }]);
      } else {
        await backfillTransactions(programId, recent.reverse(), false);
      }
      return;
    }
    const missed = await collectSignatures(programId, {
      limit: Number.MAX_SAFE_INTEGER,
      ...(checkpoint.signature === null ? { afterSlot: checkpoint.slot } : { until: checkpoint.signature }),
    });
    if (missed.length > 0) await backfillTransactions(programId, missed.reverse(), true);
  };

  const catchUp = async () => {
    const started = generation;
    catchUpNeeded = false;
    stats.catchUps++;
    const checkpoints = await writer.readCheckpoints();
    for (const programId of byProgram.keys()) {
      if (closed) return;
      await catchUpProgram(programId, checkpoints.get(programId));
    }
    await writer.drain();
    if (generation === started && !catchUpNeeded) contiguous = true;
  };

  /** Starts a catch-up when one is needed, nothing else is catching up, and every subscription is live. */
  const supervise = () => {
    if (closed || catchUpRunning !== null || !catchUpNeeded || watch === null) return;
    if (!watch.allSubscribed(subscriptionIds)) return;
    catchUpRunning = catchUp()
      .catch((error: unknown) => {
        if (closed) return;
        logger.error({ err: (error as Error).message }, 'catch-up failed; it will be retried');
        catchUpNeeded = true;
      })
      .finally(() => {
        catchUpRunning = null;
      });
  };

  // --- start ----------------------------------------------------------------------------------

  let resolveReady!: () => void;
  let rejectReady!: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // An ingester nobody awaits must not crash the process with an unhandled rejection.
  ready.catch(() => undefined);

  try {
    watch = watchSocket(connection, () => {
      if (closed) return;
      stats.reconnects++;
      logger.warn('RPC websocket dropped; catching up once resubscribed');
      openGap();
    });
    for (const programId of byProgram.keys()) {
      const key = new PublicKey(programId);
      const accountId = connection.onProgramAccountChange(
        key,
        (info, ctx) =>
          enqueue({
            kind: 'account',
            programId,
            pubkey: info.accountId.toBase58(),
            data: info.accountInfo.data,
            slot: ctx.slot,
          }),
        { commitment: settings.commitment, encoding: 'base64' },
      );
      const logsId = connection.onLogs(key, (logs) => onLogs(programId, logs.signature), settings.commitment);
      subscriptionIds.push(accountId, logsId);
      listenerRemovals.push(
        () => connection.removeProgramAccountChangeListener(accountId),
        () => connection.removeOnLogsListener(logsId),
      );
    }
    supervisor = setInterval(supervise, POLL_MS);
    const waitReady = setInterval(() => {
      if (closed) {
        clearInterval(waitReady);
        rejectReady(new Error('ingester closed before it was ready'));
      } else if (contiguous) {
        clearInterval(waitReady);
        logger.info({ programs: [...byProgram.keys()].map(programName) }, 'ingester live');
        resolveReady();
      }
    }, POLL_MS);
  } catch (error) {
    rejectReady(error as Error);
  }

  return {
    ready,
    stats,
    connection,
    async settled() {
      for (;;) {
        await catchUpRunning;
        await draining;
        await writer.drain();
        if (queue.length === 0 && catchUpRunning === null && draining === null && !catchUpNeeded) return;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      if (supervisor !== null) clearInterval(supervisor);
      watch?.stop();
      await Promise.allSettled(listenerRemovals.map((remove) => remove()));
      queue.length = 0;
      await Promise.allSettled([catchUpRunning, draining]);
      await writer.drain();
      watch?.closeSocket();
    },
  };
}
