// Continuity: whether every transaction since the checkpoints is known to be written or queued,
// and the catch-ups that restore it. It is lost at start and at every gap the live source reports
// (a websocket drop, an unavailable transaction); once every subscription is live again, the
// programs' history since their checkpoints is read back (catch-up.ts), and only a catch-up that
// no new gap overtook restores it. Live transactions move checkpoints only while it holds.
import type { Logger } from '../log.ts';
import type { IngestMetrics } from './metrics.ts';
import { ShuttingDownError } from './pipeline.ts';
import type { LiveSource } from './sources/types.ts';

export interface ContinuityOptions {
  readonly source: Pick<LiveSource, 'name' | 'subscribed'>;
  /** Reads the history since the checkpoints; resolves false when it stopped before the end. */
  readonly catchUp: () => Promise<boolean>;
  readonly metrics: Pick<IngestMetrics, 'catchUp' | 'phase' | 'sourceDropped'>;
  readonly logger: Logger;
  /** The ingester is closing: gaps and failures no longer matter. */
  readonly closed: () => boolean;
  /** Closed, or failed for good: no catch-up starts. */
  readonly stopped: () => boolean;
  /** Stops the ingester for good (a catch-up found the lease gone). */
  readonly fail: (error: Error) => void;
}

export class Continuity {
  private intact = false;
  /** Bumped by every gap; a catch-up only closes the gap if none happened meanwhile. */
  private generation = 0;
  private needed = true;
  private running: Promise<void> | null = null;

  constructor(private readonly options: ContinuityOptions) {}

  /** True while every transaction since the checkpoints is known to be written or queued. */
  get contiguous(): boolean {
    return this.intact;
  }

  get catchUpNeeded(): boolean {
    return this.needed;
  }

  /** The catch-up in progress, if any. */
  get catchUpRunning(): Promise<void> | null {
    return this.running;
  }

  /** The source replays from the checkpoints: nothing to catch up at start. */
  resumeFromCheckpoints(): void {
    this.needed = false;
  }

  /** The source may have missed updates. */
  gap(reason: string): void {
    const { closed, metrics, logger, source } = this.options;
    if (closed()) return;
    metrics.sourceDropped(source.name);
    logger.warn(
      { reason, source: source.name },
      'the live source may have missed updates; catching up once resubscribed',
    );
    this.intact = false;
    this.generation++;
    this.needed = true;
  }

  /** The source replayed from where the checkpoints stop: no catch-up to wait for. */
  resumed(): void {
    if (this.running === null && !this.needed) this.intact = true;
  }

  /** Starts a catch-up when one is needed, nothing else is catching up, and every subscription is live. */
  supervise(): void {
    const { stopped, closed, source, logger, fail } = this.options;
    if (stopped() || this.running !== null || !this.needed || !source.subscribed()) return;
    this.running = this.catchUp()
      .catch((error: unknown) => {
        if (closed() || error instanceof ShuttingDownError) return;
        if ((error as Error).name === 'LeaseLostError') return fail(error as Error);
        logger.error({ err: (error as Error).message }, 'catch-up failed; it will be retried');
        this.needed = true;
      })
      .finally(() => {
        this.running = null;
      });
  }

  private async catchUp(): Promise<void> {
    const started = this.generation;
    this.needed = false;
    this.options.metrics.catchUp();
    this.options.metrics.phase('catching_up');
    const complete = await this.options.catchUp();
    if (complete && this.generation === started && !this.needed) this.intact = true;
  }
}
