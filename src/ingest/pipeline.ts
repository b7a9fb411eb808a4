// The ingester's pipeline: what a source delivers (account data, transactions) is decoded by each
// program that owns it (pure), mapped to rows (reading earlier rows and the chain through a
// MapContext), and written as one batch. Batches run one at a time, so a batch's mapping always
// reads what every earlier batch committed, plus the rows mapped earlier in its own batch.
import { QueryTypes } from 'sequelize';
import type { Database } from '../db/connection.ts';
import { toWireRow } from '../db/rows.ts';
import { TABLES, type RowOf, type Topic } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import {
  DecodeError,
  type AccountInput,
  type AnyProgram,
  type DecodedRow,
  type MapContext,
  type SkipReason,
  type TransactionInput,
} from '../programs/types.ts';
import type { ChainReader } from './chain.ts';
import { EARLIEST_WINS } from './positions.ts';
import type { IngestMetrics } from './metrics.ts';
import { RetriesExhaustedError } from './rpc.ts';
import type { BatchWriter, Checkpoint, Update, WriteResult } from './writer.ts';

/** One thing to ingest. */
export type IngestItem =
  | { readonly kind: 'account'; readonly programId: string; readonly account: AccountInput }
  | {
      readonly kind: 'transaction';
      readonly programId: string;
      readonly tx: TransactionInput;
      /** Advances the program's checkpoint to this transaction once its rows are written. */
      readonly checkpoint?: Checkpoint;
    }
  | { readonly kind: 'checkpoint'; readonly checkpoint: Checkpoint };

export interface PipelineOptions {
  readonly db: Database;
  readonly programs: readonly AnyProgram[];
  readonly chain: ChainReader;
  readonly writer: BatchWriter;
  readonly logger: Logger;
  readonly metrics: IngestMetrics;
  /** True once the ingester is shutting down: a batch waiting for the chain gives up. */
  readonly closed: () => boolean;
  /**
   * How input that cannot be mapped is logged: `error` (the default; its rows are lost) or `debug`
   * (a preview, whose input the writing pipeline reports itself).
   */
  readonly skipLevel?: 'error' | 'debug';
}

/** A row a preview would write: whole (merged onto what is stored), in wire form. */
export interface PreviewRow {
  readonly topic: Topic;
  readonly row: Readonly<Record<string, unknown>>;
  /** The stored (or overlaid) row it replaces, in wire form; null when it would be new. */
  readonly before: Readonly<Record<string, unknown>> | null;
}

/** Rows of earlier, not yet stored updates by table and natural key value (a preview's overlay). */
export type RowOverlay = (topic: Topic, key: string) => Readonly<Record<string, unknown>> | undefined;

/** Longest wait between two attempts at mapping a batch while the chain does not answer, in ms. */
const MAX_RETRY_DELAY_MS = 10_000;
/** Most values a program keeps in its cache (refetchable values only; the oldest go first). */
const CACHE_LIMIT = 100_000;

class BoundedCache extends Map<string, unknown> {
  override set(key: string, value: unknown): this {
    if (!this.has(key) && this.size >= CACHE_LIMIT) this.delete(this.keys().next().value as string);
    return super.set(key, value);
  }
}

export class ShuttingDownError extends Error {
  constructor() {
    super('the ingester is shutting down');
    this.name = 'ShuttingDownError';
  }
}

