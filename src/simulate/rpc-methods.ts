// The JSON-RPC methods of the local cluster, in the shapes a Solana validator returns them (the
// subset solstream and its tests use). Pure functions of the ledger; transport is rpc-server.ts.
import { utils } from '@coral-xyz/anchor';
import { parseCommitment, type Commitment, type SlotStatus } from './commitment.ts';
import { MAX_PROCESSING_AGE, type LocalLedger, type StoredAccount, type StoredTransaction } from './ledger.ts';

const bs58 = utils.bytes.bs58;

/** The validator version the local cluster claims to be (web3.js only reads it). */
export const CLUSTER_VERSION = {
  'solana-core': '1.18.26',
  'feature-set': 3241752014,
};
const API_VERSION = '1.18.26';
const MAX_SIGNATURES_LIMIT = 1000;
const MAX_MULTIPLE_ACCOUNTS = 100;

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    /** The error's `data` member, when the validator sends one. */
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

const invalidParams = (message: string) => new RpcError(-32602, `Invalid params: ${message}`);

type Params = readonly unknown[];
type Method = (ledger: LocalLedger, params: Params) => unknown;

function config(params: Params, index: number): Record<string, unknown> {
  const value = params[index];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidParams(`parameter ${index} must be an object`);
  return value as Record<string, unknown>;
}

function pubkeyParam(params: Params, index: number): string {
  const value = params[index];
  if (typeof value !== 'string' || !isBase58Of(value, 32)) throw invalidParams('Invalid param: WrongSize');
  return value;
}

function isBase58Of(value: string, length: number): boolean {
  try {
    return bs58.decode(value).length === length;
  } catch {
    return false;
  }
}

/** The commitment a request asks for (`config.commitment`); validators default to `finalized`. */
function commitmentOf(cfg: Record<string, unknown>): Commitment {
  if (cfg.commitment === undefined || cfg.commitment === null) return 'finalized';
  const commitment = parseCommitment(cfg.commitment);
  if (commitment === null) throw invalidParams(`unknown commitment ${JSON.stringify(cfg.commitment)}`);
  return commitment;
}

/** Methods that read the ledger's history refuse `processed`, as a validator does. */
function atLeastConfirmed(cfg: Record<string, unknown>): Commitment {
  const commitment = commitmentOf(cfg);
  if (commitment === 'processed') throw invalidParams('Method does not support commitment below `confirmed`');
  return commitment;
}

/** The slot a read at `commitment` sees, checked against the request's `minContextSlot`. */
function contextSlot(ledger: LocalLedger, cfg: Record<string, unknown>, commitment: Commitment): number {
  const slot = ledger.slot(commitment);
  const min = cfg.minContextSlot;
  if (typeof min === 'number' && slot < min) {
    throw new RpcError(-32016, 'Minimum context slot has not been reached', { contextSlot: slot });
  }
  return slot;
}

const context = (slot: number) => ({ slot, apiVersion: API_VERSION });

/** An account in the `base64` encoding. */
export function encodeAccount(stored: Pick<StoredAccount, 'account'>) {
  const { account } = stored;
  return {
    data: [Buffer.from(account.data).toString('base64'), 'base64'],
    executable: false,
    lamports: Number(account.lamports),
    owner: account.owner,
    rentEpoch: 0,
    space: account.data.length,
  };
}

function checkEncoding(cfg: Record<string, unknown>): void {
  const encoding = cfg.encoding ?? 'base64';
  if (encoding !== 'base64')
    throw invalidParams(`the local cluster serves account data as base64 only, not ${String(encoding)}`);
}

type Filter = { memcmp: { offset: number; bytes: string; encoding?: string } } | { dataSize: number };

