// What becomes of each slot the processed stream delivered changes from: confirmed, finalized, or
// dead. Sources report slot statuses unevenly: Yellowstone sends every status with the slot's
// parent and SLOT_DEAD for a slot that failed; websocket `slotsUpdates` sends `createdBank` (with
// the parent), `optimisticConfirmation`, `root` and `dead`; neither says "dead" for a slot of a
// minority fork that fork choice simply abandoned. So fates are inferred too:
// - a confirmation (or root) confirms the slot's known ancestors as well;
// - once a finalized slot is above a tracked slot that is not on its ancestry, the tracked slot can
//   never be confirmed: dead. Where the ancestry is not known that far down (parents missed), the
//   finalized chain is asked (`getBlocks` at finalized) rather than guessed.
export type SlotFate = 'confirmed' | 'finalized' | 'dead';

export interface SlotFatesOptions {
  /** A tracked slot's fate is known (each slot: confirmed at most once, then finalized or dead). */
  readonly onFate: (slot: number, fate: SlotFate) => void;
  /** The newest finalized slot rose. */
  readonly onFinalized?: (slot: number) => void;
  /**
   * The slots in [from, to] on the finalized chain (RPC `getBlocks` at finalized), for tracked slots
   * whose ancestry the statuses did not give; rejects when the chain cannot be asked now.
   */
  readonly finalizedBlocks: (from: number, to: number) => Promise<readonly number[]>;
  readonly onError?: (error: Error) => void;
}

/** Parents kept below the finalized slot, for the ancestry of late statuses. */
const KEEP_BELOW_FINALIZED = 2_000;

type TrackedState = 'processed' | 'confirmed';

export class SlotFates {
  private readonly parents = new Map<number, number>();
  /** Slots changes were published from, not yet finalized or dead. */
  private readonly tracked = new Map<number, TrackedState>();
  private finalizedSlot = -1;
  /** Slots known dead or confirmed before anything was tracked of them (changes mapped late). */
  private readonly known = new Map<number, 'confirmed' | 'dead'>();
  private resolving: Promise<void> = Promise.resolve();

  constructor(private readonly options: SlotFatesOptions) {}

  get finalized(): number {
    return this.finalizedSlot;
  }

  /** Changes were published from `slot`: report its fate. A slot already settled is reported at once. */
  track(slot: number): void {
    if (this.tracked.has(slot)) return;
    const { chain } = this.ancestry(slot, this.finalizedSlot);
    if (chain.some((s) => this.known.get(s) === 'dead')) {
      this.tracked.set(slot, 'processed');
      this.settle(slot, 'dead');
      return;
    }
    if (this.known.get(slot) === 'confirmed') {
      this.tracked.set(slot, 'confirmed');
      this.options.onFate(slot, 'confirmed');
      return;
    }
    if (slot <= this.finalizedSlot) {
      // Late: the slot's fate was decided before it was tracked; ask the chain.
      this.tracked.set(slot, 'processed');
      this.resolveBelow(this.finalizedSlot);
      return;
    }
    this.tracked.set(slot, 'processed');
  }

  isTracked(slot: number): boolean {
    return this.tracked.has(slot);
  }

  /** A slot exists with this parent (Yellowstone status with `parent`, `createdBank`). */
  parent(slot: number, parent: number): void {
    if (parent < slot) this.parents.set(slot, parent);
  }

  confirmed(slot: number): void {
    for (const s of this.ancestry(slot, this.finalizedSlot).chain) this.remember(s, 'confirmed');
    const open = [...this.tracked].filter(([s, state]) => state === 'processed' && s <= slot).map(([s]) => s);
    if (open.length === 0) return;
    const lowest = Math.min(...open);
    const { chain, complete } = this.ancestry(slot, lowest - 1);
    const onChain = new Set(chain);
    for (const s of open.sort((a, b) => a - b)) {
      if (onChain.has(s)) {
        this.tracked.set(s, 'confirmed');
        this.options.onFate(s, 'confirmed');
      } else if (complete) {
        // A slot below a confirmed one and off its ancestry lost the fork: it can never be confirmed.
        this.settle(s, 'dead');
      }
    }
  }

  dead(slot: number): void {
    this.remember(slot, 'dead');
    // Descendants of a dead slot die with it.
    for (const s of [...this.tracked.keys()].sort((a, b) => a - b)) {
      if (s > slot && this.ancestry(s, slot - 1).chain.includes(slot)) this.settle(s, 'dead');
    }
    if (this.tracked.has(slot)) this.settle(slot, 'dead');
  }

  finalizedAt(slot: number): void {
    if (slot <= this.finalizedSlot) return;
    this.finalizedSlot = slot;
    this.options.onFinalized?.(slot);
    const below = [...this.tracked.keys()].filter((s) => s <= slot).sort((a, b) => a - b);
    if (below.length > 0) {
      const lowest = below[0] as number;
      const { chain, complete } = this.ancestry(slot, lowest - 1);
      if (complete) {
        const onChain = new Set(chain);
        for (const s of below) this.settle(s, onChain.has(s) ? 'finalized' : 'dead');
      } else {
        this.resolveBelow(slot);
      }
    }
    for (const s of this.parents.keys()) if (s < slot - KEEP_BELOW_FINALIZED) this.parents.delete(s);
    for (const s of this.known.keys()) if (s <= slot) this.known.delete(s);
  }

  /** Tracked slots not yet settled (for tests and /metrics). */
  pending(): number {
    return this.tracked.size;
  }

  private remember(slot: number, fate: 'confirmed' | 'dead'): void {
    this.known.set(slot, fate);
    if (this.known.size > KEEP_BELOW_FINALIZED) this.known.delete(this.known.keys().next().value as number);
  }

  private settle(slot: number, fate: 'finalized' | 'dead'): void {
    if (!this.tracked.has(slot)) return;
    this.tracked.delete(slot);
    this.options.onFate(slot, fate);
  }

  /** Asks the finalized chain about every tracked slot at or below `finalized`, one request at a time. */
  private resolveBelow(finalized: number): void {
    this.resolving = this.resolving.then(async () => {
      const below = [...this.tracked.keys()].filter((s) => s <= finalized).sort((a, b) => a - b);
      if (below.length === 0) return;
      try {
        const rooted = new Set(await this.options.finalizedBlocks(below[0] as number, finalized));
        for (const s of below) this.settle(s, rooted.has(s) ? 'finalized' : 'dead');
      } catch (error) {
        // Asked again at the next finalized slot.
        this.options.onError?.(error as Error);
      }
    });
  }

  /**
   * `slot` and its known ancestors above `floor`, newest first; `complete` when the parents are
   * known all the way down (the walk reached `floor`, not a slot of unknown parent).
   */
  private ancestry(slot: number, floor: number): { chain: number[]; complete: boolean } {
    const chain: number[] = [];
    let current: number | undefined = slot;
    while (current !== undefined && current > floor) {
      chain.push(current);
      current = this.parents.get(current);
    }
    return { chain, complete: current !== undefined };
  }
}
