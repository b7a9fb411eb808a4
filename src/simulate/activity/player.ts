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

/** Plays `steps` transactions into `ledger` synchronously (tests, seeding a demo). */
export function runActivity(ledger: SimLedger, options: ActivityOptions, steps: number): PlayedTransaction[] {
  const script = new ActivityScript(options);
  const played: PlayedTransaction[] = [];
  for (let i = 0; i < steps; i++) {
    const tx = script.next();
    played.push({ tx, submitted: ledger.submit(tx) });
  }
  return played;
}

export interface ActivityPlayer {
  /** Submits the next transaction now. */
  step(): PlayedTransaction;
  /** Plays `ratePerSecond` transactions a second until stop(). */
  start(): void;
  stop(): void;
}

export function createActivityPlayer(
  options: ActivityOptions & {
    readonly ledger: SimLedger;
    readonly ratePerSecond: number;
    readonly onError?: (err: unknown) => void;
  },
): ActivityPlayer {
  if (!(options.ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be > 0, got ${options.ratePerSecond}`);
  const script = new ActivityScript(options);
  let timer: NodeJS.Timeout | null = null;
  const step = (): PlayedTransaction => {
    const tx = script.next();
    return { tx, submitted: options.ledger.submit(tx) };
  };
  return {
    step,
    start() {
      if (timer !== null) return;
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
