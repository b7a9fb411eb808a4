// The live queue: the source's account updates and transactions in arrival order, written in
// batches. One drain runs at a time, so batches commit in the order their updates arrived; a
// transaction is awaited (its fetch may still be in flight) only when its turn comes.
import type { TransactionInput } from '../programs/types.ts';
import type { IngestMetrics } from './metrics.ts';
import type { IngestItem } from './pipeline.ts';

export type LiveItem =
  | { kind: 'account'; programId: string; pubkey: string; data: Uint8Array; slot: number; at: number }
  | {
      kind: 'transaction';
      programId: string;
      /** True when it arrived while no gap was open: writing it may move its program's checkpoint. */
      checkpointable: boolean;
      transaction: Promise<TransactionInput | null>;
      at: number;
    };

export interface LiveQueueOptions {
  /** Most items per batch. */
  readonly batchSize: number;
  /** How long a drain that emptied the queue waits for more before writing a short batch (0: no wait). */
  readonly flushMs: number;
  readonly metrics: Pick<IngestMetrics, 'queued'>;
  /** Writes one batch; a rejection stops the drain and goes to `onError`. */
  readonly write: (items: readonly IngestItem[]) => Promise<unknown>;
  readonly onError: (error: Error) => void;
  /** True once nothing more may be written (closed, or failed for good). */
  readonly stopped: () => boolean;
}

export class LiveQueue {
  private readonly items: LiveItem[] = [];
  private draining: Promise<void> | null = null;

  constructor(private readonly options: LiveQueueOptions) {}

  get length(): number {
    return this.items.length;
  }

  /** The running drain, if any (settles once it has written what it took). */
  get drained(): Promise<void> | null {
    return this.draining;
  }

  push(item: LiveItem): void {
    if (this.options.stopped()) return;
    this.items.push(item);
    this.options.metrics.queued(this.items.length);
    this.startDrain();
  }

  /** Seconds the oldest item not yet written has waited (0 with nothing waiting). */
  lagSeconds(now = Date.now()): number {
    const oldest = this.items[0];
    return oldest === undefined ? 0 : (now - oldest.at) / 1000;
  }

  /** Drops what is queued (at close: nothing more is written). */
  clear(): void {
    this.items.length = 0;
  }

  private startDrain(): void {
    this.draining ??= this.drain()
      .catch((error: Error) => this.options.onError(error))
      .finally(() => {
        this.draining = null;
        // Items that arrived while the last batch committed.
        if (this.items.length > 0 && !this.options.stopped()) this.startDrain();
      });
  }

  private async drain(): Promise<void> {
    const { batchSize, flushMs, metrics, write, stopped } = this.options;
    const batch: IngestItem[] = [];
    while (!stopped()) {
      const item = this.items[0];
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
      this.items.shift();
      if (this.items.length === 0 && batch.length < batchSize && flushMs > 0) {
        // A short wait lets a burst of notifications share one transaction.
        await new Promise((resolve) => setTimeout(resolve, flushMs));
      }
      if (batch.length >= batchSize || this.items.length === 0) {
        await write(batch.splice(0));
        metrics.queued(this.items.length);
      }
    }
  }
}
