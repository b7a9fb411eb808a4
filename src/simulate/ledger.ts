// The local cluster's ledger: accounts, transactions compiled into legacy messages, one slot per
// transaction. Everything is final as soon as it is submitted (there are no forks to roll back),
// so every commitment level sees the same state. Deterministic from a seed: signatures and
// blockhashes are hashes of the seed and a counter.
import { createHash } from 'node:crypto';
import { utils } from '@coral-xyz/anchor';
import type { SimAccountWrite, SimInstruction, SimLedger, SimTransaction, SubmittedTransaction } from './types.ts';

const bs58 = utils.bytes.bs58;

export const SYSTEM_PROGRAM_ID = '11111111111111111111111111111111';

export interface MessageHeader {
  readonly numRequiredSignatures: number;
  readonly numReadonlySignedAccounts: number;
  readonly numReadonlyUnsignedAccounts: number;
}

export interface CompiledInstruction {
  readonly programIdIndex: number;
  readonly accounts: readonly number[];
  /** Instruction data, base58 (as the `json` encoding of getTransaction carries it). */
  readonly data: string;
}

/** A transaction as the ledger keeps it: the compiled message plus the runtime's metadata. */
export interface StoredTransaction {
  /** Position in the ledger, 0-based; orders transactions within and across slots. */
  readonly seq: number;
  readonly signatures: readonly string[];
  readonly slot: number;
  readonly blockTime: number;
  readonly accountKeys: readonly string[];
  readonly header: MessageHeader;
  readonly instructions: readonly CompiledInstruction[];
  readonly innerInstructions: readonly {
    readonly index: number;
    readonly instructions: readonly CompiledInstruction[];
  }[];
  readonly recentBlockhash: string;
  readonly logMessages: readonly string[];
  readonly fee: bigint;
  readonly err: unknown;
  readonly preBalances: readonly bigint[];
  readonly postBalances: readonly bigint[];
}

export interface StoredAccount {
  readonly account: SimAccountWrite;
  /** Slot of the transaction that last wrote it. */
  readonly slot: number;
}

/** What one submitted transaction changed, for PubSub. */
export interface LedgerCommit {
  readonly tx: StoredTransaction;
  readonly accountWrites: readonly SimAccountWrite[];
}

export interface LedgerOptions {
  /** Seeds signatures and blockhashes. */
  readonly seed?: string | number;
  /** The first slot a transaction lands in. */
  readonly firstSlot?: number;
  /** Wall clock in ms, for block times. */
  readonly now?: () => number;
}

const LAMPORTS_PER_SIGNATURE = 5000n;

export class LocalLedger implements SimLedger {
  private readonly seed: string;
  private readonly now: () => number;
  private currentSlot: number;
  private readonly accounts = new Map<string, StoredAccount>();
  private readonly transactions: StoredTransaction[] = [];
  private readonly bySignature = new Map<string, StoredTransaction>();
  /** Every transaction that names an address among its account keys, oldest first (seq numbers). */
  private readonly byAddress = new Map<string, number[]>();
  private readonly blockTimes = new Map<number, number>();
  private readonly listeners = new Set<(commit: LedgerCommit) => void>();

  constructor(options: LedgerOptions = {}) {
    this.seed = String(options.seed ?? 0);
    this.now = options.now ?? Date.now;
    this.currentSlot = (options.firstSlot ?? 1) - 1;
    this.blockTimes.set(this.currentSlot, Math.floor(this.now() / 1000));
  }

  slot(): number {
    return this.currentSlot;
  }

  blockhash(slot = this.currentSlot): string {
    return bs58.encode(createHash('sha256').update(`blockhash:${this.seed}:${slot}`).digest());
  }

  blockTime(slot: number): number | null {
    return this.blockTimes.get(slot) ?? null;
  }

  getAccount(pubkey: string): SimAccountWrite | null {
    return this.accounts.get(pubkey)?.account ?? null;
  }

  getStoredAccount(pubkey: string): StoredAccount | null {
    return this.accounts.get(pubkey) ?? null;
  }

  accountsOwnedBy(owner: string): [string, StoredAccount][] {
    return [...this.accounts].filter(([, stored]) => stored.account.owner === owner);
  }

  getTransaction(signature: string): StoredTransaction | null {
    return this.bySignature.get(signature) ?? null;
  }

  transactionCount(): number {
    return this.transactions.length;
  }

  /** Transactions naming `address`, newest first, strictly older than `before` and newer than `until`. */
  signaturesForAddress(
    address: string,
    options: { before?: string; until?: string; limit: number },
  ): StoredTransaction[] {
    const seqs = this.byAddress.get(address) ?? [];
    const beforeSeq = options.before === undefined ? Infinity : (this.bySignature.get(options.before)?.seq ?? -1);
    const untilSeq = options.until === undefined ? -1 : (this.bySignature.get(options.until)?.seq ?? -1);
    const out: StoredTransaction[] = [];
    for (let i = seqs.length - 1; i >= 0 && out.length < options.limit; i--) {
      const seq = seqs[i] as number;
      if (seq >= beforeSeq) continue;
      if (seq <= untilSeq) break;
      out.push(this.transactions[seq] as StoredTransaction);
    }
    return out;
  }