export class Pipeline {
  private readonly byProgram = new Map<string, AnyProgram[]>();
  private readonly caches = new Map<AnyProgram, BoundedCache>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: PipelineOptions) {
    for (const program of options.programs) {
      const list = this.byProgram.get(program.programId) ?? [];
      list.push(program);
      this.byProgram.set(program.programId, list);
      this.caches.set(program, new BoundedCache());
    }
  }

  /** The programs deployed at `programId`. */
  programsAt(programId: string): readonly AnyProgram[] {
    return this.byProgram.get(programId) ?? [];
  }

  /** Decodes, maps and writes `items` as one batch, after every batch submitted before it. */
  process(items: readonly IngestItem[]): Promise<WriteResult> {
    const run = this.queue.then(() => this.run(items));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The rows `item` would produce, without writing anything: each merged onto the stored row, and
   * onto `overlay` (rows of earlier updates not stored yet). Reads the database and the chain only.
   */
  async preview(item: Exclude<IngestItem, { kind: 'checkpoint' }>, overlay?: RowOverlay): Promise<PreviewRow[]> {
    const batch = new BatchState(this.options, overlay);
    const out: PreviewRow[] = [];
    for (const program of this.programsAt(item.programId)) {
      const context = batch.contextFor(program, this.caches.get(program) as BoundedCache);
      const mapped = await this.mapOne(program, item, context);
      for (const decoded of mapped) {
        const fragment = decoded.row as Record<string, unknown>;
        const key = keyValueOf(decoded.topic, fragment);
        const before = key === null ? null : await batch.rowByKey(decoded.topic, key);
        const merged: Record<string, unknown> = { ...before, ...fragment };
        // As the writer does: a creation slot only moves earlier.
        for (const column of EARLIEST_WINS) {
          const stored = before?.[column];
          if (typeof stored === 'number' && Number(fragment[column] ?? Infinity) > stored) merged[column] = stored;
        }
        const row = toWireRow(decoded.topic, merged) as Record<string, unknown>;
        out.push({ topic: decoded.topic, row, before });
      }
      batch.remember(mapped);
    }
    return out;
  }

  /** Resolves once every batch submitted so far has finished. */
  async drain(): Promise<void> {
    await this.queue;
  }

  private async run(items: readonly IngestItem[]): Promise<WriteResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        const updates = await this.map(items);
        return await this.options.writer.write(updates);
      } catch (error) {
        // The chain did not answer a read the mapping needs: the batch waits, whole, rather than
        // being written without what it needs.
        if (!(error instanceof RetriesExhaustedError) || this.options.closed()) throw error;
        const delay = Math.min(500 * 2 ** attempt, MAX_RETRY_DELAY_MS);
        this.options.logger.warn(
          { err: error.message, attempt: attempt + 1, retryInMs: delay, items: items.length },
          'the chain does not answer a read this batch needs; holding the batch and retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
        if (this.options.closed()) throw new ShuttingDownError();
      }
    }
  }

  private async map(items: readonly IngestItem[]): Promise<Update[]> {
    const batch = new BatchState(this.options);
    const updates: Update[] = [];
    for (const item of items) {
      if (item.kind === 'checkpoint') {
        updates.push({ rows: [], source: item.checkpoint.programId, checkpoint: item.checkpoint });
        continue;
      }
      const rows: DecodedRow[] = [];
      for (const program of this.programsAt(item.programId)) {
        const context = batch.contextFor(program, this.caches.get(program) as BoundedCache);
        const mapped = await this.mapOne(program, item, context);
        batch.remember(mapped);
        rows.push(...mapped);
      }
      const source = item.kind === 'account' ? item.account.pubkey : item.tx.signature;
      updates.push(
        item.kind === 'transaction' && item.checkpoint
          ? { rows, source, checkpoint: item.checkpoint }
          : { rows, source },
      );
    }
    return updates;
  }

  private async mapOne(
    program: AnyProgram,
    item: Exclude<IngestItem, { kind: 'checkpoint' }>,
    context: MapContext,
  ): Promise<readonly DecodedRow[]> {
    const { metrics } = this.options;
    try {
      if (item.kind === 'account') {
        metrics.decoded(program.name, 'account');
        const decoded: unknown = program.decodeAccount(item.account.pubkey, item.account.data);
        return decoded === null ? [] : await program.mapAccount(decoded, item.account, context);
      }
      metrics.decoded(program.name, 'transaction');
      const decoded: unknown = program.decodeTransaction(item.tx);
      return decoded === null ? [] : await program.mapTransaction(decoded, item.tx, context);
    } catch (error) {
      if (error instanceof RetriesExhaustedError) throw error;
      // Bytes the program cannot read (or a mapping that fails on them): that input's rows are
      // lost, which an operator must hear about.
      const where =
        item.kind === 'account'
          ? { pubkey: item.account.pubkey, slot: item.account.slot }
          : { signature: item.tx.signature, slot: item.tx.slot };
      context.skip('decode_error', {
        ...where,
        err: (error as Error).message,
        kind: error instanceof DecodeError ? 'decode' : 'map',
      });
      return [];
    }
  }
}

