// The contract between a program and the rest of solstream (ingester, local cluster, tests).
//
// A program has two stages, as Carbon separates decoders from processors:
// - decode (pure): on-chain bytes → typed structs. No state, no I/O; the same bytes always give
//   the same result.
// - map: structs → rows of the seed schema. Whatever a row needs from earlier data (a pool's fee
//   rates, an escrow's offered amount, a realm's mint) it reads from the rows already written or
//   fetches from the chain through its MapContext, never from memory a restart would lose.
import type { RowOf, Topic } from '../db/schema.ts';
import type { DecodeStats } from './events.ts';

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

/** A transaction as the programs see it (built from web3.js `getTransaction`, or a Geyser update). */
export interface TransactionInput {
  readonly signature: string;
  readonly slot: number;
  readonly blockTime: number | null;
  readonly fee: bigint;
  readonly err: unknown;
  /** Account keys of the message, static keys then loaded addresses, base58. */
  readonly accountKeys: readonly string[];
  /** Per account key (same order), whether the transaction may write it. */
  readonly writable: readonly boolean[];
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

/** An account owned by a program, as read or notified. */
export interface AccountInput {
  readonly pubkey: string;
  readonly data: Uint8Array;
  /** The slot the data was read at (the end of that slot). */
  readonly slot: number;
  /**
   * `load`: read on purpose (first start, the refresh after a catch-up), so the program may read
   * what the account alone does not hold (vault balances); `notification`: pushed by a live
   * subscription, right after the transaction that changed it.
   */
  readonly origin: 'load' | 'notification';
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

/** An account as the chain holds it now. */
export interface ChainAccount {
  readonly owner: string;
  readonly lamports: bigint;
  readonly data: Uint8Array;
}

/** Why something the chain did produced no row: every one is an error-level log and a counter. */
export type SkipReason =
  /** A row needs data the chain no longer has (a closed account with no readable history). */
  | 'parent_unavailable'
  /** The chain holds data that contradicts itself for the program (e.g. a vault of the wrong mint). */
  | 'inconsistent'
  /** Bytes the decoder cannot read. */
  | 'decode_error';

/** What the mapping stage may read: earlier rows and the chain. */
export interface MapContext {
  /**
   * The stored state row of `topic` for `pubkey` (as written so far, including earlier updates of
   * the batch being mapped), or null when there is none.
   */
  row<T extends Topic>(topic: T, pubkey: string): Promise<Partial<RowOf<T>> | null>;
  /**
   * Accounts as the chain holds them now, read together (one request, one slot): null for an
   * account that does not exist.
   */
  accounts(
    pubkeys: readonly string[],
  ): Promise<{ readonly slot: number; readonly values: readonly (ChainAccount | null)[] }>;
  /** Every transaction that named `address`, oldest first, as far back as the chain keeps them. */
  history(address: string): Promise<readonly TransactionInput[]>;
  /**
   * Values the program may keep between batches because they can always be fetched again (an
   * AmmConfig's rates): a cache, never the only copy of anything. One per program.
   */
  readonly cache: Map<string, unknown>;
  /** Records that something the chain did produced no row (error log + counter). */
  skip(reason: SkipReason, details: Readonly<Record<string, unknown>>): void;
}

/** Rows may be produced synchronously when a program needs nothing from the context. */
export type Mapped = readonly DecodedRow[] | Promise<readonly DecodedRow[]>;

/**
 * One program solstream follows. `A` and `T` are what its decoder makes of an account and of a
 * transaction; the mapper turns them into rows.
 */
export interface Program<A = unknown, T = unknown> {
  readonly name: string;
  readonly programId: string;
  readonly domain: ProgramDomain;
  /** Counters the ingester exports as metrics (unknown discriminators met so far). */
  readonly stats: DecodeStats;
  /** The account's decoded struct, or null for an account type the program does not map or does not watch. */
  decodeAccount(pubkey: string, data: Uint8Array): A | null;
  /** What the transaction did in this program, or null when it did nothing the program maps or watches. */
  decodeTransaction(tx: TransactionInput): T | null;
  mapAccount(decoded: A, input: AccountInput, context: MapContext): Mapped;
  mapTransaction(decoded: T, tx: TransactionInput, context: MapContext): Mapped;
}

/** Any program, whatever its decoded types. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProgram = Program<any, any>;

/** The pure half of a program. */
export interface ProgramDecoder<A, T> {
  decodeAccount(pubkey: string, data: Uint8Array): A | null;
  decodeTransaction(tx: TransactionInput): T | null;
}

/** The half that reads earlier data. */
export interface ProgramMapper<A, T> {
  mapAccount(decoded: A, input: AccountInput, context: MapContext): Mapped;
  mapTransaction(decoded: T, tx: TransactionInput, context: MapContext): Mapped;
}

/** A program from its identity, its decoder and its mapper. */
export function programOf<A, T>(
  identity: Pick<Program, 'name' | 'programId' | 'domain' | 'stats'>,
  decoder: ProgramDecoder<A, T>,
  mapper: ProgramMapper<A, T>,
): Program<A, T> {
  return {
    ...identity,
    decodeAccount: (pubkey, data) => decoder.decodeAccount(pubkey, data),
    decodeTransaction: (tx) => decoder.decodeTransaction(tx),
    mapAccount: (decoded, input, context) => mapper.mapAccount(decoded, input, context),
    mapTransaction: (decoded, tx, context) => mapper.mapTransaction(decoded, tx, context),
  };
}
