// One subscriber's SubscribeRequest, checked as the Yellowstone server checks it and compiled to
// matchers that turn a GeyserMessage into the updates that subscriber gets. The rules follow the
// server's filter module: every named filter is tried and an update lists the names that matched;
// an account filter requires all of its parts (account, owner, memcmp/datasize/lamports/token
// state, nonempty_txn_signature); a transaction filter requires vote/failed/signature to match,
// every `account_required` key, one `account_include` key when any is given, and no
// `account_exclude` key; slot statuses other than processed/confirmed/finalized are
// `interslot_updates`; blocks are sent once per matching filter.
import { utils } from '@coral-xyz/anchor';
import type { Commitment } from '../commitment.ts';
import type { StoredAccount, StoredTransaction } from '../ledger.ts';
import {
  CommitmentLevel,
  SlotStatus,
  type SubscribeRequest,
  type SubscribeRequestFilterAccountsFilter,
  type SubscribeUpdate,
} from './codecs.ts';
import {
  encodeAccountInfo,
  encodeBlockMeta,
  encodeEntry,
  encodeTransactionInfo,
  type DataSlices,
  type GeyserMessage,
} from './messages.ts';

const bs58 = utils.bytes.bs58;

/** The server answers a bad request with INVALID_ARGUMENT "failed to create filter: <message>". */
export class FilterError extends Error {
  override readonly name = 'FilterError';
}

const FILTER_NAME_LIMIT = 128;
const MAX_ACCOUNT_STATE_FILTERS = 4;
const MAX_MEMCMP_BYTES = 128;
const MAX_MEMCMP_BASE58 = 175;
const MAX_MEMCMP_BASE64 = 172;
const TOKEN_ACCOUNT_SIZE = 165;
const TOKEN_STATE_OFFSET = 108;
const TOKEN_2022_ACCOUNT_TYPE = 2;

interface AccountFilter {
  readonly name: string;
  readonly accounts: ReadonlySet<string> | null;
  readonly owners: ReadonlySet<string> | null;
  readonly txnSignature: boolean | undefined;
  readonly memcmp: readonly { readonly offset: number; readonly bytes: Uint8Array }[];
  readonly datasize: number | null;
  readonly tokenAccountState: boolean;
  readonly lamports: readonly ((lamports: bigint) => boolean)[];
}

interface TransactionFilter {
  readonly name: string;
  readonly vote: boolean | undefined;
  readonly failed: boolean | undefined;
  readonly signature: string | undefined;
  readonly include: ReadonlySet<string>;
  readonly exclude: ReadonlySet<string>;
  readonly required: readonly string[];
}

interface SlotFilter {
  readonly name: string;
  readonly filterByCommitment: boolean;
  readonly interslotUpdates: boolean;
}

interface BlockFilter {
  readonly name: string;
  readonly include: ReadonlySet<string>;
  readonly includeTransactions: boolean;
  readonly includeAccounts: boolean;
  readonly includeEntries: boolean;
}

export const COMMITMENT_OF_LEVEL: Record<number, Commitment> = {
  [CommitmentLevel.PROCESSED]: 'processed',
  [CommitmentLevel.CONFIRMED]: 'confirmed',
  [CommitmentLevel.FINALIZED]: 'finalized',
};

export const LEVEL_OF_COMMITMENT: Record<Commitment, CommitmentLevel> = {
  processed: CommitmentLevel.PROCESSED,
  confirmed: CommitmentLevel.CONFIRMED,
  finalized: CommitmentLevel.FINALIZED,
};

/** A request's commitment: processed when absent, as the server decodes it. */
export function decodeCommitment(level: number | undefined): Commitment {
  const commitment = COMMITMENT_OF_LEVEL[level ?? CommitmentLevel.PROCESSED];
  if (commitment === undefined) throw new FilterError(`failed to create CommitmentLevel from ${level}`);
  return commitment;
}

function pubkey(value: string): string {
  let decoded: Uint8Array;
  try {
    decoded = bs58.decode(value);
  } catch {
    throw new FilterError('Invalid Base58 string');
  }
  if (value.length > 44 || decoded.length !== 32) throw new FilterError('String is the wrong size');
  return value;
}

