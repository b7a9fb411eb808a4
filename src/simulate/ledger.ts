// The local cluster's ledger: accounts, transactions compiled into legacy messages, one slot per
// transaction, and each slot's commitment. A slot is `processed` when its transaction lands,
// `confirmed` and then `finalized` once enough later slots landed on the surviving chain (depth
// mode, here) or when the commitment clock says so (delay mode, commitment-clock.ts). A minority
// fork is a run of slots built on the surviving tip that only `processed` readers see; when the
// surviving chain moves on, the fork's slots die and their account writes are gone. Every reader
// names the commitment it reads at. Deterministic from a seed: signatures and blockhashes are
// hashes of the seed and a counter.
import { createHash } from 'node:crypto';
import { utils } from '@coral-xyz/anchor';
import { meetsCommitment, type Commitment, type SlotStatus } from './commitment.ts';
import type {
  SimAccountWrite,
  SimInstruction,
  SimLedger,
  SimTransaction,
  SubmitOptions,
  SubmittedTransaction,
} from './types.ts';

const bs58 = utils.bytes.bs58;

export const SYSTEM_PROGRAM_ID = '11111111111111111111111111111111';

/** What a dead slot's `dead_error` / slotsUpdates `err` says. */
export const ABANDONED_FORK_ERROR = 'slot is on a minority fork that the cluster abandoned';

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
  /** Position within its slot. */
  readonly index: number;
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

/** One version of an account: what a transaction left in it. */
export interface StoredAccount {
  readonly account: SimAccountWrite;
  /** Slot of the transaction that wrote it. */
  readonly slot: number;
  /** Grows with every account write in the ledger, forks included (Geyser's `write_version`). */
  readonly writeVersion: number;
  /** The transaction that wrote it (null for accounts that existed before any transaction). */
  readonly txnSignature: string | null;
}

/** A slot as readers see it. */
export interface LedgerSlot {
  readonly slot: number;
  readonly parent: number;
  readonly blockhash: string;
  readonly blockTime: number;
  /** Blocks from genesis on this slot's chain: dead slots do not count. */
  readonly blockHeight: number;
  /** Built on a minority fork: never confirmed, dies when the surviving chain moves on. */
  readonly onFork: boolean;
  /** Wall clock (ms) when the slot was processed. */
  readonly processedAt: number;
  readonly status: SlotStatus;
  readonly deadError: string | null;
  readonly transactions: readonly StoredTransaction[];
  /** Account versions the slot's transactions wrote, in write order. */
  readonly updates: readonly StoredAccount[];
}

/** What happens on the ledger, in order; PubSub and the Geyser endpoint are built from these. */
export type LedgerEvent =
  /** A new slot (bank) exists, before its transactions run. */
  | { readonly type: 'slotStarted'; readonly slot: LedgerSlot }
  /** One transaction ran in `slot`, leaving `updates`. */
  | {
      readonly type: 'transaction';
      readonly slot: LedgerSlot;
      readonly tx: StoredTransaction;
      readonly updates: readonly StoredAccount[];
    }
  | { readonly type: 'slotProcessed'; readonly slot: LedgerSlot }
  | { readonly type: 'slotConfirmed'; readonly slot: LedgerSlot }
  | { readonly type: 'slotFinalized'; readonly slot: LedgerSlot }
  /** A fork slot died; its writes are already gone from the processed state. */
  | { readonly type: 'slotDead'; readonly slot: LedgerSlot };

export interface LedgerOptions {
  /** Seeds signatures and blockhashes. */
  readonly seed?: string | number;
  /** The first slot a transaction lands in. */
  readonly firstSlot?: number;
  /** Wall clock in ms, for block times and processing times. */
  readonly now?: () => number;
  /**
   * A slot is confirmed once this many later slots landed on the surviving chain (0: at once);
   * null leaves confirmation to `confirm()` (the commitment clock, or a test).
   */
  readonly confirmationDepth?: number | null;
  /** The same for finalization; a finalized slot is confirmed first. */
  readonly finalizationDepth?: number | null;
}

