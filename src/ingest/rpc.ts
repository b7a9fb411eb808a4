// Reading the chain through web3.js: retries with full-jitter exponential backoff, and the
// conversion of getTransaction's answer into the decoders' TransactionInput.
import { utils } from '@coral-xyz/anchor';
import { SolanaJSONRPCError, type VersionedTransactionResponse } from '@solana/web3.js';
import type { CompiledInstructionInput, TransactionInput } from '../programs/types.ts';
import type { Logger } from '../log.ts';

const bs58 = utils.bytes.bs58;
const MAX_DELAY_MS = 30_000;

export interface RetryPolicy {
  readonly maxRetries: number;
  readonly baseMs: number;
}

/** JSON-RPC errors that say the request itself is wrong: retrying cannot help. */
const PERMANENT_CODES = new Set([-32600, -32601, -32602]);

function isPermanent(error: unknown): boolean {
  return error instanceof SolanaJSONRPCError && typeof error.code === 'number' && PERMANENT_CODES.has(error.code);
}

export class RetriesExhaustedError extends Error {
  constructor(what: string, attempts: number, cause: unknown) {
    super(`${what} failed after ${attempts} attempts: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'RetriesExhaustedError';
  }
}

/**
 * Runs `call` until it succeeds, waiting `random(0, min(30 s, base · 2^attempt))` between attempts
 * (full jitter spreads many clients hitting the same 429). `closed()` stops waiting at shutdown.
 */
/** What withRetry reports as it goes (metrics). */
export interface RetryEvents {
  /** Before each attempt. */
  attempt?(): void;
  /** After each failed attempt. */
  failed?(): void;
  /** Before waiting for the next attempt. */
  retrying?(): void;
}

export async function withRetry<T>(
  what: string,
  call: () => Promise<T>,
  policy: RetryPolicy,
  logger: Logger,
  closed: () => boolean = () => false,
  events: RetryEvents = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      events.attempt?.();
      return await call();
    } catch (error) {
      events.failed?.();
      if (isPermanent(error) || attempt >= policy.maxRetries || closed())
        throw new RetriesExhaustedError(what, attempt, error);
      events.retrying?.();
      const delay = Math.random() * Math.min(MAX_DELAY_MS, policy.baseMs * 2 ** (attempt - 1));
      logger.debug(
        { what, attempt, delayMs: Math.round(delay), err: (error as Error).message },
        'retrying an RPC request',
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** The decoders' view of a confirmed transaction. */
export function toTransactionInput(signature: string, response: VersionedTransactionResponse): TransactionInput {
  const message = response.transaction.message;
  const loaded = response.meta?.loadedAddresses;
  const accountKeys = [
    ...message.staticAccountKeys.map((k) => k.toBase58()),
    ...(loaded?.writable ?? []).map((k) => k.toBase58()),
    ...(loaded?.readonly ?? []).map((k) => k.toBase58()),
  ];
  const writable = [
    ...message.staticAccountKeys.map((_k, i) => message.isAccountWritable(i)),
    ...(loaded?.writable ?? []).map(() => true),
    ...(loaded?.readonly ?? []).map(() => false),
  ];
  const instructions: CompiledInstructionInput[] = message.compiledInstructions.map((ix) => ({
    programIdIndex: ix.programIdIndex,
    accounts: [...ix.accountKeyIndexes],
    data: Uint8Array.from(ix.data),
  }));
  const innerInstructions = new Map<number, CompiledInstructionInput[]>();
  for (const inner of response.meta?.innerInstructions ?? []) {
    innerInstructions.set(
      inner.index,
      inner.instructions.map((ix) => ({
        programIdIndex: ix.programIdIndex,
        accounts: [...ix.accounts],
        data: bs58.decode(ix.data),
      })),
    );
  }
  return {
    signature,
    slot: response.slot,
    blockTime: response.blockTime ?? null,
    fee: BigInt(response.meta?.fee ?? 0),
    err: response.meta?.err ?? null,
    accountKeys,
    writable,
    instructions,
    innerInstructions,
    logMessages: response.meta?.logMessages ?? [],
  };
}

/** Writable accounts a transaction passes to `programId`: the accounts whose state it may have changed. */
export function writableAccountsOf(tx: TransactionInput, programId: string): string[] {
  const out = new Set<string>();
  const visit = (ix: CompiledInstructionInput) => {
    if (tx.accountKeys[ix.programIdIndex] !== programId) return;
    for (const index of ix.accounts) {
      const key = tx.accountKeys[index];
      if (key !== undefined && tx.writable[index] === true) out.add(key);
    }
  };
  tx.instructions.forEach(visit);
  for (const inner of tx.innerInstructions.values()) inner.forEach(visit);
  return [...out];
}

/** Runs `work` over `items` with at most `concurrency` in flight; results keep the input order. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