/** Checks getProgramAccounts / programSubscribe filters; returns a predicate over account data. */
export function compileFilters(raw: unknown): (data: Uint8Array) => boolean {
  if (raw === undefined || raw === null) return () => true;
  if (!Array.isArray(raw)) throw invalidParams('filters must be an array');
  const tests = (raw as unknown[]).map((filter): ((data: Uint8Array) => boolean) => {
    const f = filter as Filter;
    if (typeof f === 'object' && f !== null && 'dataSize' in f && typeof f.dataSize === 'number') {
      const size = f.dataSize;
      return (data) => data.length === size;
    }
    if (typeof f === 'object' && f !== null && 'memcmp' in f && typeof f.memcmp === 'object') {
      const { offset, bytes, encoding = 'base58' } = f.memcmp;
      if (typeof offset !== 'number' || typeof bytes !== 'string') throw invalidParams('memcmp needs offset and bytes');
      let expected: Uint8Array;
      try {
        expected = encoding === 'base64' ? Buffer.from(bytes, 'base64') : bs58.decode(bytes);
      } catch {
        throw invalidParams(`memcmp bytes are not valid ${encoding}`);
      }
      return (data) =>
        offset + expected.length <= data.length && expected.every((byte, i) => data[offset + i] === byte);
    }
    throw invalidParams(`unsupported filter ${JSON.stringify(filter)}`);
  });
  return (data) => tests.every((test) => test(data));
}

/** getTransaction's result in the `json` encoding. */
export function encodeTransaction(tx: StoredTransaction, versioned: boolean) {
  return {
    slot: tx.slot,
    blockTime: tx.blockTime,
    ...(versioned ? { version: 'legacy' } : {}),
    meta: {
      err: tx.err,
      status: tx.err === null ? { Ok: null } : { Err: tx.err },
      fee: Number(tx.fee),
      preBalances: tx.preBalances.map(Number),
      postBalances: tx.postBalances.map(Number),
      innerInstructions: tx.innerInstructions.map((inner) => ({
        index: inner.index,
        instructions: inner.instructions.map((ix) => ({
          ...ix,
          stackHeight: 2,
        })),
      })),
      logMessages: tx.logMessages,
      preTokenBalances: [],
      postTokenBalances: [],
      rewards: [],
      loadedAddresses: { writable: [], readonly: [] },
      computeUnitsConsumed: 0,
    },
    transaction: {
      signatures: tx.signatures,
      message: {
        accountKeys: tx.accountKeys,
        header: tx.header,
        instructions: tx.instructions.map((ix) => ({
          ...ix,
          stackHeight: null,
        })),
        recentBlockhash: tx.recentBlockhash,
      },
    },
  };
}

/** How settled a transaction's slot is, as getSignatureStatuses and getSignaturesForAddress say. */
function confirmationStatus(status: SlotStatus): Commitment {
  return status === 'dead' ? 'processed' : status;
}