const LAMPORTS_PER_SIGNATURE = 5000n;
/** Blocks a blockhash stays usable for (the runtime's MAX_PROCESSING_AGE). */
export const MAX_PROCESSING_AGE = 150;

class SlotRecord implements LedgerSlot {
  status: SlotStatus;
  deadError: string | null = null;
  readonly transactions: StoredTransaction[] = [];
  readonly updates: StoredAccount[] = [];

  constructor(
    readonly slot: number,
    readonly parent: number,
    readonly blockhash: string,
    readonly blockTime: number,
    readonly blockHeight: number,
    readonly onFork: boolean,
    readonly processedAt: number,
    status: SlotStatus,
  ) {
    this.status = status;
  }
}

function isClosed(account: SimAccountWrite): boolean {
  return account.lamports === 0n && account.data.length === 0;
}

/** Removes and returns the queue's slots up to and including `slot` (the queue is in slot order). */
function takeThrough(queue: SlotRecord[], slot: number): SlotRecord[] {
  const count = queue.findIndex((record) => record.slot > slot);
  return queue.splice(0, count < 0 ? queue.length : count);
}

/** Applies a slot's account versions to a view of the state. */
function applyUpdates(view: Map<string, StoredAccount>, updates: readonly StoredAccount[]): void {
  for (const update of updates) {
    if (isClosed(update.account)) view.delete(update.account.pubkey);
    else view.set(update.account.pubkey, update);
  }
}

export class LocalLedger implements SimLedger {
  /** The slot before the first transaction's: finalized from the start, with no block. */
  readonly genesisSlot: number;
  private readonly seed: string;
  private readonly now: () => number;
  private readonly confirmationDepth: number | null;
  private readonly finalizationDepth: number | null;
  private nextSlot: number;
  private readonly slots = new Map<number, SlotRecord>();
  private majorityTip: SlotRecord;
  private confirmedTip: SlotRecord;
  private finalizedTip: SlotRecord;
  /** The live minority fork's slots, oldest first; empty when there is none. */
  private fork: SlotRecord[] = [];
  /** Surviving-chain slots not yet confirmed / not yet finalized, oldest first. */
  private unconfirmed: SlotRecord[] = [];
  private unfinalized: SlotRecord[] = [];
  /** Account state at the surviving tip, at the confirmed tip and at the finalized tip. */
  private readonly views: Record<Commitment, Map<string, StoredAccount>> = {
    processed: new Map(),
    confirmed: new Map(),
    finalized: new Map(),
  };
  /** What the live fork changed on top of the surviving tip (null: closed on the fork). */
  private readonly forkOverlay = new Map<string, StoredAccount | null>();
  private readonly transactions: StoredTransaction[] = [];
  private readonly bySignature = new Map<string, StoredTransaction>();
  /** Every transaction that names an address among its account keys, oldest first (seq numbers). */
  private readonly byAddress = new Map<string, number[]>();
  private readonly byBlockhash = new Map<string, number>();
  private writeVersion = 0;
  private deadTransactions = 0;
  private readonly listeners = new Set<(event: LedgerEvent) => void>();

  constructor(options: LedgerOptions = {}) {
    this.seed = String(options.seed ?? 0);
    this.now = options.now ?? Date.now;
    this.confirmationDepth = options.confirmationDepth === undefined ? 0 : options.confirmationDepth;
    this.finalizationDepth = options.finalizationDepth === undefined ? 0 : options.finalizationDepth;
    const genesisSlot = (options.firstSlot ?? 1) - 1;
    this.genesisSlot = genesisSlot;
    this.nextSlot = genesisSlot + 1;
    // The slot before the first transaction: finalized, empty, its block height its slot number.
    const genesis = new SlotRecord(
      genesisSlot,
      Math.max(0, genesisSlot - 1),
      this.hash(genesisSlot),
      Math.floor(this.now() / 1000),
      genesisSlot,
      false,
      this.now(),
      'finalized',
    );
    this.slots.set(genesisSlot, genesis);
    this.byBlockhash.set(genesis.blockhash, genesisSlot);
    this.majorityTip = genesis;
    this.confirmedTip = genesis;
    this.finalizedTip = genesis;
  }

