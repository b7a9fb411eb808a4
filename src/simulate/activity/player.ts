// The local cluster's activity player: deterministic from a seed, it plays the real programs
// (their ids, IDL-encoded accounts and events, and the runtime's exact log lines) into a SimLedger.
import type { SimLedger, SimTransaction, SubmittedTransaction } from '../types.ts';
import { ESCROW_PROGRAM_ID } from '../../programs/escrow.ts';
import { RAYDIUM_CP_SWAP_PROGRAM_ID } from '../../programs/raydium-cp-swap.ts';
import { Prng } from './prng.ts';
import type { ActivityContext, ProgramActor } from './actor.ts';
import { EscrowActor } from './escrow.ts';
import { CpSwapActor } from './cp-swap.ts';
import { TensorActor } from './tensor.ts';
import { GovernanceActor } from './governance.ts';
import { TENSOR_MARKETPLACE_PROGRAM_ID } from '../../programs/tensor-marketplace.ts';
import { SPL_GOVERNANCE_PROGRAM_ID } from '../../programs/spl-governance.ts';

export type ActivityProgram = 'escrow' | 'cpSwap' | 'tensor' | 'governance';

export interface ActivityOptions {
  /** Same seed, same transactions. */
  readonly seed: number;
  /** Program ids to play, or false to leave a program out. Defaults: all, at their mainnet ids. */
  readonly programs?: Partial<Record<ActivityProgram, string | false>>;
  /** Amounts near u64::MAX where a program allows them (tests; not for the demo). */
  readonly extremeAmounts?: boolean;
  /** Unix seconds for in-account timestamps; defaults to a clock that starts at 2026-01-01 and advances 1 s per step, so runs stay deterministic. */
  readonly clock?: (step: number) => number;
}

export interface PlayedTransaction {
  readonly tx: SimTransaction;
  readonly submitted: SubmittedTransaction;
  /** Landed on a minority fork (seen at processed only, then dead). */
  readonly onFork: boolean;
}

const EPOCH = 1_767_225_600;

/** Produces the transactions; the ledger only stores them. */
export class ActivityScript {
  private readonly rng: Prng;
  private readonly actors: ProgramActor[] = [];
  private readonly queue: SimTransaction[] = [];
  private steps = 0;
  private setUp = false;

  constructor(private readonly options: ActivityOptions) {
    this.rng = new Prng(options.seed);
    const programs = options.programs ?? {};
    const id = (p: ActivityProgram, fallback: string): string | null => {
      const v = programs[p];
      return v === false ? null : (v ?? fallback);
    };
    const escrow = id('escrow', ESCROW_PROGRAM_ID);
    if (escrow !== null) this.actors.push(new EscrowActor(escrow, this.rng));
    const cpSwap = id('cpSwap', RAYDIUM_CP_SWAP_PROGRAM_ID);
    if (cpSwap !== null) this.actors.push(new CpSwapActor(cpSwap, this.rng));
    const tensor = id('tensor', TENSOR_MARKETPLACE_PROGRAM_ID);
    if (tensor !== null) this.actors.push(new TensorActor(tensor, this.rng));
    const governance = id('governance', SPL_GOVERNANCE_PROGRAM_ID);
    if (governance !== null) this.actors.push(new GovernanceActor(governance, this.rng));
    if (this.actors.length === 0) throw new Error('activity needs at least one program');
  }

  private context(): ActivityContext {
    const now = this.options.clock?.(this.steps) ?? EPOCH + this.steps;
    return { rng: this.rng, extremeAmounts: this.options.extremeAmounts === true, now };
  }

  /**
   * Captures where the script is (its queue, its clock, every actor's state) and returns a
   * function that goes back there. The random generator is not put back: after a dead fork the
   * surviving chain draws new actions rather than replaying the fork's.
   */
  snapshot(): () => void {
    const queue = [...this.queue];
    const steps = this.steps;
    const setUp = this.setUp;
    const actors = this.actors.map((actor) => actor.snapshot());
    return () => {
      this.queue.splice(0, this.queue.length, ...queue);
      this.steps = steps;
      this.setUp = setUp;
      for (const restore of actors) restore();
    };
  }

  /** The next transaction: the programs' setup first, then one user action of a random program. */
  next(): SimTransaction {
    const ctx = this.context();
    this.steps += 1;
    if (!this.setUp) {
      this.setUp = true;
      for (const actor of this.actors) this.queue.push(...actor.setup(ctx));
    }
    const queued = this.queue.shift();
    if (queued !== undefined) return queued;
    return this.rng.pick(this.actors).next(ctx);
  }
}

