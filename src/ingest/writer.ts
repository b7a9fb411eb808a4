// The ingester's write path: decoded updates in batches, one database transaction per batch, with
// the per-program checkpoints and per-column positions they advance committed in that same
// transaction. Writes are idempotent (upsertRows changes nothing for a row already stored as is)
// and monotonic per column (a value older than the stored one is dropped; see positions.ts).
import { ConnectionError, TimeoutError, type Transaction } from 'sequelize';
import type { ChangeFeed } from '../capture/types.ts';
import type { Database } from '../db/connection.ts';
import { assertLease, LeaseLostError, type Lease } from '../db/locks.ts';
import { requiredColumns } from '../db/repositories/index.ts';
import { TABLES, type Topic } from '../db/schema.ts';
import type { DecodedRow } from '../programs/types.ts';
import type { Logger } from '../log.ts';
import { readPositions, savePositions, slotKey, splitSlotKey } from './position-store.ts';
import { EARLIEST_WINS, positionOf, positionOfColumn, type ColumnPositions } from './positions.ts';

/** The repository's idempotent upsert: insert-or-update-if-different (state), insert-if-absent (append). */
export type UpsertRows = (
  db: Database,
  topic: Topic,
  rows: readonly Record<string, unknown>[],
  options: { transaction: Transaction },
) => Promise<unknown>;

export interface Checkpoint {
  readonly programId: string;
  readonly slot: number;
  /** Null when the program's accounts were loaded but no transaction has been seen. */
  readonly signature: string | null;
}

/** What one decoded input (an account change or a transaction) asks to write. */
export interface Update {
  readonly rows: readonly DecodedRow[];
  /** Advances the program's checkpoint to this transaction once the rows are written. */
  readonly checkpoint?: Checkpoint;
  /** Pubkey or signature, for logs when the update cannot be written. */
  readonly source: string;
}

export interface WriteResult {
  readonly rowsWritten: number;
  /** State rows of which every column was dropped because newer values are already stored. */
  readonly staleRows: number;
  /** Updates that could not be written even alone (logged as errors and skipped). */
  readonly failedUpdates: number;
  /** New state rows without every required column (logged as errors, not written). */
  readonly incompleteRows: number;
  /** Rows written, by table. */
  readonly rowsByTable: Readonly<Record<string, number>>;
}

const NOTHING: WriteResult = { rowsWritten: 0, staleRows: 0, failedUpdates: 0, incompleteRows: 0, rowsByTable: {} };

function sum(a: WriteResult, b: WriteResult): WriteResult {
  const rowsByTable: Record<string, number> = { ...a.rowsByTable };
  for (const [table, n] of Object.entries(b.rowsByTable)) rowsByTable[table] = (rowsByTable[table] ?? 0) + n;
  return {
    rowsWritten: a.rowsWritten + b.rowsWritten,
    staleRows: a.staleRows + b.staleRows,
    failedUpdates: a.failedUpdates + b.failedUpdates,
    incompleteRows: a.incompleteRows + b.incompleteRows,
    rowsByTable,
  };
}

/** Parents before children, so that a batch satisfies the seed's foreign keys. */
const TOPIC_ORDER: readonly Topic[] = [
  'accounts',
  'transactions',
  'escrows',
  'listings',
  'collections',
  'pools',
  'governances',
  'proposals',
  'escrow_events',
  'sales',
  'swaps',
  'liquidity_events',
  'votes',
  'executions',
];

/**
 * True for a failure of the database rather than of the data (connection lost or refused, server
 * shutting down, a lock that did not come in time): such a batch is retried until the database is
 * back, never split up and skipped, or its updates would be lost behind a later checkpoint.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  if (error instanceof ConnectionError || error instanceof TimeoutError) return true;
  const message =
    error instanceof Error ? `${error.message} ${(error as { parent?: Error }).parent?.message ?? ''}` : '';
  return /ECONNREFUSED|ECONNRESET|EPIPE|Connection terminated|terminating connection|the database system is (starting up|shutting down)|not currently accepting connections|SQLITE_BUSY|database is locked/i.test(
    message,
  );
}

/** Longest wait between two attempts at a batch while the database is away, in ms. */
const MAX_RETRY_DELAY_MS = 5000;

export interface WriterOptions {
  readonly upsert: UpsertRows;
  /** When set, every batch first checks that this process still holds the ingest lease. */
  readonly lease?: Lease | undefined;
  /** Told of every update the database rejects and every new row left incomplete (both error logs). */
  readonly onSkip?: (reason: 'rejected' | 'incomplete', count: number) => void;
  readonly feed?: ChangeFeed | undefined;
  readonly logger: Logger;
}