  /** The slot readers at `commitment` see: the fork's tip while a fork is alive, for `processed`. */
  slot(commitment: Commitment = 'processed'): number {
    return this.tip(commitment).slot;
  }

  tip(commitment: Commitment = 'processed'): LedgerSlot {
    if (commitment === 'finalized') return this.finalizedTip;
    if (commitment === 'confirmed') return this.confirmedTip;
    return this.fork[this.fork.length - 1] ?? this.majorityTip;
  }

  /** A slot the ledger produced (surviving, fork or dead), or null. */
  slotInfo(slot: number): LedgerSlot | null {
    return this.slots.get(slot) ?? null;
  }

  /** The next slot number a transaction will land in. */
  upcomingSlot(): number {
    return this.nextSlot;
  }

  blockhash(slot = this.slot()): string {
    return this.slots.get(slot)?.blockhash ?? this.hash(slot);
  }

  blockTime(slot: number): number | null {
    return this.slots.get(slot)?.blockTime ?? null;
  }

  /** The slot whose blockhash this is, or null. */
  blockhashSlot(blockhash: string): LedgerSlot | null {
    return this.slots.get(this.byBlockhash.get(blockhash) ?? -1) ?? null;
  }

  /**
   * Whether a transaction naming `blockhash` would still be accepted at `commitment`: the blockhash
   * is of a slot at that commitment, on the chain readers see, at most 150 blocks old.
   */
  isBlockhashValid(blockhash: string, commitment: Commitment = 'processed'): boolean {
    const record = this.slots.get(this.byBlockhash.get(blockhash) ?? -1);
    if (record === undefined || !meetsCommitment(record.status, commitment)) return false;
    return this.tip(commitment).blockHeight - record.blockHeight <= MAX_PROCESSING_AGE;
  }

  getAccount(pubkey: string): SimAccountWrite | null {
    return this.getStoredAccount(pubkey)?.account ?? null;
  }

  getStoredAccount(pubkey: string, commitment: Commitment = 'processed'): StoredAccount | null {
    if (commitment === 'processed' && this.forkOverlay.has(pubkey)) return this.forkOverlay.get(pubkey) ?? null;
    return this.views[commitment].get(pubkey) ?? null;
  }

  accountsOwnedBy(owner: string, commitment: Commitment = 'processed'): [string, StoredAccount][] {
    const out: [string, StoredAccount][] = [];
    const overlay = commitment === 'processed' ? this.forkOverlay : null;
    for (const [pubkey, stored] of this.views[commitment]) {
      if (overlay?.has(pubkey) === true) continue;
      if (stored.account.owner === owner) out.push([pubkey, stored]);
    }
    for (const [pubkey, stored] of overlay ?? []) {
      if (stored !== null && stored.account.owner === owner) out.push([pubkey, stored]);
    }
    return out;
  }

  /** A transaction whose slot is at least at `commitment` (never one of a dead slot). */
  getTransaction(signature: string, commitment: Commitment = 'processed'): StoredTransaction | null {
    const tx = this.bySignature.get(signature);
    if (tx === undefined || !meetsCommitment(this.statusOf(tx), commitment)) return null;
    return tx;
  }

  /** Where a transaction's slot stands (dead included), or null for a signature never seen. */
  transactionStatus(signature: string): { readonly tx: StoredTransaction; readonly status: SlotStatus } | null {
    const tx = this.bySignature.get(signature);
    return tx === undefined ? null : { tx, status: this.statusOf(tx) };
  }

  /** Transactions of slots that did not die. */
  transactionCount(): number {
    return this.transactions.length - this.deadTransactions;
  }

