// The ingester's write path: decoded updates in batches, one database transaction per batch, with
// the per-program checkpoints and per-account slots they advance committed in that same
// transaction. Writes are idempotent (upsertRows changes nothing for a row already stored as is)
// and slot-monotonic (state read at an older slot than the stored one is dropped).
import { ConnectionError, TimeoutError, type Transaction } from 'sequelize';
import type { ChangeFeed } from '../capture/types.ts';
import type { Database } from '../db/connection.ts';
import { TABLES, type Topic } from '../db/schema.ts';
import type { DecodedRow } from '../programs/types.ts';
import type { Logger } from '../log.ts';

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
  /** State rows dropped because newer state of their account is already stored. */
  readonly staleRows: number;
  /** Updates that could not be written even alone (logged and skipped). */
  readonly failedUpdates: number;
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

/** Keys per SELECT … IN (…) so that statements stay below SQLite's bound-parameter limit. */
const KEYS_PER_QUERY = 400;

export interface WriterOptions {
  readonly upsert: UpsertRows;
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
    if (updates.length === 0) return { rowsWritten: 0, staleRows: 0, failedUpdates: 0 };
    let result: WriteResult;
    try {
      result = await this.writeBatchRetrying(updates);
    } catch (batchError) {
      if (updates.length === 1) {
        result = await this.skip(updates[0] as Update, batchError);
      } else {
        // One bad update must not hold back the rest: write each alone and skip those that still fail.
        let rowsWritten = 0;
        let staleRows = 0;
        let failedUpdates = 0;
        for (const update of updates) {
          let single: WriteResult;
          try {
            single = await this.writeBatchRetrying([update]);
          } catch (error) {
            single = await this.skip(update, error);
          }
          rowsWritten += single.rowsWritten;
          staleRows += single.staleRows;
          failedUpdates += single.failedUpdates;
        }
        result = { rowsWritten, staleRows, failedUpdates };
      }
    }
    this.options.feed?.poke();
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

  /** Logs an update that cannot be written and still advances its checkpoint, so it is not retried forever. */
  private async skip(update: Update, error: unknown): Promise<WriteResult> {
    this.options.logger.warn(
      { source: update.source, err: (error as Error).message },
      'skipping an update the database rejects',
    );
    if (update.checkpoint !== undefined) {
      const checkpoint = update.checkpoint;
      await this.db.sequelize.transaction((transaction) => this.saveCheckpoints([checkpoint], transaction));
    }
    return { rowsWritten: 0, staleRows: 0, failedUpdates: 1 };
  }

  private async apply(updates: readonly Update[], transaction: Transaction): Promise<WriteResult> {
    const stored = await this.storedSlots(updates, transaction);
    // Per account, rows are folded in batch order: a row at the same or a newer slot overlays its
    // columns on what came before (decoders may give only the columns an event changes), a row
    // from an older slot than the stored or already folded state is dropped.
    const newest = new Map<string, { slot: number; row: DecodedRow }>();
    const plain: DecodedRow[] = [];
    let staleRows = 0;
    for (const update of updates) {
      for (const row of update.rows) {
        if (row.account === undefined) {
          plain.push(row);
          continue;
        }
        const key = slotKey(row.topic, row.account.pubkey);
        const storedSlot = stored.get(key);
        const seen = newest.get(key);
        if (
          (storedSlot !== undefined && storedSlot > row.account.slot) ||
          (seen !== undefined && seen.slot > row.account.slot)
        ) {
          staleRows++;
          continue;
        }
        const merged = seen === undefined ? row : { ...row, row: { ...seen.row.row, ...row.row } };
        newest.set(key, { slot: row.account.slot, row: merged as DecodedRow });
      }
    }
    const byTopic = new Map<Topic, Record<string, unknown>[]>();
    const push = (row: DecodedRow) => {
      let list = byTopic.get(row.topic);
      if (list === undefined) byTopic.set(row.topic, (list = []));
      list.push(row.row as Record<string, unknown>);
    };
    for (const { row } of newest.values()) push(row);
    plain.forEach(push);

    let rowsWritten = 0;
    for (const topic of TOPIC_ORDER) {
      const rows = dedupeByNaturalKey(topic, byTopic.get(topic) ?? []);
      if (rows.length === 0) continue;
      await this.options.upsert(this.db, topic, rows, { transaction });
      rowsWritten += rows.length;
    }
    await this.saveSlots(
      [...newest].map(([key, { slot }]) => ({ key, slot })),
      transaction,
    );
    await this.saveCheckpoints(
      updates.flatMap((u) => (u.checkpoint === undefined ? [] : [u.checkpoint])),
      transaction,
    );
    return { rowsWritten, staleRows, failedUpdates: 0 };
  }

  private async storedSlots(updates: readonly Update[], transaction: Transaction): Promise<Map<string, number>> {
    const keys = new Map<string, { topic: string; pubkey: string }>();
    for (const update of updates) {
      for (const row of update.rows) {
        if (row.account !== undefined)
          keys.set(slotKey(row.topic, row.account.pubkey), { topic: row.topic, pubkey: row.account.pubkey });
      }
    }
    const out = new Map<string, number>();
    const list = [...keys.values()];
    for (let i = 0; i < list.length; i += KEYS_PER_QUERY) {
      const chunk = list.slice(i, i + KEYS_PER_QUERY);
      const pubkeys = [...new Set(chunk.map((k) => k.pubkey))];
      const [rows] = await this.db.sequelize.query(
        `SELECT topic, pubkey, slot FROM solstream_account_slots WHERE pubkey IN (${pubkeys.map(() => '?').join(', ')})`,
        { replacements: pubkeys, transaction },
      );
      for (const r of rows as { topic: string; pubkey: string; slot: number | string }[]) {
        out.set(slotKey(r.topic, r.pubkey), Number(r.slot));
      }
    }
    return out;
  }

  private async saveSlots(entries: readonly { key: string; slot: number }[], transaction: Transaction): Promise<void> {
    const greatest = this.db.dialect === 'postgres' ? 'GREATEST' : 'MAX';
    for (let i = 0; i < entries.length; i += KEYS_PER_QUERY) {
      const chunk = entries.slice(i, i + KEYS_PER_QUERY);
      const replacements: unknown[] = [];
      for (const { key, slot } of chunk) {
        const [topic, pubkey] = splitSlotKey(key);
        replacements.push(topic, pubkey, slot);
      }
      await this.db.sequelize.query(
        `INSERT INTO solstream_account_slots (topic, pubkey, slot) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}
         ON CONFLICT (topic, pubkey) DO UPDATE SET slot = ${greatest}(solstream_account_slots.slot, excluded.slot)`,
        { replacements, transaction },
      );
    }
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
  for (const row of rows) byKey.set(JSON.stringify(key.map((column) => row[column] ?? null)), row);
  return [...byKey.values()];
}

const slotKey = (topic: string, pubkey: string) => `${topic}\u0000${pubkey}`;
const splitSlotKey = (key: string) => key.split('\u0000') as [string, string];
