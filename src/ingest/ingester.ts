// The ingester: follows the configured programs through a live source and writes what their
// programs make of it, through the pipeline (decode → map → write).
//
// - live: the source's account updates and transactions, queued in arrival order and written in
//   batches.
// - catch-up: once every subscription is confirmed (at start, and again after every gap the
//   source reports) the programs' history since their checkpoints is read back (catch-up.ts).
// - checkpoints advance with the rows they cover, and only over a stretch known to be complete: a
//   live transaction moves its program's checkpoint only if it arrived while no gap was open.
import { Connection } from '@solana/web3.js';
import type { SpeculativeBus } from '../capture/speculative-bus.ts';
import type { ChangeFeed } from '../capture/types.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/connection.ts';
import type { Lease } from '../db/locks.ts';
import { upsertRows } from '../db/repositories/index.ts';
import type { Logger } from '../log.ts';
import type { AnyProgram, TransactionInput } from '../programs/types.ts';
import { CatchUp } from './catch-up.ts';
import { ChainReader } from './chain.ts';
import { noIngestMetrics, type IngestMetrics, type IngestPhase, type IngestSkipReason } from './metrics.ts';
import { Pipeline, ShuttingDownError, type IngestItem } from './pipeline.ts';
import { rpcWebSocketSource } from './sources/rpc-websocket.ts';
import { geyserSource } from './sources/geyser.ts';
import type { LiveEvents, LiveSource, ResumePoint } from './sources/types.ts';
import { startProcessedStream, type ProcessedStream } from './speculative.ts';
import { BatchWriter, type Checkpoint, type UpsertRows, type WriteResult } from './writer.ts';

export interface IngesterOptions {
  readonly db: Database;
  readonly config: Pick<Config, 'solana'>;
  readonly programs: readonly AnyProgram[];
  /** Poked after every committed batch so the gateway reads the new changes at once. */
  readonly feed?: ChangeFeed | undefined;
  readonly logger: Logger;
  readonly metrics?: IngestMetrics;
  /** The ingest lease this process holds; every batch checks it (several processes on one database). */
  readonly lease?: Lease | undefined;
  /** The idempotent row writer; the repository's upsertRows unless a benchmark swaps it. */
  readonly upsert?: UpsertRows;
  /** The live source; websocket RPC subscriptions unless given. */
  readonly source?: (chain: ChainReader) => LiveSource;
  /** Called once if the ingester stops on its own (its lease was taken over, a write failed for good). */
  readonly onFailure?: (error: Error) => void;
  /**
   * Where the processed stream announces to the gateways (capture/speculative-bus.ts); without one
   * there is no processed stream. SOLSTREAM_PROCESSED picks its source.
   */
  readonly speculative?: SpeculativeBus | undefined;
  /** The processed stream's source, when a test gives its own (else from SOLSTREAM_PROCESSED). */
  readonly processedSource?: (chain: ChainReader) => LiveSource | null;
}

export interface IngesterStats {
  /** Account notifications and loaded accounts decoded. */
  accountUpdates: number;
  /** Transactions decoded (live and catch-up). */
  transactions: number;
  rowsWritten: number;
  staleRows: number;
  /** Inputs or rows that produced nothing, by reason (all error-level logs). */
  skipped: Partial<Record<IngestSkipReason, number>>;
  batches: number;
  /** Gaps the source reported (websocket drops, unavailable transactions). */
  gaps: number;
  catchUps: number;
}

export interface IngesterStatus {
  readonly phase: IngestPhase;
  readonly source: string;
  /** Newest slot seen from the chain, null before the first. */
  readonly chainSlot: number | null;
  /** Seconds the oldest live update not yet written has waited (0 with nothing waiting). */
  readonly lagSeconds: number;
  /** Per program name, the slot up to which every transaction is written. */
  readonly checkpoints: Readonly<Record<string, number>>;
}

