// Reading the chain through web3.js's JSON-RPC: every request the ingester makes, each retried with
// full-jitter backoff (rpc.ts) and counted by method, getTransaction limited to a number in flight.
import type { Connection } from '@solana/web3.js';
import { PublicKey } from '@solana/web3.js';
import type { Commitment } from '../config.ts';
import type { Logger } from '../log.ts';
import type { ChainAccount, TransactionInput } from '../programs/types.ts';
import type { IngestMetrics } from './metrics.ts';
import { mapConcurrent, toTransactionInput, withRetry, type RetryPolicy } from './rpc.ts';

/** getMultipleAccounts takes at most 100 keys. */
export const MULTIPLE_ACCOUNTS_LIMIT = 100;
/** getTransaction may answer null for a moment after a logs notification; it is asked again. */
const MISSING_TRANSACTION = 'transaction not yet available';
/** Most signatures read of one address's history (parents rebuilt from their creating transaction). */
const HISTORY_LIMIT = 5_000;

export interface ChainReaderOptions {
  readonly connection: Connection;
  /** Commitment of every read; `processed` reads history at `confirmed` (the RPC refuses less). */
  readonly commitment: Commitment;
  readonly retry: RetryPolicy;
  /** getTransaction requests in flight at once. */
  readonly concurrency: number;
  readonly pageSize: number;
  readonly logger: Logger;
  readonly metrics: IngestMetrics;
  /** True once the reader's owner is shutting down: retries stop waiting. */
  readonly closed: () => boolean;
}

export interface SignatureInfo {
  readonly signature: string;
  readonly slot: number;
}

export class ChainReader {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly historyCommitment: 'confirmed' | 'finalized';

  constructor(private readonly options: ChainReaderOptions) {
    this.historyCommitment = options.commitment === 'finalized' ? 'finalized' : 'confirmed';
  }

  get connection(): Connection {
    return this.options.connection;
  }

  private rpc<T>(method: string, what: string, call: () => Promise<T>): Promise<T> {
    const { metrics, retry, logger, closed } = this.options;
    return withRetry(what, call, retry, logger, closed, {
      attempt: () => metrics.rpcRequest(method),
      failed: () => metrics.rpcError(method),
      retrying: () => metrics.rpcRetry(method),
    });
  }

  async slot(): Promise<number> {
    return this.rpc('getSlot', 'getSlot', () => this.connection.getSlot(this.options.commitment));
  }

  /** A transaction at the reader's commitment, waiting briefly when the node does not have it yet. */
  async transaction(signature: string): Promise<TransactionInput> {
    while (this.inFlight >= this.options.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    try {
      const response = await this.rpc('getTransaction', `getTransaction ${signature}`, async () => {
        const got = await this.connection.getTransaction(signature, {
          maxSupportedTransactionVersion: 0,
          commitment: this.historyCommitment,
        });
        if (got === null) throw new Error(MISSING_TRANSACTION);
        return got;
      });
      return toTransactionInput(signature, response);
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }

  transactions(signatures: readonly string[]): Promise<TransactionInput[]> {
    return mapConcurrent(signatures, this.options.concurrency, (s) => this.transaction(s));
  }

  /**
   * Signatures naming `address`, newest first: at most `limit`, and only those after `until` (a
   * signature) or above `afterSlot`.
   */
  async signatures(
    address: string,
    bound: { readonly until?: string; readonly afterSlot?: number; readonly limit: number },
  ): Promise<SignatureInfo[]> {
    const out: SignatureInfo[] = [];
    let before: string | undefined;
    const key = new PublicKey(address);
    while (out.length < bound.limit && !this.options.closed()) {
      const limit = Math.min(this.options.pageSize, bound.limit - out.length);
      const page = await this.rpc('getSignaturesForAddress', `getSignaturesForAddress ${address}`, () =>
        this.connection.getSignaturesForAddress(
          key,
          {
            limit,
            ...(before === undefined ? {} : { before }),
            ...(bound.until === undefined ? {} : { until: bound.until }),
          },
          this.historyCommitment,
        ),
      );
      for (const entry of page) {
        if (bound.afterSlot !== undefined && entry.slot <= bound.afterSlot) return out;
        out.push({ signature: entry.signature, slot: entry.slot });
      }
      if (page.length < limit) break;
      before = page[page.length - 1]?.signature;
    }
    return out;
  }

  /** Every transaction that named `address`, oldest first (bounded), for rebuilding a closed account's row. */
  async history(address: string): Promise<TransactionInput[]> {
    const signatures = await this.signatures(address, { limit: HISTORY_LIMIT });
    return this.transactions(signatures.reverse().map((s) => s.signature));
  }

  /** Up to 100 accounts read in one request, so all of them are of one slot. */
  async accounts(pubkeys: readonly string[]): Promise<{ slot: number; values: (ChainAccount | null)[] }> {
    if (pubkeys.length > MULTIPLE_ACCOUNTS_LIMIT)
      throw new RangeError(`at most ${MULTIPLE_ACCOUNTS_LIMIT} accounts per read, got ${pubkeys.length}`);
    if (pubkeys.length === 0) return { slot: await this.slot(), values: [] };
    const { context, value } = await this.rpc('getMultipleAccounts', `getMultipleAccounts (${pubkeys.length})`, () =>
      this.connection.getMultipleAccountsInfoAndContext(
        pubkeys.map((k) => new PublicKey(k)),
        { commitment: this.options.commitment },
      ),
    );
    return {
      slot: context.slot,
      values: value.map((info) =>
        info === null ? null : { owner: info.owner.toBase58(), lamports: BigInt(info.lamports), data: info.data },
      ),
    };
  }

  /** Every account `programId` owns, and the slot they were read at. */
  async programAccounts(
    programId: string,
  ): Promise<{ slot: number; accounts: { pubkey: string; data: Uint8Array }[] }> {
    const { context, value } = await this.rpc('getProgramAccounts', `getProgramAccounts ${programId}`, () =>
      this.connection.getProgramAccounts(new PublicKey(programId), {
        commitment: this.options.commitment,
        withContext: true,
      }),
    );
    return { slot: context.slot, accounts: value.map((a) => ({ pubkey: a.pubkey.toBase58(), data: a.account.data })) };
  }
}
