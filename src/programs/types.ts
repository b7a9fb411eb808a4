// The contract between a program's decoder and the rest of solstream (ingester, local cluster).
// A decoder turns on-chain bytes into rows of the seed schema; it never touches the database.
import type { Topic, RowOf } from '../db/schema.ts';

export type ProgramDomain = 'escrow' | 'marketplace' | 'amm' | 'governance' | 'custom';

/**
 * A row to persist. `row` uses seed column names and wire-form values: u64 as decimal strings,
 * slots as numbers, timestamps as ISO-8601 strings. Columns solstream fills itself (`id`,
 * `created_at`, `updated_at`) are left out.
 */
export interface DecodedRow<T extends Topic = Topic> {
  readonly topic: T;
  readonly row: Partial<RowOf<T>>;
  /**
   * For state tables: the on-chain account the row mirrors and where on the chain its values come
   * from, so that no column is ever overwritten by an older value (see src/ingest/positions.ts).
   */
  readonly account?: StateSource;
}

/** Where a state row's values were seen on the chain. */
export interface StateSource {
  readonly pubkey: string;
  readonly slot: number;
  /**
   * `account`: read from the account itself at the end of `slot` (an account read, a notification);
   * `transaction` (the default): produced by a transaction in `slot`, e.g. from its event.
   */
  readonly from?: 'account' | 'transaction';
}

/** A confirmed transaction as the decoders see it (built from web3.js `getTransaction`). */
export interface TransactionInput {
  readonly signature: string;
  readonly slot: number;
  readonly blockTime: number | null;
  readonly fee: bigint;
  readonly err: unknown;
  /** Account keys of the message, static keys then loaded addresses, base58. */
  readonly accountKeys: readonly string[];
  readonly instructions: readonly CompiledInstructionInput[];
  /** Inner instructions per top-level instruction index. */
  readonly innerInstructions: ReadonlyMap<number, readonly CompiledInstructionInput[]>;
  readonly logMessages: readonly string[];
}

export interface CompiledInstructionInput {
  readonly programIdIndex: number;
  readonly accounts: readonly number[];
  /** Raw instruction data. */
  readonly data: Uint8Array;
}

/** Raised for input a decoder cannot read; the ingester logs it with the pubkey or signature and skips it. */
export class DecodeError extends Error {
  constructor(
    message: string,
    readonly where: { readonly pubkey?: string; readonly signature?: string },
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}

export interface ProgramDecoder {
  readonly name: string;
  readonly programId: string;
  readonly domain: ProgramDomain;
  /** Counters the ingester may export as metrics (unknown discriminators met so far). */
  readonly stats?: { readonly unknownDiscriminators: number };
  /** Rows for an account owned by the program, or [] when the account is not of a mapped type or is outside the watch list. */
  decodeAccount(pubkey: string, data: Uint8Array, slot: number): DecodedRow[];
  /** Rows for the program's instructions and events in one transaction ([] if none, or outside the watch list). */
  decodeTransaction(tx: TransactionInput): DecodedRow[];
}