export class BatchWriter {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly options: WriterOptions,
  ) {}

  /** Writes `updates` in one transaction (serialised with every other write of this writer). */
  write(updates: readonly Update[]): Promise<WriteResult> {
    const run = this.queue.then(() => this.writeNow(updates));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every write queued so far has finished. */
  async drain(): Promise<void> {
    await this.queue;
  }

  /** Stored checkpoints by program id. */
  async readCheckpoints(): Promise<Map<string, Checkpoint>> {
    const [rows] = await this.db.sequelize.query('SELECT program_id, slot, signature FROM solstream_checkpoints');
    return new Map(
      (rows as { program_id: string; slot: number | string; signature: string | null }[]).map((r) => [
        r.program_id,
        { programId: r.program_id, slot: Number(r.slot), signature: r.signature },
      ]),
    );
  }

  private async writeNow(updates: readonly Update[]): Promise<WriteResult> {
    if (updates.length === 0) return NOTHING;
    let result: WriteResult;
    try {
      result = await this.writeBatchRetrying(updates);
    } catch (batchError) {
      // Another process ingests now: nothing of this batch may be written, not even alone.
      if (batchError instanceof LeaseLostError) throw batchError;
      if (updates.length === 1) {
        result = await this.skip(updates[0] as Update, batchError);
      } else {
        // One bad update must not hold back the rest: write each alone and skip those that still fail.
        result = NOTHING;
        for (const update of updates) {
          let single: WriteResult;
          try {
            single = await this.writeBatchRetrying([update]);
          } catch (error) {
            if (error instanceof LeaseLostError) throw error;
            single = await this.skip(update, error);
          }
          result = sum(result, single);
        }
      }
    }
    this.options.feed?.poke();
    if (result.failedUpdates > 0) this.options.onSkip?.('rejected', result.failedUpdates);
    if (result.incompleteRows > 0) this.options.onSkip?.('incomplete', result.incompleteRows);
    return result;
  }

  /** One transaction for the batch, retried with backoff for as long as the database itself is failing. */
  private async writeBatchRetrying(updates: readonly Update[]): Promise<WriteResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.sequelize.transaction((transaction) => this.apply(updates, transaction));
      } catch (error) {
        if (!isTransientDatabaseError(error)) throw error;
        const delay = Math.min(100 * 2 ** attempt, MAX_RETRY_DELAY_MS);
        this.options.logger.warn(
          { err: (error as Error).message, attempt: attempt + 1, retryInMs: delay, updates: updates.length },
          'the database is unavailable; holding the batch and retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /**
   * An update the database refuses even alone: an error (it means data the chain has is not
   * stored), counted, and its checkpoint still advanced so that it is not retried for ever.
   */
  private async skip(update: Update, error: unknown): Promise<WriteResult> {
    this.options.logger.error(
      { source: update.source, err: (error as Error).message },
      'the database rejects an update; skipped',
    );
    if (update.checkpoint !== undefined) {
      const checkpoint = update.checkpoint;
      await this.db.sequelize.transaction(async (transaction) => {
        if (this.options.lease !== undefined) await assertLease(this.db, this.options.lease, transaction);
        await this.saveCheckpoints([checkpoint], transaction);
      });
    }
    return { ...NOTHING, failedUpdates: 1 };
  }

  private async apply(updates: readonly Update[], transaction: Transaction): Promise<WriteResult> {
    if (this.options.lease !== undefined) await assertLease(this.db, this.options.lease, transaction);
    const stored = await this.storedPositions(updates, transaction);
    // Per state row, the batch's rows are folded column by column: a column takes a row's value
    // when the row's position is at least that of the value it replaces (stored, or folded from an
    // earlier row of the batch); older values are dropped. Decoders give only the columns they
    // know, so an account read and an event may each advance different columns of one row.
    const folded = new Map<string, FoldedRow>();
    const plain: DecodedRow[] = [];
    let staleRows = 0;
    for (const update of updates) {
      for (const row of update.rows) {
        if (row.account === undefined) {
          plain.push(row);
          continue;
        }
        const key = slotKey(row.topic, row.account.pubkey);
        let entry = folded.get(key);
        if (entry === undefined) {
          const positions = stored.get(key);
          entry = { topic: row.topic, exists: positions !== undefined, row: {}, positions: { ...positions } };
          folded.set(key, entry);
        }
        if (!foldInto(entry, row, positionOf(row.account))) staleRows++;
      }
    }
    const byTopic = new Map<Topic, Record<string, unknown>[]>();
    const push = (topic: Topic, row: Record<string, unknown>) => {
      let list = byTopic.get(topic);
      if (list === undefined) byTopic.set(topic, (list = []));
      list.push(row);
    };
    const positions: { key: string; positions: ColumnPositions }[] = [];
    let incompleteRows = 0;
    for (const [key, entry] of folded) {
      if (!entry.changed) continue;
      const missing = entry.exists ? [] : requiredColumns(entry.topic).filter((c) => entry.row[c] === undefined);
      if (missing.length > 0) {
        // Creating a row needs all of it; the mapping stage is there to provide it. Never written
        // (nor its positions), so a later complete row still creates it.
        incompleteRows++;
        this.options.logger.error(
          { table: entry.topic, pubkey: splitSlotKey(key)[1], missing },
          'a new state row lacks required columns; not written',
        );
        continue;
      }
      push(entry.topic, entry.row);
      positions.push({ key, positions: entry.positions });
    }
    for (const row of plain) push(row.topic, row.row as Record<string, unknown>);

    // Positions first: change capture reads a state row's slot from them as the row is written.
    await savePositions(this.db, positions, transaction);
    let rowsWritten = 0;
    const rowsByTable: Record<string, number> = {};
    for (const topic of TOPIC_ORDER) {
      const rows = dedupeByNaturalKey(topic, byTopic.get(topic) ?? []);
      if (rows.length === 0) continue;
      await this.options.upsert(this.db, topic, rows, { transaction });
      rowsWritten += rows.length;
      rowsByTable[topic] = rows.length;
    }
    await this.saveCheckpoints(
      updates.flatMap((u) => (u.checkpoint === undefined ? [] : [u.checkpoint])),
      transaction,
    );
    return { rowsWritten, staleRows, failedUpdates: 0, incompleteRows, rowsByTable };
  }

  /** Stored positions of every state row the batch touches, by slotKey. */
  private storedPositions(updates: readonly Update[], transaction: Transaction): Promise<Map<string, ColumnPositions>> {
    const keys = new Map<string, readonly [string, string]>();
    for (const update of updates)
      for (const row of update.rows)
        if (row.account) keys.set(slotKey(row.topic, row.account.pubkey), [row.topic, row.account.pubkey]);
    return readPositions(this.db, [...keys.values()], transaction);
  }

  private async saveCheckpoints(checkpoints: readonly Checkpoint[], transaction: Transaction): Promise<void> {
    // The last checkpoint per program in batch order is the newest one.
    const last = new Map<string, Checkpoint>();
    for (const checkpoint of checkpoints) last.set(checkpoint.programId, checkpoint);
    if (last.size === 0) return;
    const replacements: unknown[] = [];
    for (const checkpoint of last.values())
      replacements.push(checkpoint.programId, checkpoint.slot, checkpoint.signature);
    // One statement for the batch. Never moves back: a checkpoint only covers transactions up to it
    // if it is the newest one.
    await this.db.sequelize.query(
      `INSERT INTO solstream_checkpoints (program_id, slot, signature, updated_at)
       VALUES ${[...last.values()].map(() => '(?, ?, ?, CURRENT_TIMESTAMP)').join(', ')}
       ON CONFLICT (program_id) DO UPDATE SET slot = excluded.slot, signature = excluded.signature, updated_at = excluded.updated_at
       WHERE excluded.slot >= solstream_checkpoints.slot`,
      { replacements, transaction },
    );
  }
}

/** One row per natural key (the last one), since one upsert statement cannot touch a row twice. */
function dedupeByNaturalKey(topic: Topic, rows: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  if (rows.length < 2) return [...rows];
  const key = TABLES[topic].naturalKey;
  const byKey = new Map<string, Record<string, unknown>>();
  // Key values are strings and numbers (pubkeys, signatures, u64 text, enum labels): joined with a
  // character none of them holds, they identify a row as well as their JSON did, at a tenth the cost.
  if (key.length === 1) {
    const column = key[0] as string;
    for (const row of rows) byKey.set(String(row[column] ?? '\u0000null'), row);
  } else {
    for (const row of rows) {
      let k = '';
      for (const column of key) k += `${String(row[column] ?? '\u0000null')}\u0001`;
      byKey.set(k, row);
    }
  }
  return [...byKey.values()];
}

interface FoldedRow {
  readonly topic: Topic;
  /** True when the row is stored already (it has stored positions). */
  readonly exists: boolean;
  readonly row: Record<string, unknown>;
  readonly positions: ColumnPositions;
  changed?: boolean;
}

/** Overlays `row`'s newer columns on `entry`; false when every column it carries is older (stale). */
function foldInto(entry: FoldedRow, row: DecodedRow, position: number): boolean {
  const naturalKey: readonly string[] = TABLES[row.topic].naturalKey;
  let kept = 0;
  for (const [column, value] of Object.entries(row.row as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (naturalKey.includes(column)) {
      entry.row[column] = value;
      continue;
    }
    if (EARLIEST_WINS.has(column)) {
      // The value itself is its position: it only moves earlier. A stored row whose positions
      // predate this rule keeps its value.
      const current = entry.positions[column];
      if (entry.exists && current === undefined) continue;
      if (current !== undefined && !(typeof value === 'number' && value < current)) continue;
      entry.row[column] = value;
      if (typeof value === 'number') entry.positions[column] = value;
      kept++;
      continue;
    }
    if (position < positionOfColumn(entry.positions, column)) continue;
    entry.row[column] = value;
    entry.positions[column] = position;
    kept++;
  }
  if (kept > 0) entry.changed = true;
  return kept > 0 || Object.keys(row.row).every((c) => naturalKey.includes(c));
}
