// The processed stream: what the chain shows at `processed`, announced to every gateway ahead of
// the database (capture/speculative-bus.ts), and the fate of each slot it came from.
//
// A second live source, at processed commitment and with slot statuses, feeds a read-only pipeline
// of its own (its caches never hold a dead fork's values for the writing pipeline): each account
// update or transaction is decoded and mapped by the same programs, merged onto the stored row and
// onto the newer rows of earlier processed slots, and announced as whole rows. Nothing here is
// written: the writing ingester stores the same updates once they are confirmed. Slot fates
// (slot-fates.ts) are announced as they become known, so gateways can confirm or retract.
import { TABLES, type Topic } from '../db/schema.ts';
import { requiredColumns } from '../db/repositories/index.ts';
import type { Logger } from '../log.ts';
import type { SpeculativeBus, SpeculativeChange } from '../capture/speculative-bus.ts';
import type { ChainReader } from './chain.ts';
import type { IngestItem, Pipeline } from './pipeline.ts';
import { SlotFates } from './slot-fates.ts';
import type { LiveEvents, LiveSource } from './sources/types.ts';

export interface ProcessedStreamOptions {
  /** A live source at `processed`, started with slot statuses; null to announce finalized slots only. */
  readonly source: LiveSource | null;
  /** How often the finalized slot is read over RPC, beside what slot statuses say (ms; 0: never). */
  readonly pollFinalizedMs?: number;
  /** How often the confirmed slot is read, for a source whose statuses say nothing of confirmation (ms; 0: never). */
  readonly pollConfirmedMs?: number;
  /** A read-only pipeline of its own, reading the chain at `processed`. */
  readonly pipeline: Pipeline;
  /** For `getBlocks` at finalized, where slot statuses leave a slot's fate open. */
  readonly chain: ChainReader;
  readonly bus: SpeculativeBus;
  readonly logger: Logger;
  readonly metrics?: ProcessedStreamMetrics;
}

export interface ProcessedStreamMetrics {
  /** Speculative rows announced, by table. */
  announced(table: string, rows: number): void;
  /** A slot that changes were announced from reached its fate. */
  fate(fate: 'confirmed' | 'finalized' | 'dead'): void;
  /** Updates not announced because the stream fell behind (they reach subscribers when confirmed). */
  dropped(count: number): void;
}

