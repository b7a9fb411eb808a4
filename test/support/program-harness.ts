// The programs' decode and map stages on their own, without a database or an RPC server: played
// transactions of the local cluster's activity go through each program with a MapContext that
// keeps rows in memory (merged by key, as the writer merges them) and reads the chain straight
// from the ledger. For the stages' own tests; ingestion as a whole is tested through the pipeline.
import { TABLES, type Topic } from '../../src/db/schema.ts';
import { ActivityScript, type ActivityOptions } from '../../src/simulate/activity/player.ts';
import { toTransactionInput } from '../../src/simulate/activity/transaction-input.ts';
import { LocalLedger } from '../../src/simulate/ledger.ts';
import type { SimTransaction, SubmittedTransaction } from '../../src/simulate/types.ts';
import type {
  AccountInput,
  AnyProgram,
  ChainAccount,
  DecodedRow,
  MapContext,
  SkipReason,
  TransactionInput,
} from '../../src/programs/types.ts';

export interface Played {
  readonly tx: SimTransaction;
  readonly submitted: SubmittedTransaction;
  readonly input: TransactionInput;
}

/** A ledger that remembers what was played on it, so its history can be read back as TransactionInputs. */
export class PlayedLedger {
  readonly ledger: LocalLedger;
  readonly played: Played[] = [];
  private readonly bySignature = new Map<string, Played>();

  constructor(seed = 'program-harness') {
    this.ledger = new LocalLedger({ seed, now: () => 1_767_225_600_000 });
  }

  submit(tx: SimTransaction): Played {
    const submitted = this.ledger.submit(tx);
    const played = { tx, submitted, input: toTransactionInput(tx, submitted) };
    this.played.push(played);
    this.bySignature.set(submitted.signature, played);
    return played;
  }

  play(script: ActivityScript, steps: number): Played[] {
    return Array.from({ length: steps }, () => this.submit(script.next()));
  }

  history(address: string): TransactionInput[] {
    return this.ledger
      .signaturesForAddress(address, { limit: 100_000 })
      .reverse()
      .map((stored) => this.bySignature.get(stored.signatures[0] as string)?.input)
      .filter((input): input is TransactionInput => input !== undefined);
  }
}

/** A script playing only `program`'s activity. */
export function only(
  program: NonNullable<keyof NonNullable<ActivityOptions['programs']>>,
  options: Partial<ActivityOptions> = {},
): ActivityScript {
  const all = ['escrow', 'cpSwap', 'tensor', 'governance'] as const;
  return new ActivityScript({
    seed: 11,
    ...options,
    programs: Object.fromEntries(all.filter((p) => p !== program).map((p) => [p, false])),
  });
}

/** Rows kept in memory by natural key, columns merged in the order they were mapped. */
export class MemoryRows {
  readonly rows = new Map<string, Record<string, unknown>>();
  readonly skips: { reason: SkipReason; details: Readonly<Record<string, unknown>> }[] = [];

  add(rows: readonly DecodedRow[]): void {
    for (const row of rows) {
      const naturalKey: readonly string[] = TABLES[row.topic].naturalKey;
      const value = row.row as Record<string, unknown>;
      const key = `${row.topic}|${naturalKey.map((c) => String(value[c])).join('|')}`;
      this.rows.set(key, { ...this.rows.get(key), ...value });
    }
  }

  of(topic: Topic): Record<string, unknown>[] {
    return [...this.rows].filter(([key]) => key.startsWith(`${topic}|`)).map(([, row]) => row);
  }

  get(topic: Topic, pubkey: string): Record<string, unknown> | null {
    return this.rows.get(`${topic}|${pubkey}`) ?? null;
  }
}

export function memoryContext(chain: PlayedLedger, store: MemoryRows): MapContext {
  const cache = new Map<string, unknown>();
  return {
    row: async (topic, pubkey) => store.get(topic, pubkey) as never,
    accounts: async (pubkeys) => ({
      slot: chain.ledger.slot(),
      values: pubkeys.map((k): ChainAccount | null => {
        const account = chain.ledger.getAccount(k);
        return account === null ? null : { owner: account.owner, lamports: account.lamports, data: account.data };
      }),
    }),
    history: async (address) => chain.history(address),
    cache,
    skip: (reason, details) => store.skips.push({ reason, details }),
  };
}

/**
 * Runs every played transaction through `programs` as a live ingester would see it: the account
 * writes it made (as notifications), then the transaction. Returns the rows of each, in order.
 */
export async function mapPlayed(
  programs: readonly AnyProgram[],
  chain: PlayedLedger,
  played: readonly Played[],
  store = new MemoryRows(),
): Promise<{ store: MemoryRows; rows: DecodedRow[][] }> {
  const context = memoryContext(chain, store);
  const out: DecodedRow[][] = [];
  for (const { tx, submitted, input } of played) {
    const rows: DecodedRow[] = [];
    for (const program of programs) {
      for (const write of tx.accountWrites) {
        if (write.owner !== program.programId) continue;
        const account: AccountInput = {
          pubkey: write.pubkey,
          data: write.data,
          slot: submitted.slot,
          origin: 'notification',
        };
        const decoded: unknown = program.decodeAccount(write.pubkey, write.data);
        if (decoded === null) continue;
        const mapped = await program.mapAccount(decoded, account, context);
        store.add(mapped);
        rows.push(...mapped);
      }
      const decoded: unknown = program.decodeTransaction(input);
      if (decoded === null) continue;
      const mapped = await program.mapTransaction(decoded, input, context);
      store.add(mapped);
      rows.push(...mapped);
    }
    out.push(rows);
  }
  return { store, rows: out };
}