/** Minority forks in the played activity. */
export interface ForkOptions {
  /** Chance that a step opens a fork (0 to 1). */
  readonly rate: number;
  /** Longest fork in slots; each fork runs 1 to this many slots (default 1). */
  readonly maxSlots?: number;
}

/**
 * Submits the script's transactions, opening minority forks as `forks` says (from its own seeded
 * generator, so the script's draws do not depend on fork decisions). A fork's transactions are
 * built like any other, from a snapshot of the actors' state that is put back when the fork ends
 * or dies, so the surviving chain continues as if they never happened.
 */
class ActivityStepper {
  private readonly script: ActivityScript;
  private readonly forkRng: Prng;
  private fork: { remaining: number; restore: () => void } | null = null;
  private forced = 0;

  constructor(
    private readonly ledger: SimLedger,
    options: ActivityOptions,
    private readonly forks: ForkOptions | undefined,
  ) {
    this.script = new ActivityScript(options);
    this.forkRng = new Prng((options.seed ^ 0x5f0f4c) >>> 0);
    if (forks !== undefined && !(forks.rate >= 0 && forks.rate <= 1))
      throw new RangeError(`fork rate must be between 0 and 1, got ${forks.rate}`);
  }

  forkNext(slots: number): void {
    if (!(Number.isInteger(slots) && slots >= 1)) throw new RangeError(`a fork needs at least 1 slot, got ${slots}`);
    this.forced = slots;
  }

  step(): PlayedTransaction {
    if (this.fork !== null && (this.fork.remaining === 0 || !this.ledger.forkAlive())) {
      this.fork.restore();
      this.fork = null;
    }
    // A new fork opens only where no fork is alive: one that just ended first dies under the
    // surviving chain's next slot (the ledger would otherwise extend it).
    if (this.fork === null && !this.ledger.forkAlive()) {
      const slots = this.forced > 0 ? this.forced : this.randomForkLength();
      this.forced = 0;
      if (slots > 0) this.fork = { remaining: slots, restore: this.script.snapshot() };
    }
    const onFork = this.fork !== null;
    const tx = this.script.next();
    const submitted = this.ledger.submit(tx, { onFork });
    if (this.fork !== null) this.fork.remaining -= 1;
    return { tx, submitted, onFork };
  }

  private randomForkLength(): number {
    if (this.forks === undefined || this.forks.rate === 0 || !this.forkRng.chance(this.forks.rate)) return 0;
    return this.forkRng.int(1, Math.max(1, this.forks.maxSlots ?? 1));
  }
}

/** Plays `steps` transactions into `ledger` synchronously (tests, seeding a demo). */
export function runActivity(
  ledger: SimLedger,
  options: ActivityOptions & { readonly forks?: ForkOptions },
  steps: number,
): PlayedTransaction[] {
  const stepper = new ActivityStepper(ledger, options, options.forks);
  return Array.from({ length: steps }, () => stepper.step());
}

export interface ActivityPlayer {
  /** Submits the next transaction now. */
  step(): PlayedTransaction;
  /** The next `slots` steps (default 1) land on a minority fork, which dies when the chain moves on. */
  forkNext(slots?: number): void;
  /** Plays `ratePerSecond` transactions a second until stop() (a player made with rate 0 only steps). */
  start(): void;
  stop(): void;
}

export function createActivityPlayer(
  options: ActivityOptions & {
    readonly ledger: SimLedger;
    readonly ratePerSecond: number;
    readonly forks?: ForkOptions;
    readonly onError?: (err: unknown) => void;
  },
): ActivityPlayer {
  if (!(options.ratePerSecond >= 0)) throw new RangeError(`ratePerSecond must be >= 0, got ${options.ratePerSecond}`);
  const stepper = new ActivityStepper(options.ledger, options, options.forks);
  let timer: NodeJS.Timeout | null = null;
  const step = (): PlayedTransaction => stepper.step();
  return {
    step,
    forkNext(slots = 1) {
      stepper.forkNext(slots);
    },
    start() {
      if (timer !== null) return;
      if (options.ratePerSecond === 0) throw new RangeError('a player made with rate 0 only steps');
      timer = setInterval(
        () => {
          try {
            step();
          } catch (err) {
            options.onError?.(err);
          }
        },
        Math.max(1, Math.round(1000 / options.ratePerSecond)),
      );
      timer.unref();
    },
    stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
  };
}