  /**
   * Transactions naming `address` at `commitment`, newest first, strictly older than `before` and
   * newer than `until`.
   */
  signaturesForAddress(
    address: string,
    options: { before?: string; until?: string; limit: number; commitment?: Commitment },
  ): StoredTransaction[] {
    const commitment = options.commitment ?? 'processed';
    const seqs = this.byAddress.get(address) ?? [];
    const beforeSeq = options.before === undefined ? Infinity : (this.bySignature.get(options.before)?.seq ?? -1);
    const untilSeq = options.until === undefined ? -1 : (this.bySignature.get(options.until)?.seq ?? -1);
    const out: StoredTransaction[] = [];
    for (let i = seqs.length - 1; i >= 0 && out.length < options.limit; i--) {
      const seq = seqs[i] as number;
      if (seq >= beforeSeq) continue;
      if (seq <= untilSeq) break;
      const tx = this.transactions[seq] as StoredTransaction;
      if (meetsCommitment(this.statusOf(tx), commitment)) out.push(tx);
    }
    return out;
  }

  /** Called for every ledger event, in order; returns an unsubscribe function. */
  onEvent(listener: (event: LedgerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  forkAlive(): boolean {
    return this.fork.length > 0;
  }

  /** The live fork's slots, oldest first. */
  forkSlots(): readonly LedgerSlot[] {
    return [...this.fork];
  }

  /**
   * Resolves once `slot` is at least at `commitment`; rejects if it dies first. A slot that does
   * not exist yet is waited for.
   */
  whenSlotReaches(slot: number, commitment: Commitment): Promise<LedgerSlot> {
    return new Promise((resolve, reject) => {
      const settle = (): boolean => {
        const record = this.slots.get(slot);
        if (record === undefined) return false;
        if (record.status === 'dead') reject(new Error(`slot ${slot} died: ${record.deadError ?? ''}`));
        else if (meetsCommitment(record.status, commitment)) resolve(record);
        else return false;
        return true;
      };
      if (settle()) return;
      const stop = this.onEvent(() => {
        if (settle()) stop();
      });
    });
  }

  submit(input: SimTransaction, options: SubmitOptions = {}): SubmittedTransaction {
    const onFork = options.onFork === true;
    if (!onFork && this.fork.length > 0) this.abandonFork();
    const parent = (onFork ? this.fork[this.fork.length - 1] : undefined) ?? this.majorityTip;
    const slotNumber = this.nextSlot++;
    const blockTime = Math.max(Math.floor(this.now() / 1000), parent.blockTime);
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
    const signature = signatures[0] as string;
    const fee = input.fee ?? LAMPORTS_PER_SIGNATURE * BigInt(header.numRequiredSignatures);
    const preBalances = accountKeys.map((key) => this.getStoredAccount(key)?.account.lamports ?? 0n);
    const failed = input.err !== undefined && input.err !== null;
    // A failed transaction still pays its fee but changes nothing else.
    const writes = failed ? [] : input.accountWrites;
    const postLamports = new Map<string, bigint>(writes.map((w) => [w.pubkey, w.lamports]));
    const postBalances = accountKeys.map((key, i) => {
      const after = postLamports.get(key) ?? (preBalances[i] as bigint);
      return key === input.feePayer && !postLamports.has(key) ? (after > fee ? after - fee : 0n) : after;
    });
    const record = new SlotRecord(
      slotNumber,
      parent.slot,
      this.hash(slotNumber),
      blockTime,
      parent.blockHeight + 1,
      onFork,
      this.now(),
      'processed',
    );
    const tx: StoredTransaction = {
      seq,
      signatures,
      slot: slotNumber,
      index: 0,
      blockTime,
      accountKeys,
      header,
      instructions: input.instructions.map(compile),
      innerInstructions: (input.innerInstructions ?? []).map((inner) => ({
        index: inner.index,
        instructions: inner.instructions.map(compile),
      })),
      recentBlockhash: parent.blockhash,
      logMessages: [...input.logMessages],
      fee,
      err: failed ? input.err : null,
      preBalances,
      postBalances,
    };

    this.slots.set(slotNumber, record);
    this.byBlockhash.set(record.blockhash, slotNumber);
    if (onFork) this.fork.push(record);
    else this.majorityTip = record;
    this.emit({ type: 'slotStarted', slot: record });

    const updates = writes.map((write): StoredAccount => ({
      account: { ...write, data: Uint8Array.from(write.data) },
      slot: slotNumber,
      writeVersion: ++this.writeVersion,
      txnSignature: signature,
    }));
    if (onFork) {
      for (const update of updates)
        this.forkOverlay.set(update.account.pubkey, isClosed(update.account) ? null : update);
    } else {
      applyUpdates(this.views.processed, updates);
    }
    record.transactions.push(tx);
    record.updates.push(...updates);
    this.transactions.push(tx);
    this.bySignature.set(signature, tx);
    for (const key of accountKeys) {
      let list = this.byAddress.get(key);
      if (list === undefined) this.byAddress.set(key, (list = []));
      list.push(seq);
    }
    this.emit({ type: 'transaction', slot: record, tx, updates });
    this.emit({ type: 'slotProcessed', slot: record });
    if (!onFork) {
      this.unconfirmed.push(record);
      this.unfinalized.push(record);
      this.promoteByDepth();
    }
    return { signature, slot: slotNumber, blockTime };
  }

  /**
   * Kills the live fork: its slots die, their writes leave the processed state, and readers are
   * told (slotDead events, oldest slot first). Returns the slots that died.
   */
  abandonFork(error: string = ABANDONED_FORK_ERROR): LedgerSlot[] {
    const dead = this.fork;
    if (dead.length === 0) return [];
    this.fork = [];
    this.forkOverlay.clear();
    for (const record of dead) {
      record.status = 'dead';
      record.deadError = error;
      this.deadTransactions += record.transactions.length;
    }
    for (const record of dead) this.emit({ type: 'slotDead', slot: record });
    return dead;
  }

  /** Confirms `slot` and every unconfirmed surviving slot before it. */
  confirm(slot: number): void {
    this.surviving(slot, 'confirm');
    for (const record of takeThrough(this.unconfirmed, slot)) {
      record.status = 'confirmed';
      applyUpdates(this.views.confirmed, record.updates);
      this.confirmedTip = record;
      this.emit({ type: 'slotConfirmed', slot: record });
    }
  }

  /** Finalizes `slot` and every surviving slot before it, confirming them first where needed. */
  finalize(slot: number): void {
    this.surviving(slot, 'finalize');
    this.confirm(slot);
    for (const record of takeThrough(this.unfinalized, slot)) {
      record.status = 'finalized';
      applyUpdates(this.views.finalized, record.updates);
      this.finalizedTip = record;
      this.emit({ type: 'slotFinalized', slot: record });
    }
  }

  private surviving(slot: number, what: string): void {
    const record = this.slots.get(slot);
    if (record === undefined || record.onFork) {
      throw new RangeError(`cannot ${what} slot ${slot}: it is not a slot of the surviving chain`);
    }
  }

  private promoteByDepth(): void {
    const tip = this.majorityTip.slot;
    if (this.confirmationDepth !== null) {
      const head = this.unconfirmed.filter((r) => tip - r.slot >= (this.confirmationDepth as number)).pop();
      if (head !== undefined) this.confirm(head.slot);
    }
    if (this.finalizationDepth !== null) {
      const head = this.unfinalized.filter((r) => tip - r.slot >= (this.finalizationDepth as number)).pop();
      if (head !== undefined) this.finalize(head.slot);
    }
  }

  private statusOf(tx: StoredTransaction): SlotStatus {
    return this.slots.get(tx.slot)?.status ?? 'dead';
  }

  private hash(slot: number): string {
    return bs58.encode(createHash('sha256').update(`blockhash:${this.seed}:${slot}`).digest());
  }

  private emit(event: LedgerEvent): void {
    for (const listener of this.listeners) listener(event);
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
