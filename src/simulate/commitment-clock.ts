// Confirms and finalizes surviving slots a fixed time after they were processed, for commitment
// delays given in milliseconds (a ledger in depth mode needs no clock). One timer, set for the
// earliest slot due.
import type { LedgerEvent, LocalLedger } from './ledger.ts';

export interface CommitmentClockOptions {
  readonly ledger: LocalLedger;
  /** ms from processed to confirmed, or null when the ledger confirms by depth. */
  readonly confirmMs: number | null;
  /** ms from processed to finalized, or null when the ledger finalizes by depth. */
  readonly finalizeMs: number | null;
  readonly onError?: (error: unknown) => void;
}

export interface CommitmentClock {
  close(): void;
}

interface Due {
  readonly slot: number;
  readonly at: number;
}

export function startCommitmentClock(options: CommitmentClockOptions): CommitmentClock {
  const { ledger } = options;
  const confirmQueue: Due[] = [];
  const finalizeQueue: Due[] = [];
  let timer: NodeJS.Timeout | null = null;

  const fire = () => {
    timer = null;
    const now = Date.now();
    try {
      const confirmThrough = lastDue(confirmQueue, now);
      if (confirmThrough !== null) ledger.confirm(confirmThrough);
      const finalizeThrough = lastDue(finalizeQueue, now);
      if (finalizeThrough !== null) ledger.finalize(finalizeThrough);
    } catch (error) {
      options.onError?.(error);
    }
    arm();
  };
  const arm = () => {
    const next = Math.min(confirmQueue[0]?.at ?? Infinity, finalizeQueue[0]?.at ?? Infinity);
    if (next === Infinity || timer !== null) return;
    timer = setTimeout(fire, Math.max(0, next - Date.now()));
    timer.unref();
  };
  const stop = ledger.onEvent((event: LedgerEvent) => {
    if (event.type !== 'slotProcessed' || event.slot.onFork) return;
    const { slot, processedAt } = event.slot;
    if (options.confirmMs !== null) confirmQueue.push({ slot, at: processedAt + options.confirmMs });
    if (options.finalizeMs !== null) finalizeQueue.push({ slot, at: processedAt + options.finalizeMs });
    arm();
  });

  return {
    close() {
      stop();
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}

/** Takes every entry due by `now` off the queue and returns the last one's slot. */
function lastDue(queue: Due[], now: number): number | null {
  let slot: number | null = null;
  while (queue.length > 0 && (queue[0] as Due).at <= now) slot = (queue.shift() as Due).slot;
  return slot;
}