  /** Called after each transaction is applied; returns an unsubscribe function. */
  onCommit(listener: (commit: LedgerCommit) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  submit(input: SimTransaction): SubmittedTransaction {
    const slot = this.currentSlot + 1;
    const blockTime = Math.max(Math.floor(this.now() / 1000), this.blockTimes.get(this.currentSlot) ?? 0);
    const seq = this.transactions.length;
    const { accountKeys, header } = compileKeys(input);
    const index = new Map(accountKeys.map((key, i) => [key, i]));
    const compile = (ix: SimInstruction): CompiledInstruction => ({
      programIdIndex: index.get(ix.programId) as number,
      accounts: ix.accounts.map((meta) => index.get(meta.pubkey) as number),
      data: bs58.encode(ix.data),
    });
    const signatures = Array.from({ length: header.numRequiredSignatures }, (_, i) =>
      bs58.encode(createHash('sha512').update(`signature:${this.seed}:${seq}:${i}`).digest()),
    );
    const fee = input.fee ?? LAMPORTS_PER_SIGNATURE * BigInt(header.numRequiredSignatures);
    const preBalances = accountKeys.map((key) => this.accounts.get(key)?.account.lamports ?? 0n);
    const failed = input.err !== undefined && input.err !== null;
    // A failed transaction still pays its fee but changes nothing else.
    const writes = failed ? [] : input.accountWrites;
    const postLamports = new Map<string, bigint>(writes.map((w) => [w.pubkey, w.lamports]));
    const postBalances = accountKeys.map((key, i) => {
      const after = postLamports.get(key) ?? (preBalances[i] as bigint);
      return key === input.feePayer && !postLamports.has(key) ? (after > fee ? after - fee : 0n) : after;
    });
    const tx: StoredTransaction = {
      seq,
      signatures,
      slot,
      blockTime,
      accountKeys,
      header,
      instructions: input.instructions.map(compile),
      innerInstructions: (input.innerInstructions ?? []).map((inner) => ({
        index: inner.index,
        instructions: inner.instructions.map(compile),
      })),
      recentBlockhash: this.blockhash(this.currentSlot),
      logMessages: [...input.logMessages],
      fee,
      err: failed ? input.err : null,
      preBalances,
      postBalances,
    };

    this.currentSlot = slot;
    this.blockTimes.set(slot, blockTime);
    for (const write of writes) {
      const closed = write.lamports === 0n && write.data.length === 0;
      if (closed) this.accounts.delete(write.pubkey);
      else
        this.accounts.set(write.pubkey, {
          account: { ...write, data: Uint8Array.from(write.data) },
          slot,
        });
    }
    this.transactions.push(tx);
    this.bySignature.set(signatures[0] as string, tx);
    for (const key of accountKeys) {
      let list = this.byAddress.get(key);
      if (list === undefined) this.byAddress.set(key, (list = []));
      list.push(seq);
    }
    for (const listener of this.listeners) listener({ tx, accountWrites: writes });
    return { signature: signatures[0] as string, slot, blockTime };
  }
}

/**
 * Orders account keys as a legacy message does: writable signers (fee payer first), read-only
 * signers, writable non-signers, read-only non-signers. Accounts the transaction writes are
 * writable even if no instruction names them, as the runtime requires.
 */
function compileKeys(tx: SimTransaction): {
  accountKeys: string[];
  header: MessageHeader;
} {
  const flags = new Map<string, { signer: boolean; writable: boolean }>();
  const add = (pubkey: string, signer: boolean, writable: boolean) => {
    const current = flags.get(pubkey);
    if (current === undefined) flags.set(pubkey, { signer, writable });
    else
      flags.set(pubkey, {
        signer: current.signer || signer,
        writable: current.writable || writable,
      });
  };
  add(tx.feePayer, true, true);
  for (const signer of tx.signers ?? []) add(signer, true, false);
  const visit = (ix: SimInstruction) => {
    for (const meta of ix.accounts) add(meta.pubkey, meta.isSigner, meta.isWritable);
    add(ix.programId, false, false);
  };
  tx.instructions.forEach(visit);
  for (const inner of tx.innerInstructions ?? []) inner.instructions.forEach(visit);
  for (const write of tx.accountWrites) add(write.pubkey, false, true);

  const keys = [...flags];
  const pick = (signer: boolean, writable: boolean) =>
    keys
      .filter(([key, f]) => f.signer === signer && f.writable === writable && key !== tx.feePayer)
      .map(([key]) => key);
  const signedWritable = [tx.feePayer, ...pick(true, true)];
  const signedReadonly = pick(true, false);
  const unsignedWritable = pick(false, true);
  const unsignedReadonly = pick(false, false);
  return {
    accountKeys: [...signedWritable, ...signedReadonly, ...unsignedWritable, ...unsignedReadonly],
    header: {
      numRequiredSignatures: signedWritable.length + signedReadonly.length,
      numReadonlySignedAccounts: signedReadonly.length,
      numReadonlyUnsignedAccounts: unsignedReadonly.length,
    },
  };
}