export interface ProcessedStream {
  /** Updates announced and slot fates announced so far. */
  readonly stats: {
    updates: number;
    rows: number;
    confirmed: number;
    finalized: number;
    dead: number;
    dropped: number;
  };
  /** Resolves once every update received so far is announced. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** Most updates waiting to be mapped; past it the oldest are dropped (a processed view that late is useless). */
const QUEUE_LIMIT = 10_000;
/** Rows of earlier processed slots kept per slot for merging, until the slot is finalized or dead. */
const MAX_OVERLAY_SLOTS = 2_000;

type Item = Exclude<IngestItem, { kind: 'checkpoint' }>;
/** An account update, or a transaction being fetched (null when it cannot be). */
type Queued = Item | Promise<Item | null>;

export function startProcessedStream(options: ProcessedStreamOptions): ProcessedStream {
  const { source, pipeline, bus, logger, chain } = options;
  const stats = { updates: 0, rows: 0, confirmed: 0, finalized: 0, dead: 0, dropped: 0 };
  let closed = false;
  const queue: Queued[] = [];
  let draining: Promise<void> | null = null;
  /** Rows announced per slot (state tables), newest last, for merging later slots' partial rows. */
  const overlay = new Map<number, Map<string, Readonly<Record<string, unknown>>>>();

  const publish = (event: Parameters<SpeculativeBus['publish']>[0]) =>
    bus.publish(event).catch((error: Error) => {
      if (!closed) logger.warn({ err: error.message, kind: event.kind }, 'could not announce to the gateways');
    });

  const fates = new SlotFates({
    finalizedBlocks: (from, to) => chain.connection.getBlocks(from, to, 'finalized'),
    onFate: (slot, fate) => {
      stats[fate]++;
      options.metrics?.fate(fate);
      if (fate !== 'confirmed') overlay.delete(slot);
      void publish({ kind: 'slot', slot, status: fate });
    },
    onFinalized: (slot) => void publish({ kind: 'slot', slot, status: 'finalized' }),
    onError: (error) => logger.warn({ err: error.message }, 'could not read the finalized chain; asking again later'),
  });

  const overlaid = (topic: Topic, key: string): Readonly<Record<string, unknown>> | undefined => {
    let found: Readonly<Record<string, unknown>> | undefined;
    for (const slot of [...overlay.keys()].sort((a, b) => a - b))
      found = overlay.get(slot)?.get(`${topic}\u0000${key}`) ?? found;
    return found;
  };

  const announce = async (item: Item) => {
    const slot = item.kind === 'account' ? item.account.slot : item.tx.slot;
    const rows = await pipeline.preview(item, overlaid);
    const changes: SpeculativeChange[] = [];
    for (const { topic, row, before } of rows) {
      if (before !== null && sameRow(before, row)) continue;
      if (before === null && TABLES[topic].kind === 'state') {
        // A new row the update alone does not fill: its committed change will carry it whole.
        const missing = requiredColumns(topic).filter((c) => row[c] === undefined || row[c] === null);
        if (missing.length > 0) {
          logger.debug({ topic, slot, missing }, 'a processed row lacks columns; not announced');
          continue;
        }
      }
      changes.push(before === null ? { topic, op: 'insert', row } : { topic, op: 'update', row, oldRow: before });
      if (TABLES[topic].kind === 'state') {
        const key = String(row[TABLES[topic].naturalKey[0] as string]);
        let rowsOfSlot = overlay.get(slot);
        if (rowsOfSlot === undefined) {
          overlay.set(slot, (rowsOfSlot = new Map()));
          if (overlay.size > MAX_OVERLAY_SLOTS) overlay.delete(Math.min(...overlay.keys()));
        }
        rowsOfSlot.set(`${topic}\u0000${key}`, row);
      }
      options.metrics?.announced(topic, 1);
    }
    stats.updates++;
    if (changes.length === 0) return;
    stats.rows += changes.length;
    // Announced before the slot is tracked: a fate already known (the changes were mapped late) is
    // then announced after them, never before.
    await publish({ kind: 'changes', slot, changes });
    fates.track(slot);
  };

  const drain = async () => {
    while (!closed) {
      const next = queue.shift();
      if (next === undefined) return;
      try {
        const item = await next;
        if (item !== null) await announce(item);
      } catch (error) {
        if (closed) return;
        // Only ahead-of-time news is lost; the writing ingester stores the update when confirmed.
        logger.warn({ err: (error as Error).message }, 'a processed update could not be mapped');
      }
    }
  };

  const enqueue = (entry: Queued) => {
    if (closed) return;
    queue.push(entry);
    if (queue.length > QUEUE_LIMIT) {
      const dropped = queue.splice(0, queue.length - QUEUE_LIMIT).length;
      stats.dropped += dropped;
      options.metrics?.dropped(dropped);
      logger.warn({ dropped }, 'the processed stream fell behind; oldest updates not announced');
    }
    kick();
  };

  const kick = () => {
    if (draining !== null || closed) return;
    draining = drain().finally(() => {
      draining = null;
      if (queue.length > 0) kick();
    });
  };

  const events: LiveEvents = {
    account: (programId, pubkey, data, slot) =>
      enqueue({ kind: 'account', programId, account: { pubkey, data, slot, origin: 'notification' } }),
    transaction: (programId, _signature, transaction) =>
      enqueue(
        transaction.then(
          (tx) => (tx === null ? null : { kind: 'transaction' as const, programId, tx }),
          () => null,
        ),
      ),
    slot: () => undefined,
    slotStatus: (slot, status, parent) => {
      if (parent !== undefined) fates.parent(slot, parent);
      if (status === 'confirmed') fates.confirmed(slot);
      else if (status === 'finalized') fates.finalizedAt(slot);
      else if (status === 'dead') fates.dead(slot);
    },
    // Nothing to catch up: a missed processed update only means that change shows when confirmed.
    gap: (reason) => logger.debug({ reason }, 'the processed source may have missed updates'),
    resumed: () => undefined,
  };
  source?.start(events);
  if (source !== null) logger.info({ source: source.name }, 'processed stream started');
  // Slot statuses can be missing (providers that do not offer slotsUpdates): the finalized slot is
  // also read, so finalized subscriptions and fates move on regardless.
  const poll = (level: 'confirmed' | 'finalized', ms: number) => {
    if (ms <= 0) return null;
    const timer = setInterval(() => {
      chain.connection.getSlot(level).then(
        (slot) => (level === 'confirmed' ? fates.confirmed(slot) : fates.finalizedAt(slot)),
        (error: Error) => logger.debug({ err: error.message, level }, 'could not read the slot'),
      );
    }, ms);
    timer.unref();
    return timer;
  };
  const pollers = [
    poll('finalized', options.pollFinalizedMs ?? 2_000),
    poll('confirmed', options.pollConfirmedMs ?? 0),
  ];

  return {
    stats,
    async settled() {
      while (draining !== null || queue.length > 0) await (draining ?? Promise.resolve());
    },
    async close() {
      closed = true;
      for (const timer of pollers) if (timer !== null) clearInterval(timer);
      queue.length = 0;
      await source?.close();
      await draining?.catch(() => undefined);
    },
  };
}

function sameRow(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  for (const key of Object.keys(b)) {
    if (key === 'id' || key === 'created_at' || key === 'updated_at') continue;
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return false;
  }
  return true;
}
