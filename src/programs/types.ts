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
   * For state tables: the on-chain account the row mirrors and the slot it was read at, so that
   * an update from an older slot never overwrites newer state.
   */
  readonly account?: { readonly pubkey: string; readonly slot: number };
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