const METHODS: Record<string, Method> = {
  getHealth: () => 'ok',
  getVersion: () => CLUSTER_VERSION,
  getGenesisHash: (ledger) => ledger.blockhash(0),
  getSlot: (ledger, params) => {
    const cfg = config(params, 0);
    return contextSlot(ledger, cfg, commitmentOf(cfg));
  },
  getBlockHeight: (ledger, params) => {
    const cfg = config(params, 0);
    const commitment = commitmentOf(cfg);
    contextSlot(ledger, cfg, commitment);
    return ledger.tip(commitment).blockHeight;
  },
  getEpochInfo: (ledger, params) => {
    const cfg = config(params, 0);
    const commitment = commitmentOf(cfg);
    const slot = contextSlot(ledger, cfg, commitment);
    return {
      absoluteSlot: slot,
      blockHeight: ledger.tip(commitment).blockHeight,
      epoch: Math.floor(slot / 432_000),
      slotIndex: slot % 432_000,
      slotsInEpoch: 432_000,
      transactionCount: ledger.transactionCount(),
    };
  },
  getLatestBlockhash: (ledger, params) => {
    const cfg = config(params, 0);
    const commitment = commitmentOf(cfg);
    const slot = contextSlot(ledger, cfg, commitment);
    const tip = ledger.tip(commitment);
    return {
      context: context(slot),
      value: { blockhash: tip.blockhash, lastValidBlockHeight: tip.blockHeight + MAX_PROCESSING_AGE },
    };
  },
  isBlockhashValid: (ledger, params) => {
    const blockhash = params[0];
    if (typeof blockhash !== 'string' || !isBase58Of(blockhash, 32)) throw invalidParams('Invalid param: WrongSize');
    const cfg = config(params, 1);
    const commitment = commitmentOf(cfg);
    const slot = contextSlot(ledger, cfg, commitment);
    return { context: context(slot), value: ledger.isBlockhashValid(blockhash, commitment) };
  },
  getMinimumBalanceForRentExemption: (_ledger, params) => {
    const size = params[0];
    if (typeof size !== 'number' || size < 0) throw invalidParams('data length must be a number');
    return (size + 128) * 6960;
  },
  getBalance: (ledger, params) => {
    const pubkey = pubkeyParam(params, 0);
    const cfg = config(params, 1);
    const commitment = commitmentOf(cfg);
    const slot = contextSlot(ledger, cfg, commitment);
    return {
      context: context(slot),
      value: Number(ledger.getStoredAccount(pubkey, commitment)?.account.lamports ?? 0n),
    };
  },
  getAccountInfo: (ledger, params) => {
    const pubkey = pubkeyParam(params, 0);
    const cfg = config(params, 1);
    checkEncoding(cfg);
    const commitment = commitmentOf(cfg);
    const slot = contextSlot(ledger, cfg, commitment);
    const stored = ledger.getStoredAccount(pubkey, commitment);
    return {
      context: context(slot),
      value: stored === null ? null : encodeAccount(stored),
    };
  },
  getMultipleAccounts: (ledger, params) => {
    const keys = params[0];
    if (!Array.isArray(keys) || keys.length > MAX_MULTIPLE_ACCOUNTS) {
      throw invalidParams(`expected an array of at most ${MAX_MULTIPLE_ACCOUNTS} pubkeys`);
    }
    const cfg = config(params, 1);
    checkEncoding(cfg);
    const commitment = commitmentOf(cfg);
    const slot = contextSlot(ledger, cfg, commitment);
    const value = keys.map((_, i) => {
      const stored = ledger.getStoredAccount(pubkeyParam(keys, i), commitment);
      return stored === null ? null : encodeAccount(stored);
    });
    return { context: context(slot), value };
  },
  getProgramAccounts: (ledger, params) => {
    const program = pubkeyParam(params, 0);
    const cfg = config(params, 1);
    checkEncoding(cfg);
    const matches = compileFilters(cfg.filters);
    const commitment = commitmentOf(cfg);
    const slot = contextSlot(ledger, cfg, commitment);
    const value = ledger
      .accountsOwnedBy(program, commitment)
      .filter(([, stored]) => matches(stored.account.data))
      .map(([pubkey, stored]) => ({ pubkey, account: encodeAccount(stored) }));
    return cfg.withContext === true ? { context: context(slot), value } : value;
  },
  getSignaturesForAddress: (ledger, params) => {
    const address = pubkeyParam(params, 0);
    const cfg = config(params, 1);
    const limit = cfg.limit ?? MAX_SIGNATURES_LIMIT;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_SIGNATURES_LIMIT) {
      throw invalidParams('Invalid limit; max 1000');
    }
    for (const name of ['before', 'until'] as const) {
      const v = cfg[name];
      if (v !== undefined && (typeof v !== 'string' || !isBase58Of(v, 64))) throw invalidParams(`Invalid ${name}`);
    }
    const commitment = atLeastConfirmed(cfg);
    contextSlot(ledger, cfg, commitment);
    return ledger
      .signaturesForAddress(address, {
        limit,
        commitment,
        ...(typeof cfg.before === 'string' ? { before: cfg.before } : {}),
        ...(typeof cfg.until === 'string' ? { until: cfg.until } : {}),
      })
      .map((tx) => ({
        signature: tx.signatures[0],
        slot: tx.slot,
        err: tx.err,
        memo: null,
        blockTime: tx.blockTime,
        confirmationStatus: confirmationStatus(ledger.transactionStatus(tx.signatures[0] as string)?.status ?? 'dead'),
      }));
  },
  getTransaction: (ledger, params) => {
    const signature = params[0];
    if (typeof signature !== 'string' || !isBase58Of(signature, 64)) throw invalidParams('Invalid param: WrongSize');
    const cfg = config(params, 1);
    const encoding = cfg.encoding ?? 'json';
    if (encoding !== 'json')
      throw invalidParams(`the local cluster serves transactions as json only, not ${String(encoding)}`);
    const tx = ledger.getTransaction(signature, atLeastConfirmed(cfg));
    return tx === null ? null : encodeTransaction(tx, cfg.maxSupportedTransactionVersion !== undefined);
  },
  getSignatureStatuses: (ledger, params) => {
    const signatures = params[0];
    if (!Array.isArray(signatures)) throw invalidParams('expected an array of signatures');
    const processed = ledger.tip('processed');
    return {
      context: context(processed.slot),
      value: signatures.map((signature) => {
        const found = typeof signature === 'string' ? ledger.transactionStatus(signature) : null;
        // A dead slot's transaction is in no bank the node still follows.
        if (found === null || found.status === 'dead') return null;
        const { tx, status } = found;
        return {
          slot: tx.slot,
          // Rooted transactions have no count; others count the slots built on them.
          confirmations: status === 'finalized' ? null : Math.max(0, processed.blockHeight - blockHeightOf(ledger, tx)),
          err: tx.err,
          status: tx.err === null ? { Ok: null } : { Err: tx.err },
          confirmationStatus: status,
        };
      }),
    };
  },
  getBlocks: (ledger, params) => {
    // The blocks in [start, end] at confirmed or finalized (processed is refused, as by a real node):
    // slots of the surviving chain only, dead and skipped ones left out.
    const [start, endOrConfig] = params;
    if (typeof start !== 'number' || !Number.isSafeInteger(start) || start < 0)
      throw invalidParams('start slot must be a u64');
    const end = typeof endOrConfig === 'number' ? endOrConfig : undefined;
    const commitment = atLeastConfirmed(config(params, typeof endOrConfig === 'number' ? 2 : 1));
    const top = Math.min(end ?? Number.MAX_SAFE_INTEGER, ledger.slot(commitment));
    if (top - start > 500_000) throw new RpcError(-32602, 'Slot range too large; max 500000');
    const out: number[] = [];
    for (let slot = start; slot <= top; slot++) {
      const info = ledger.slotInfo(slot);
      if (info !== null && (info.status === 'confirmed' || info.status === 'finalized')) out.push(slot);
    }
    return out;
  },
  getBlockTime: (ledger, params) => {
    const slot = params[0];
    if (typeof slot !== 'number') throw invalidParams('slot must be a number');
    const info = ledger.slotInfo(slot);
    // Only confirmed blocks have a time to give; processed and dead slots are not yet (or never) blocks.
    if (info === null || (info.status !== 'confirmed' && info.status !== 'finalized')) {
      throw new RpcError(-32004, `Block not available for slot ${slot}`);
    }
    return info.blockTime;
  },
};

function blockHeightOf(ledger: LocalLedger, tx: StoredTransaction): number {
  return ledger.slotInfo(tx.slot)?.blockHeight ?? 0;
}

/** Runs one JSON-RPC method; throws RpcError for unknown methods and bad parameters. */
export function callMethod(ledger: LocalLedger, method: string, params: unknown): unknown {
  const handler = Object.prototype.hasOwnProperty.call(METHODS, method) ? METHODS[method] : undefined;
  if (handler === undefined) throw new RpcError(-32601, 'Method not found');
  if (params !== undefined && !Array.isArray(params)) throw invalidParams('params must be an array');
  return handler(ledger, (params ?? []) as Params);
}
