// What the local cluster's Geyser endpoint streams, before filtering: one message per account
// write, transaction, entry, slot status, block and block meta, and their encoding in geyser.proto
// terms (pubkeys, signatures and hashes as raw bytes, u64s as decimal strings).
import { utils } from '@coral-xyz/anchor';
import type { LedgerSlot, StoredAccount, StoredTransaction } from '../ledger.ts';
import type {
  SlotStatus,
  SubscribeUpdateAccountInfo,
  SubscribeUpdateBlockMeta,
  SubscribeUpdateEntry,
  SubscribeUpdateTransactionInfo,
} from './codecs.ts';
import { encodeTransactionError } from './transaction-error.ts';

const bs58 = utils.bytes.bs58;

export type GeyserMessage =
  | { readonly kind: 'account'; readonly slot: number; readonly update: StoredAccount; readonly createdAt: Date }
  | { readonly kind: 'transaction'; readonly slot: number; readonly tx: StoredTransaction; readonly createdAt: Date }
  | { readonly kind: 'entry'; readonly slot: LedgerSlot; readonly createdAt: Date }
  | {
      readonly kind: 'slot';
      readonly slot: number;
      readonly parent: number | undefined;
      readonly status: SlotStatus;
      readonly deadError: string | undefined;
      readonly createdAt: Date;
    }
  | { readonly kind: 'blockMeta'; readonly slot: LedgerSlot; readonly createdAt: Date }
  /** `accounts`: the slot's final version of each account it wrote (highest write_version). */
  | {
      readonly kind: 'block';
      readonly slot: LedgerSlot;
      readonly accounts: readonly StoredAccount[];
      readonly createdAt: Date;
    };

export type SlotMessage = Extract<GeyserMessage, { kind: 'slot' }>;

/** Byte ranges of account data a subscription asked for (`accounts_data_slice`); empty for all. */
export type DataSlices = readonly { readonly start: number; readonly end: number }[];

export const bytes58 = (value: string): Uint8Array => Uint8Array.from(bs58.decode(value));

/** Each slot holds one entry with its transactions (the local cluster does not produce ticks). */
export const ENTRIES_PER_SLOT = 1;

/** A slice is sent only when the data reaches its end, as the real server does. */
export function sliceData(data: Uint8Array, slices: DataSlices): Uint8Array {
  if (slices.length === 0) return Uint8Array.from(data);
  const parts = slices.filter((s) => data.length >= s.end).map((s) => data.subarray(s.start, s.end));
  return Uint8Array.from(Buffer.concat(parts));
}

export function encodeAccountInfo(update: StoredAccount, slices: DataSlices): SubscribeUpdateAccountInfo {
  const { account } = update;
  return {
    pubkey: bytes58(account.pubkey),
    lamports: account.lamports.toString(),
    owner: bytes58(account.owner),
    executable: false,
    // The same rent epoch the local cluster's RPC reports.
    rentEpoch: '0',
    data: sliceData(account.data, slices),
    writeVersion: String(update.writeVersion),
    ...(update.txnSignature === null ? {} : { txnSignature: bytes58(update.txnSignature) }),
  };
}

const bytesOf = (values: readonly number[]) => Uint8Array.from(values);

export function encodeTransactionInfo(tx: StoredTransaction): SubscribeUpdateTransactionInfo {
  const signature = tx.signatures[0] as string;
  return {
    signature: bytes58(signature),
    isVote: false,
    transaction: {
      signatures: tx.signatures.map(bytes58),
      message: {
        header: { ...tx.header },
        accountKeys: tx.accountKeys.map(bytes58),
        recentBlockhash: bytes58(tx.recentBlockhash),
        instructions: tx.instructions.map((ix) => ({
          programIdIndex: ix.programIdIndex,
          accounts: bytesOf(ix.accounts),
          data: bytes58(ix.data),
        })),
        versioned: false,
        addressTableLookups: [],
      },
    },
    meta: {
      err: tx.err === null ? undefined : { err: encodeTransactionError(tx.err) },
      fee: tx.fee.toString(),
      preBalances: tx.preBalances.map(String),
      postBalances: tx.postBalances.map(String),
      innerInstructions: tx.innerInstructions.map((inner) => ({
        index: inner.index,
        instructions: inner.instructions.map((ix) => ({
          programIdIndex: ix.programIdIndex,
          accounts: bytesOf(ix.accounts),
          data: bytes58(ix.data),
          stackHeight: 2,
        })),
      })),
      innerInstructionsNone: false,
      logMessages: [...tx.logMessages],
      logMessagesNone: false,
      preTokenBalances: [],
      postTokenBalances: [],
      rewards: [],
      loadedWritableAddresses: [],
      loadedReadonlyAddresses: [],
      returnData: undefined,
      returnDataNone: true,
      // The same figure the local cluster's getTransaction reports.
      computeUnitsConsumed: '0',
    },
    index: String(tx.index),
  };
}

export function encodeBlockMeta(slot: LedgerSlot, parentBlockhash: string): SubscribeUpdateBlockMeta {
  return {
    slot: String(slot.slot),
    blockhash: slot.blockhash,
    rewards: { rewards: [], numPartitions: undefined },
    blockTime: { timestamp: String(slot.blockTime) },
    blockHeight: { blockHeight: String(slot.blockHeight) },
    parentSlot: String(slot.parent),
    parentBlockhash,
    executedTransactionCount: String(slot.transactions.length),
    entriesCount: String(ENTRIES_PER_SLOT),
  };
}

export function encodeEntry(slot: LedgerSlot): SubscribeUpdateEntry {
  return {
    slot: String(slot.slot),
    index: '0',
    numHashes: '1',
    // The slot's one entry hashes to the slot's blockhash, as a block's last entry does.
    hash: bytes58(slot.blockhash),
    executedTransactionCount: String(slot.transactions.length),
    startingTransactionIndex: '0',
  };
}

/** The final version of each account a slot wrote, in write order. */
export function latestVersions(updates: readonly StoredAccount[]): StoredAccount[] {
  const latest = new Map<string, StoredAccount>();
  for (const update of updates) {
    const current = latest.get(update.account.pubkey);
    if (current === undefined || current.writeVersion < update.writeVersion) latest.set(update.account.pubkey, update);
  }
  return updates.filter((u) => latest.get(u.account.pubkey) === u);
}
