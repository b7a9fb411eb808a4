// The processed stream beside the writing one, as the ingester starts it: its own connection (its
// websocket subscriptions apart from the writing source's), a chain reader at processed, and a
// read-only pipeline whose updates are announced to the gateways (speculative.ts), never written.
import { Connection } from '@solana/web3.js';
import type { SpeculativeBus } from '../capture/speculative-bus.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/connection.ts';
import type { Logger } from '../log.ts';
import type { AnyProgram } from '../programs/types.ts';
import { ChainReader } from './chain.ts';
import { noIngestMetrics, type IngestMetrics } from './metrics.ts';
import { Pipeline } from './pipeline.ts';
import { configuredProcessedSource } from './sources/configured.ts';
import type { LiveSource } from './sources/types.ts';
import { startProcessedStream, type ProcessedStream } from './speculative.ts';
import type { BatchWriter } from './writer.ts';

export interface ProcessedOptions {
  readonly settings: Config['solana'];
  readonly db: Database;
  readonly programs: readonly AnyProgram[];
  readonly programIds: readonly string[];
  /** The writing stream's writer: the processed pipeline reads stored positions through it. */
  readonly writer: BatchWriter;
  readonly bus: SpeculativeBus;
  readonly logger: Logger;
  readonly metrics: IngestMetrics;
  readonly closed: () => boolean;
  /** The stream's source, when a test gives its own (else from SOLSTREAM_PROCESSED). */
  readonly source?: ((chain: ChainReader) => LiveSource | null) | undefined;
}

export function startProcessed(options: ProcessedOptions): ProcessedStream {
  const { settings, db, programs, programIds, writer, bus, metrics, closed } = options;
  const logger = options.logger.child({ stream: 'processed' });
  const connection = new Connection(settings.rpcUrl, {
    wsEndpoint: settings.wsUrl,
    commitment: 'processed',
    disableRetryOnRateLimit: true,
  });
  const chain = new ChainReader({
    connection,
    commitment: 'processed',
    retry: { maxRetries: 2, baseMs: settings.rpcRetryBaseMs },
    concurrency: settings.rpcConcurrency,
    pageSize: settings.backfillPageSize,
    logger,
    metrics,
    closed,
  });
  const pipeline = new Pipeline({
    db,
    programs,
    chain,
    writer,
    logger,
    metrics: noIngestMetrics,
    closed,
    skipLevel: 'debug',
  });
  const make = options.source ?? configuredProcessedSource(settings, programIds, logger);
  const source = make(chain);
  return startProcessedStream({
    source,
    // Websocket RPC says nothing of confirmations: the confirmed slot is read instead.
    pollConfirmedMs: source?.name === 'rpc-websocket' ? 400 : 0,
    pipeline,
    chain,
    bus,
    logger,
    metrics: {
      announced: (table, rows) => metrics.processedAnnounced(table, rows),
      fate: (fate) => metrics.processedFate(fate),
      dropped: (count) => metrics.processedDropped(count),
    },
  });
}