export interface Ingester {
  /** Resolves when the subscriptions are live and the first catch-up is written. */
  readonly ready: Promise<void>;
  readonly stats: Readonly<IngesterStats>;
  readonly connection: Connection;
  status(): IngesterStatus;
  /** Resolves once nothing is queued, no catch-up is running, and every write has committed. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

type LiveItem =
  | { kind: 'account'; programId: string; pubkey: string; data: Uint8Array; slot: number; at: number }
  | {
      kind: 'transaction';
      programId: string;
      checkpointable: boolean;
      transaction: Promise<TransactionInput | null>;
      at: number;
    };

const POLL_MS = 25;

function defaultSource(
  settings: Config['solana'],
  programIds: readonly string[],
  logger: Logger,
): (chain: ChainReader) => LiveSource {
  if (settings.source === 'geyser') {
    const url = settings.geyserUrl;
    if (url === null) throw new Error('SOLSTREAM_SOURCE=geyser needs SOLSTREAM_GEYSER_URL');
    return (chain) =>
      geyserSource({ url, xToken: settings.geyserXToken, programIds, commitment: settings.commitment, chain, logger });
  }
  return (chain) => rpcWebSocketSource({ chain, programIds, commitment: settings.commitment, logger });
}

/** The processed stream's source for SOLSTREAM_PROCESSED (null: finalized slots only). */
function processedSourceFor(
  settings: Config['solana'],
  programIds: readonly string[],
  logger: Logger,
): (chain: ChainReader) => LiveSource | null {
  const mode =
    settings.processed === 'auto' ? (settings.geyserUrl !== null ? 'geyser' : 'rpc-websocket') : settings.processed;
  if (mode === 'off') return () => null;
  if (mode === 'geyser') {
    const url = settings.geyserUrl;
    if (url === null) throw new Error('SOLSTREAM_PROCESSED=geyser needs SOLSTREAM_GEYSER_URL');
    return (chain) =>
      geyserSource({
        url,
        xToken: settings.geyserXToken,
        programIds,
        commitment: 'processed',
        chain,
        logger,
        slotStatuses: true,
        waitForBlockTime: false,
      });
  }
  return (chain) =>
    rpcWebSocketSource({ chain, programIds, commitment: 'processed', logger, slotStatuses: true, transactions: false });
}

/** Counts into `stats` what it passes on to `metrics`. */
function counting(metrics: IngestMetrics, stats: IngesterStats): IngestMetrics {
  return {
    ...metrics,
    decoded: (program, kind, count = 1) => {
      if (kind === 'account') stats.accountUpdates += count;
      else stats.transactions += count;
      metrics.decoded(program, kind, count);
    },
    skipped: (program, reason, count = 1) => {
      stats.skipped[reason] = (stats.skipped[reason] ?? 0) + count;
      metrics.skipped(program, reason, count);
    },
    stale: (count) => {
      stats.staleRows += count;
      metrics.stale(count);
    },
    catchUp: () => {
      stats.catchUps++;
      metrics.catchUp();
    },
    sourceDropped: (source) => {
      stats.gaps++;
      metrics.sourceDropped(source);
    },
  };
}

export function startIngester(options: IngesterOptions): Ingester {
  const { db, programs, logger } = options;
  const settings = options.config.solana;
  const stats: IngesterStats = {
    accountUpdates: 0,
    transactions: 0,
    rowsWritten: 0,
    staleRows: 0,
    skipped: {},
    batches: 0,
    gaps: 0,
    catchUps: 0,
  };
  const metrics = counting(options.metrics ?? noIngestMetrics, stats);
  let closed = false;
  const isClosed = () => closed;
  const connection = new Connection(settings.rpcUrl, {
    wsEndpoint: settings.wsUrl,
    commitment: settings.commitment,
    // 429s are retried by the chain reader, with jitter and a bound, rather than by web3.js's own loop.
    disableRetryOnRateLimit: true,
  });
  const chain = new ChainReader({
    connection,
    commitment: settings.commitment,
    retry: { maxRetries: settings.rpcMaxRetries, baseMs: settings.rpcRetryBaseMs },
    concurrency: settings.rpcConcurrency,
    pageSize: settings.backfillPageSize,
    logger,
    metrics,
    closed: isClosed,
  });
  const writer = new BatchWriter(db, {
    upsert: options.upsert ?? upsertRows,
    feed: options.feed,
    logger,
    lease: options.lease,
    onSkip: (reason, count) => metrics.skipped('all', reason, count),
  });
  const pipeline = new Pipeline({ db, programs, chain, writer, logger, metrics, closed: isClosed });
  const programIds = [...new Set(programs.map((p) => p.programId))];
  const nameOf = (programId: string) =>
    pipeline
      .programsAt(programId)
      .map((p) => p.name)
      .join('+') || programId;
  const catchUpRunner = new CatchUp({ chain, pipeline, settings, logger, closed: isClosed, nameOf });
  const source = (options.source ?? defaultSource(settings, programIds, logger))(chain);
  const processed = startProcessed();

  /**
   * The processed stream beside the writing one: its own connection (its websocket subscriptions
   * apart from the writing source's), chain reader at processed, and read-only pipeline.
   */
  function startProcessed(): ProcessedStream | null {
    const bus = options.speculative;
    if (bus === undefined) return null;
    const processedLogger = logger.child({ stream: 'processed' });
    const processedConnection = new Connection(settings.rpcUrl, {
      wsEndpoint: settings.wsUrl,
      commitment: 'processed',
      disableRetryOnRateLimit: true,
    });
    const processedChain = new ChainReader({
      connection: processedConnection,
      commitment: 'processed',
      retry: { maxRetries: 2, baseMs: settings.rpcRetryBaseMs },
      concurrency: settings.rpcConcurrency,
      pageSize: settings.backfillPageSize,
      logger: processedLogger,
      metrics,
      closed: isClosed,
    });
    const processedPipeline = new Pipeline({
      db,
      programs,
      chain: processedChain,
      writer,
      logger: processedLogger,
      metrics: noIngestMetrics,
      closed: isClosed,
      skipLevel: 'debug',
    });
    const make = options.processedSource ?? processedSourceFor(settings, programIds, processedLogger);
    const processedSource = make(processedChain);
    return startProcessedStream({
      source: processedSource,
      // Websocket RPC says nothing of confirmations: the confirmed slot is read instead.
      pollConfirmedMs: processedSource?.name === 'rpc-websocket' ? 400 : 0,
      pipeline: processedPipeline,
      chain: processedChain,
      bus,
      logger: processedLogger,
      metrics: {
        announced: (table, rows) => metrics.processedAnnounced(table, rows),
        fate: (fate) => metrics.processedFate(fate),
        dropped: (count) => metrics.processedDropped(count),
      },
    });
  }

  let failed = false;
  /** True while every transaction since the checkpoints is known to be written or queued. */
  let contiguous = false;
  /** Bumped by every gap; a catch-up only closes the gap if none happened meanwhile. */
  let generation = 0;
  let catchUpNeeded = true;
  let catchUpRunning: Promise<void> | null = null;
  let readyOnce = false;
  let chainSlot: number | null = null;
  const checkpoints = new Map<string, number>();
  const queue: LiveItem[] = [];
  let draining: Promise<void> | null = null;
  let supervisor: NodeJS.Timeout | null = null;

  /** Stops for good when writing can no longer go on (the lease is gone, a write failed for good). */
  const fail = (error: Error) => {
    if (closed || failed || error instanceof ShuttingDownError) return;
    failed = true;
    logger.error({ err: error.message }, 'the ingester stops');
    options.onFailure?.(error);
  };

  const processBatch = async (items: readonly IngestItem[]): Promise<WriteResult> => {
    const result = await pipeline.process(items);
    stats.batches++;
    stats.rowsWritten += result.rowsWritten;
    if (result.staleRows > 0) metrics.stale(result.staleRows);
    for (const [table, rows] of Object.entries(result.rowsByTable)) metrics.written(table, rows);
    const now = Date.now();
    for (const item of items) {
      const checkpoint: Checkpoint | undefined = item.kind === 'account' ? undefined : item.checkpoint;
      if (checkpoint === undefined) continue;
      const name = nameOf(checkpoint.programId);
      if (checkpoint.slot >= (checkpoints.get(name) ?? -1)) {
        checkpoints.set(name, checkpoint.slot);
        metrics.checkpoint(name, checkpoint.slot, now);
      }
    }
    return result;
  };

  // --- live -----------------------------------------------------------------------------------

  const enqueue = (item: LiveItem) => {
    if (closed || failed) return;
    queue.push(item);
    metrics.queued(queue.length);
    startDrain();
  };

  const startDrain = () => {
    draining ??= drain()
      .catch((error: Error) => fail(error))
      .finally(() => {
        draining = null;
        // Items that arrived while the last batch committed.
        if (queue.length > 0 && !closed && !failed) startDrain();
      });
  };

  const drain = async () => {
    const batch: IngestItem[] = [];
    while (!closed && !failed) {
      const item = queue[0];
      if (item === undefined) break;
      if (item.kind === 'account') {
        batch.push({
          kind: 'account',
          programId: item.programId,
          account: { pubkey: item.pubkey, data: item.data, slot: item.slot, origin: 'notification' },
        });
      } else {
        const tx = await item.transaction;
        if (tx !== null) {
          batch.push({
            kind: 'transaction',
            programId: item.programId,
            tx,
            ...(item.checkpointable
              ? { checkpoint: { programId: item.programId, slot: tx.slot, signature: tx.signature } }
              : {}),
          });
        }
      }
      queue.shift();
      if (queue.length === 0 && batch.length < settings.batchSize && settings.flushMs > 0) {
        // A short wait lets a burst of notifications share one transaction.
        await new Promise((resolve) => setTimeout(resolve, settings.flushMs));
      }
      if (batch.length >= settings.batchSize || queue.length === 0) {
        await processBatch(batch.splice(0));
        metrics.queued(queue.length);
      }
    }
  };

  const openGap = (reason: string) => {
    if (closed) return;
    metrics.sourceDropped(source.name);
    logger.warn(
      { reason, source: source.name },
      'the live source may have missed updates; catching up once resubscribed',
    );
    contiguous = false;
    generation++;
    catchUpNeeded = true;
  };

  // --- catch-up -------------------------------------------------------------------------------

  const catchUp = async () => {
    const started = generation;
    catchUpNeeded = false;
    metrics.catchUp();
    metrics.phase('catching_up');
    const stored = await writer.readCheckpoints();
    for (const programId of programIds) {
      if (closed || failed) return;
      await catchUpRunner.program(programId, stored.get(programId));
    }
    await pipeline.drain();
    if (generation === started && !catchUpNeeded) contiguous = true;
  };

  /** Starts a catch-up when one is needed, nothing else is catching up, and every subscription is live. */
  const supervise = () => {
    metrics.phase(phase());
    if (closed || failed || catchUpRunning !== null || !catchUpNeeded || !source.subscribed()) return;
    catchUpRunning = catchUp()
      .catch((error: unknown) => {
        if (closed || error instanceof ShuttingDownError) return;
        if ((error as Error).name === 'LeaseLostError') return fail(error as Error);
        logger.error({ err: (error as Error).message }, 'catch-up failed; it will be retried');
        catchUpNeeded = true;
      })
      .finally(() => {
        catchUpRunning = null;
      });
  };

  const lagSeconds = () => (queue[0] === undefined ? 0 : (Date.now() - queue[0].at) / 1000);
  const phase = (): IngestPhase => {
    if (!readyOnce) return 'starting';
    if (!contiguous || catchUpRunning !== null) return 'catching_up';
    return lagSeconds() > settings.maxLagSeconds ? 'lagging' : 'live';
  };

  // --- start ----------------------------------------------------------------------------------

  /**
   * A source that replays starts from the checkpoints' oldest slot when every program has one, and
   * then needs no catch-up (unless it reports a gap); any other source is caught up over RPC.
   */
  const startSource = async () => {
    let resume: ResumePoint | undefined;
    if (source.replays) {
      const stored = await writer.readCheckpoints();
      if (programIds.every((id) => stored.has(id)))
        resume = { fromSlot: Math.min(...programIds.map((id) => stored.get(id)?.slot ?? 0)) };
    }
    if (closed) return;
    if (resume !== undefined) catchUpNeeded = false;
    source.start(events, resume);
  };

  let resolveReady!: () => void;
  let rejectReady!: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // An ingester nobody awaits must not crash the process with an unhandled rejection.
  ready.catch(() => undefined);

  const events: LiveEvents = {
    account: (programId, pubkey, data, slot) =>
      enqueue({ kind: 'account', programId, pubkey, data, slot, at: Date.now() }),
    transaction: (programId, _signature, transaction) =>
      enqueue({ kind: 'transaction', programId, checkpointable: contiguous, transaction, at: Date.now() }),
    slot: (slot) => {
      if (chainSlot === null || slot > chainSlot) {
        chainSlot = slot;
        metrics.chainSlot(slot);
      }
    },
    gap: openGap,
    resumed: () => {
      // The source replays from where the checkpoints stop: no catch-up to wait for.
      if (catchUpRunning === null && !catchUpNeeded) contiguous = true;
    },
  };
  try {
    void startSource().catch((error: Error) => {
      if (!closed) fail(error);
    });
    supervisor = setInterval(supervise, POLL_MS);
    const waitReady = setInterval(() => {
      if (closed || failed) {
        clearInterval(waitReady);
        rejectReady(new Error('ingester closed before it was ready'));
      } else if (contiguous) {
        clearInterval(waitReady);
        readyOnce = true;
        logger.info({ programs: programIds.map(nameOf), source: source.name }, 'ingester live');
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
    status: () => ({
      phase: phase(),
      source: source.name,
      chainSlot,
      lagSeconds: lagSeconds(),
      checkpoints: Object.fromEntries(checkpoints),
    }),
    async settled() {
      for (;;) {
        await catchUpRunning;
        await draining;
        await pipeline.drain();
        if (queue.length === 0 && catchUpRunning === null && draining === null && !catchUpNeeded) return;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      if (supervisor !== null) clearInterval(supervisor);
      queue.length = 0;
      await Promise.all([source.close(), processed?.close()]);
      await Promise.allSettled([catchUpRunning, draining]);
      await pipeline.drain().catch(() => undefined);
      await writer.drain();
    },
  };
}