function signature(value: string): string {
  let decoded: Uint8Array;
  try {
    decoded = bs58.decode(value);
  } catch {
    throw new FilterError('failed to decode string to signature');
  }
  if (decoded.length !== 64) throw new FilterError('string decoded to wrong size for signature');
  return value;
}

function filterName(name: string): string {
  const size = Buffer.byteLength(name);
  if (size > FILTER_NAME_LIMIT)
    throw new FilterError(`oversized filter name (max allowed size ${FILTER_NAME_LIMIT}), found ${size}`);
  return name;
}

const pubkeySet = (values: readonly string[]): Set<string> => new Set(values.map(pubkey));

function accountState(filters: readonly SubscribeRequestFilterAccountsFilter[]) {
  if (filters.length > MAX_ACCOUNT_STATE_FILTERS)
    throw new FilterError(`Too many filters provided; max ${MAX_ACCOUNT_STATE_FILTERS}`);
  const memcmp: { offset: number; bytes: Uint8Array }[] = [];
  let datasize: number | null = null;
  let tokenAccountState = false;
  const lamports: ((lamports: bigint) => boolean)[] = [];
  for (const filter of filters) {
    if (filter.memcmp !== undefined) {
      const { offset, bytes, base58, base64 } = filter.memcmp;
      let data: Uint8Array;
      if (bytes !== undefined) data = bytes;
      else if (base58 !== undefined) {
        if (base58.length > MAX_MEMCMP_BASE58) throw new FilterError('data too large');
        try {
          data = bs58.decode(base58);
        } catch {
          throw new FilterError('invalid base58');
        }
      } else if (base64 !== undefined) {
        if (base64.length > MAX_MEMCMP_BASE64) throw new FilterError('data too large');
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0) throw new FilterError('invalid base64');
        data = Buffer.from(base64, 'base64');
      } else throw new FilterError('data for memcmp should be defined');
      if (data.length > MAX_MEMCMP_BYTES) throw new FilterError('data too large');
      memcmp.push({ offset: Number(offset), bytes: Uint8Array.from(data) });
    } else if (filter.datasize !== undefined) {
      if (datasize !== null) throw new FilterError('datasize used more than once');
      datasize = Number(filter.datasize);
    } else if (filter.tokenAccountState !== undefined) {
      if (!filter.tokenAccountState) throw new FilterError('token_account_state only allowed to be true');
      tokenAccountState = true;
    } else if (filter.lamports !== undefined) {
      const { eq, ne, lt, gt } = filter.lamports;
      if (eq !== undefined) lamports.push((l) => l === BigInt(eq));
      else if (ne !== undefined) lamports.push((l) => l !== BigInt(ne));
      else if (lt !== undefined) lamports.push((l) => l < BigInt(lt));
      else if (gt !== undefined) lamports.push((l) => l > BigInt(gt));
      else throw new FilterError('cmp for lamports should be defined');
    } else throw new FilterError('filter should be defined');
  }
  return { memcmp, datasize, tokenAccountState, lamports };
}

/** SPL Token's (and Token-2022's) check that data is an initialized token account. */
function isTokenAccount(data: Uint8Array): boolean {
  if (data.length < TOKEN_ACCOUNT_SIZE) return false;
  if (data.length > TOKEN_ACCOUNT_SIZE && data[TOKEN_ACCOUNT_SIZE] !== TOKEN_2022_ACCOUNT_TYPE) return false;
  return data[TOKEN_STATE_OFFSET] !== 0;
}

function rejectCuckoo(present: boolean): void {
  if (present) throw new FilterError('cuckoo filters are not supported by the local cluster');
}

function dataSlices(request: SubscribeRequest): DataSlices {
  const slices = request.accountsDataSlice.map((s) => {
    const start = Number(s.offset);
    return { start, end: start + Number(s.length) };
  });
  slices.forEach((a, i) => {
    if (slices.slice(i + 1).some((b) => a.start > b.start))
      throw new FilterError('failed to create filter: data slices out of order');
    if (slices.slice(0, i).some((b) => a.start < b.end))
      throw new FilterError('failed to create filter: data slices overlapped');
  });
  return slices;
}