/** What the mapping of one batch has read and produced so far. */
class BatchState {
  /** Rows mapped earlier in this batch, by table and key, their columns merged in order. */
  private readonly pending = new Map<string, Record<string, unknown>>();
  private readonly stored = new Map<string, Promise<Record<string, unknown> | null>>();
  private readonly histories = new Map<string, Promise<readonly TransactionInput[]>>();

  constructor(
    private readonly options: PipelineOptions,
    private readonly overlay?: RowOverlay,
  ) {}

  /** The row of `topic` whose one-column natural key is `value`, as stored, overlaid and mapped so far. */
  async rowByKey(topic: Topic, value: string): Promise<Record<string, unknown> | null> {
    return (await this.row(topic, value)) as Record<string, unknown> | null;
  }

  remember(rows: readonly DecodedRow[]): void {
    for (const row of rows) {
      const key = keyOf(row.topic, row.row as Record<string, unknown>);
      if (key === null) continue;
      const previous = this.pending.get(key);
      this.pending.set(key, { ...previous, ...(row.row as Record<string, unknown>) });
    }
  }

  contextFor(program: AnyProgram, cache: Map<string, unknown>): MapContext {
    const { chain, logger, metrics } = this.options;
    return {
      row: <T extends Topic>(topic: T, pubkey: string) => this.row(topic, pubkey),
      accounts: (pubkeys: readonly string[]) => chain.accounts(pubkeys),
      history: (address: string) => {
        let history = this.histories.get(address);
        if (history === undefined) this.histories.set(address, (history = chain.history(address)));
        return history;
      },
      cache,
      skip: (reason: SkipReason, details: Readonly<Record<string, unknown>>) => {
        metrics.skipped(program.name, reason);
        logger[this.options.skipLevel ?? 'error'](
          { program: program.name, reason, ...details },
          'chain data that could not be mapped; skipped',
        );
      },
    };
  }

  private async row<T extends Topic>(topic: T, value: string): Promise<Partial<RowOf<T>> | null> {
    const key = `${topic}\u0000${value}`;
    let stored = this.stored.get(key);
    if (stored === undefined) this.stored.set(key, (stored = this.read(topic, value)));
    const [fromDb, overlaid, pending] = [await stored, this.overlay?.(topic, value), this.pending.get(key)];
    if (fromDb === null && overlaid === undefined && pending === undefined) return null;
    return { ...fromDb, ...overlaid, ...pending } as Partial<RowOf<T>>;
  }

  private async read(topic: Topic, value: string): Promise<Record<string, unknown> | null> {
    const column = TABLES[topic].naturalKey[0];
    const [row] = await this.options.db.sequelize.query<Record<string, unknown>>(
      `SELECT * FROM ${topic} WHERE ${column} = $1`,
      { bind: [value], type: QueryTypes.SELECT },
    );
    return row === undefined ? null : (toWireRow(topic, row) as Record<string, unknown>);
  }
}

/** The value of a row's natural key when it is one column (state rows), or null. */
function keyValueOf(topic: Topic, row: Record<string, unknown>): string | null {
  const naturalKey: readonly string[] = TABLES[topic].naturalKey;
  if (naturalKey.length !== 1) return null;
  const value = row[naturalKey[0] as string];
  return typeof value === 'string' ? value : null;
}

/** The lookup key of a row whose natural key is one column (state rows), or null. */
function keyOf(topic: Topic, row: Record<string, unknown>): string | null {
  const value = keyValueOf(topic, row);
  return value === null ? null : `${topic}\u0000${value}`;
}
