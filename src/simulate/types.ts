// The contract between the local cluster's ledger (accounts, transactions, slots, served over
// JSON-RPC and PubSub) and the activity player that decides what happens on chain.

export interface SimAccountMeta {
  readonly pubkey: string;
  readonly isSigner: boolean;
  readonly isWritable: boolean;
}

export interface SimInstruction {
  readonly programId: string;
  readonly accounts: readonly SimAccountMeta[];
  readonly data: Uint8Array;
}

/** The state of one account after a transaction. A closed account has lamports 0 and empty data. */
export interface SimAccountWrite {
  readonly pubkey: string;
  /** Owning program, base58. */
  readonly owner: string;
  readonly lamports: bigint;
  readonly data: Uint8Array;
}

export interface SimTransaction {
  /** Pays the fee and signs first. */
  readonly feePayer: string;
  /** Further signers besides the fee payer. */
  readonly signers?: readonly string[];
  readonly instructions: readonly SimInstruction[];
  /** CPIs made by top-level instruction `index` (e.g. Anchor `emit_cpi!` self-invocations). */
  readonly innerInstructions?: readonly { readonly index: number; readonly instructions: readonly SimInstruction[] }[];
  /** Exactly the log lines the runtime would print ("Program … invoke [1]", "Program data: …", "Program … success"). */
  readonly logMessages: readonly string[];
  /** Accounts the transaction leaves changed, applied atomically with it. */
  readonly accountWrites: readonly SimAccountWrite[];
  /** Fee in lamports; 5000 per signature when absent. */
  readonly fee?: bigint;
  /** A failed transaction's error (as the RPC reports it), or absent for success. */
  readonly err?: unknown;
}

export interface SubmittedTransaction {
  readonly signature: string;
  readonly slot: number;
  readonly blockTime: number;
}

export interface SubmitOptions {
  /**
   * Lands the transaction on a minority fork: in a slot that only `processed` readers see and
   * that later dies. Consecutive fork submits extend the same fork; the next submit without this
   * flag abandons it and lands on the surviving chain.
   */
  readonly onFork?: boolean;
}

/** What the activity player needs from the ledger. */
export interface SimLedger {
  /** Applies a transaction in a new slot, stores it, and notifies subscribers. */
  submit(tx: SimTransaction, options?: SubmitOptions): SubmittedTransaction;
  /** Current (processed) data of an account, or null if it does not exist (or was closed). */
  getAccount(pubkey: string): SimAccountWrite | null;
  /** Whether a minority fork opened by `submit(…, { onFork: true })` is still alive. */
  forkAlive(): boolean;
}