/** A subscriber's compiled request. */
export class GeyserFilter {
  readonly commitment: Commitment;
  /** The id of a `ping` in the request: the server answers it with a pong and keeps its filters. */
  readonly ping: number | undefined;
  private readonly slices: DataSlices;
  private readonly accounts: readonly AccountFilter[];
  private readonly transactions: readonly TransactionFilter[];
  private readonly transactionsStatus: readonly TransactionFilter[];
  private readonly slots: readonly SlotFilter[];
  private readonly blocks: readonly BlockFilter[];
  private readonly blocksMeta: readonly string[];
  private readonly entries: readonly string[];

  /** Throws FilterError for what the server refuses. */
  constructor(request: SubscribeRequest) {
    this.accounts = Object.entries(request.accounts).map(([name, f]): AccountFilter => {
      rejectCuckoo(f.cuckooAccountsFilter !== undefined);
      return {
        name: filterName(name),
        accounts: f.account.length > 0 ? pubkeySet(f.account) : null,
        owners: f.owner.length > 0 ? pubkeySet(f.owner) : null,
        txnSignature: f.nonemptyTxnSignature,
        ...accountState(f.filters),
      };
    });
    const transactionFilters = (filters: SubscribeRequest['transactions']) =>
      Object.entries(filters).map(([name, f]): TransactionFilter => {
        rejectCuckoo(f.cuckooAccountInclude !== undefined);
        if (f.tokenAccounts !== undefined && f.tokenAccounts !== 0 && f.tokenAccounts !== 1)
          throw new FilterError(
            `invalid token_accounts mode value ${f.tokenAccounts}; expected ALL (0) or BALANCE_CHANGED (1)`,
          );
        return {
          name: filterName(name),
          vote: f.vote,
          failed: f.failed,
          signature: f.signature === undefined ? undefined : signature(f.signature),
          include: pubkeySet(f.accountInclude),
          exclude: pubkeySet(f.accountExclude),
          required: [...pubkeySet(f.accountRequired)],
        };
      });
    this.transactions = transactionFilters(request.transactions);
    this.transactionsStatus = transactionFilters(request.transactionsStatus);
    this.blocks = Object.entries(request.blocks).map(([name, f]): BlockFilter => {
      rejectCuckoo(f.cuckooAccountInclude !== undefined);
      return {
        name: filterName(name),
        include: pubkeySet(f.accountInclude),
        includeTransactions: f.includeTransactions !== false,
        includeAccounts: f.includeAccounts === true,
        includeEntries: f.includeEntries === true,
      };
    });
    this.blocksMeta = Object.keys(request.blocksMeta).map(filterName);
    this.entries = Object.keys(request.entry).map(filterName);
    this.slots = Object.entries(request.slots).map(([name, f]) => ({
      name: filterName(name),
      filterByCommitment: f.filterByCommitment === true,
      interslotUpdates: f.interslotUpdates === true,
    }));
    this.commitment = decodeCommitment(request.commitment);
    this.slices = dataSlices(request);
    this.ping = request.ping?.id;
  }

