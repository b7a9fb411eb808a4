// What each program's scenario provides to the player.
import type { SimTransaction } from '../types.ts';
import type { Prng } from './prng.ts';

export interface ActivityContext {
  readonly rng: Prng;
  /** Use amounts near u64::MAX where the program allows it (tests only). */
  readonly extremeAmounts: boolean;
  /** Unix seconds of the activity's clock (advances with each step). */
  readonly now: number;
}

export interface ProgramActor {
  readonly name: string;
  readonly programId: string;
  /** Transactions that create the program's standing accounts (configs, pools, realms). */
  setup(ctx: ActivityContext): SimTransaction[];
  /** The next thing a user of the program does. */
  next(ctx: ActivityContext): SimTransaction;
  /**
   * Captures the actor's state (open offers, pool reserves, proposals…) and returns a function
   * that puts it back, so transactions played on a fork that dies leave no trace in later ones.
   */
  snapshot(): () => void;
}
