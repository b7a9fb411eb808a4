// The ingester: follows the configured programs through a live source and writes what their
// programs make of it, through the pipeline (decode → map → write). This file wires the parts:
//
// - live: the source's account updates and transactions, queued in arrival order and written in
//   batches (live-queue.ts).
// - catch-up: once every subscription is confirmed (at start, and again after every gap the
//   source reports) the programs' history since their checkpoints is read back (continuity.ts
//   decides when, catch-up.ts reads it).
// - checkpoints advance with the rows they cover, and only over a stretch known to be complete: a
//   live transaction moves its program's checkpoint only if it arrived while no gap was open.
// - the processed stream, when the gateways take one, runs beside it on its own connection
//   (processed.ts).
import { Connection } from '@solana/web3.js';
import type { SpeculativeBus } from '../capture/speculative-bus.ts';
import type { ChangeFeed } from '../capture/types.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/connection.ts';
import type { Lease } from '../db/locks.ts';
import { upsertRows } from '../db/repositories/index.ts';
import type { Logger } from '../log.ts';
import type { AnyProgram } from '../programs/types.ts';
import { CatchUp } from './catch-up.ts';
import { ChainReader } from './chain.ts';
import { Continuity } from './continuity.ts';
import { LiveQueue } from './live-queue.ts';
import { noIngestMetrics, type IngestMetrics, type IngestPhase, type IngestSkipReason } from './metrics.ts';
import { Pipeline, ShuttingDownError, type IngestItem } from './pipeline.ts';
import { startProcessed } from './processed.ts';
import { configuredSource } from './sources/configured.ts';
import type { LiveEvents, LiveSource, ResumePoint } from './sources/types.ts';
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

const POLL_MS = 25;

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
  let failed = false;
  const isClosed = () => closed;
  const stopped = () => closed || failed;
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
  const source = (options.source ?? configuredSource(settings, programIds, logger))(chain);
  const processed =
    options.speculative === undefined
      ? null
      : startProcessed({
          settings,
          db,
          programs,
          programIds,
          writer,
          bus: options.speculative,
          logger,
          metrics,
          closed: isClosed,
          source: options.processedSource,
        });

  /** Stops for good when writing can no longer go on (the lease is gone, a write failed for good). */
  const fail = (error: Error) => {
    if (closed || failed || error instanceof ShuttingDownError) return;
    failed = true;
    logger.error({ err: error.message }, 'the ingester stops');
    options.onFailure?.(error);
  };

  /** Per program name, the slot up to which every transaction is written. */
  const checkpoints = new Map<string, number>();
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

  const queue = new LiveQueue({
    batchSize: settings.batchSize,
    flushMs: settings.flushMs,
    metrics,
    write: processBatch,
    onError: fail,
    stopped,
  });

  const continuity = new Continuity({
    source,
    metrics,
    logger,
    closed: isClosed,
    stopped,
    fail,
    catchUp: async () => {
      const stored = await writer.readCheckpoints();
      for (const programId of programIds) {
        if (stopped()) return false;
        await catchUpRunner.program(programId, stored.get(programId));
      }
      await pipeline.drain();
      return true;
    },
  });

  let readyOnce = false;
  let chainSlot: number | null = null;
  const phase = (): IngestPhase => {
    if (!readyOnce) return 'starting';
    if (!continuity.contiguous || continuity.catchUpRunning !== null) return 'catching_up';
    return queue.lagSeconds() > settings.maxLagSeconds ? 'lagging' : 'live';
  };

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
    if (resume !== undefined) continuity.resumeFromCheckpoints();
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
      queue.push({ kind: 'account', programId, pubkey, data, slot, at: Date.now() }),
    transaction: (programId, _signature, transaction) =>
      queue.push({
        kind: 'transaction',
        programId,
        checkpointable: continuity.contiguous,
        transaction,
        at: Date.now(),
      }),
    slot: (slot) => {
      if (chainSlot === null || slot > chainSlot) {
        chainSlot = slot;
        metrics.chainSlot(slot);
      }
    },
    gap: (reason) => continuity.gap(reason),
    resumed: () => continuity.resumed(),
  };
  let supervisor: NodeJS.Timeout | null = null;
  try {
    void startSource().catch((error: Error) => {
      if (!closed) fail(error);
    });
    supervisor = setInterval(() => {
      metrics.phase(phase());
      continuity.supervise();
    }, POLL_MS);
    const waitReady = setInterval(() => {
      if (stopped()) {
        clearInterval(waitReady);
        rejectReady(new Error('ingester closed before it was ready'));
      } else if (continuity.contiguous) {
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
      lagSeconds: queue.lagSeconds(),
      checkpoints: Object.fromEntries(checkpoints),
    }),
    async settled() {
      for (;;) {
        await continuity.catchUpRunning;
        await queue.drained;
        await pipeline.drain();
        if (
          queue.length === 0 &&
          continuity.catchUpRunning === null &&
          queue.drained === null &&
          !continuity.catchUpNeeded
        )
          return;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      if (supervisor !== null) clearInterval(supervisor);
      queue.clear();
      await Promise.all([source.close(), processed?.close()]);
      await Promise.allSettled([continuity.catchUpRunning, queue.drained]);
      await pipeline.drain().catch(() => undefined);
      await writer.drain();
    },
  };
}