  /** The updates `message` gives this subscriber (none, one, or one per block filter). */
  updatesFor(message: GeyserMessage, parentBlockhash: (slot: number) => string): SubscribeUpdate[] {
    const update = (filters: string[], oneof: Partial<SubscribeUpdate>): SubscribeUpdate[] =>
      filters.length === 0 ? [] : [{ filters, ...oneof, createdAt: message.createdAt }];
    switch (message.kind) {
      case 'account': {
        const names = this.accounts.filter((f) => matchesAccount(f, message.update)).map((f) => f.name);
        return update(names, {
          account: {
            account: encodeAccountInfo(message.update, this.slices),
            slot: String(message.slot),
            isStartup: false,
          },
        });
      }
      case 'transaction': {
        const { tx } = message;
        const full = this.transactions.filter((f) => matchesTransaction(f, tx)).map((f) => f.name);
        const status = this.transactionsStatus.filter((f) => matchesTransaction(f, tx)).map((f) => f.name);
        if (full.length === 0 && status.length === 0) return [];
        const info = encodeTransactionInfo(tx);
        return [
          ...update(full, { transaction: { transaction: info, slot: String(message.slot) } }),
          ...update(status, {
            transactionStatus: {
              slot: String(message.slot),
              signature: info.signature,
              isVote: false,
              index: info.index,
              err: info.meta?.err,
            },
          }),
        ];
      }
      case 'slot': {
        const lifecycle = ![SlotStatus.SLOT_PROCESSED, SlotStatus.SLOT_CONFIRMED, SlotStatus.SLOT_FINALIZED].includes(
          message.status,
        );
        const own = LEVEL_OF_COMMITMENT[this.commitment] as number;
        const names = this.slots
          .filter((f) => !f.filterByCommitment || (message.status as number) === own)
          .filter((f) => f.interslotUpdates || !lifecycle)
          .map((f) => f.name);
        return update(names, {
          slot: {
            slot: String(message.slot),
            ...(message.parent === undefined ? {} : { parent: String(message.parent) }),
            status: message.status,
            ...(message.deadError === undefined ? {} : { deadError: message.deadError }),
          },
        });
      }
      case 'blockMeta':
        return update([...this.blocksMeta], {
          blockMeta: encodeBlockMeta(message.slot, parentBlockhash(message.slot.parent)),
        });
      case 'entry':
        return update([...this.entries], { entry: encodeEntry(message.slot) });
      case 'block': {
        const { slot } = message;
        const meta = encodeBlockMeta(slot, parentBlockhash(slot.parent));
        return this.blocks.map((f) => ({
          filters: [f.name],
          block: {
            slot: meta.slot,
            blockhash: meta.blockhash,
            rewards: meta.rewards,
            blockTime: meta.blockTime,
            blockHeight: meta.blockHeight,
            parentSlot: meta.parentSlot,
            parentBlockhash: meta.parentBlockhash,
            executedTransactionCount: meta.executedTransactionCount,
            transactions: f.includeTransactions
              ? slot.transactions
                  .filter((tx) => f.include.size === 0 || tx.accountKeys.some((k) => f.include.has(k)))
                  .map(encodeTransactionInfo)
              : [],
            updatedAccountCount: String(message.accounts.length),
            accounts: f.includeAccounts
              ? message.accounts
                  .filter((a) => f.include.size === 0 || f.include.has(a.account.pubkey))
                  .map((a) => encodeAccountInfo(a, this.slices))
              : [],
            entriesCount: meta.entriesCount,
            entries: f.includeEntries ? [encodeEntry(slot)] : [],
          },
          createdAt: message.createdAt,
        }));
      }
    }
  }
}

function matchesAccount(f: AccountFilter, update: StoredAccount): boolean {
  const { account } = update;
  if (f.txnSignature !== undefined && f.txnSignature !== (update.txnSignature !== null)) return false;
  if (f.accounts !== null && !f.accounts.has(account.pubkey)) return false;
  if (f.owners !== null && !f.owners.has(account.owner)) return false;
  const { data } = account;
  if (f.datasize !== null && data.length !== f.datasize) return false;
  if (f.tokenAccountState && !isTokenAccount(data)) return false;
  if (!f.lamports.every((test) => test(account.lamports))) return false;
  return f.memcmp.every(
    ({ offset, bytes }) => offset + bytes.length <= data.length && bytes.every((b, i) => data[offset + i] === b),
  );
}

function matchesTransaction(f: TransactionFilter, tx: StoredTransaction): boolean {
  if (f.vote !== undefined && f.vote !== false) return false; // the local cluster has no vote transactions
  if (f.failed !== undefined && f.failed !== (tx.err !== null)) return false;
  if (f.signature !== undefined && f.signature !== tx.signatures[0]) return false;
  const keys = new Set(tx.accountKeys);
  if (!f.required.every((k) => keys.has(k))) return false;
  if (f.include.size > 0 && ![...f.include].some((k) => keys.has(k))) return false;
  return ![...f.exclude].some((k) => keys.has(k));
}
