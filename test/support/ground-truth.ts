// Ground truth for ingestion tests: what the database should hold, computed from the cluster
// itself over JSON-RPC: every signature of each program (getSignaturesForAddress, all pages), every
// transaction, every account the programs own now and their vaults. It decodes with layouts of its
// own and the published interface files in ../shared/reference (through Anchor's Borsh coder) and
// @solana/spl-governance's parsers; it uses nothing of solstream's src/programs, so a mistake in
// solstream's decoding cannot hide in the comparison.
import { createHash } from 'node:crypto';
import { BorshCoder, utils, type Idl } from '@coral-xyz/anchor';
import {
  GovernanceAccountParser,
  GovernanceInstruction,
  Governance,
  Proposal,
  ProposalState,
  VoteKind,
  VoteRecord,
  getAccountTypes,
} from '@solana/spl-governance';
import { Connection, PublicKey, type VersionedTransactionResponse } from '@solana/web3.js';
import { QueryTypes } from 'sequelize';
import type { Database } from '../../src/db/connection.ts';
import { referenceJson } from './reference.ts';

const bs58 = utils.bytes.bs58;

export const PROGRAM_IDS = {
  escrow: 'qbuMdeYxYJXBjU6C6qFKjZKjXmrU83eDQomHdrch826',
  cpSwap: 'CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C',
  tensor: 'TCMPhJdwDryooaGtiocG1u3xcYbRpiJzb283XfCZsDp',
  governance: 'GovER5Lthms3bLBqWub97yVrMmEogzX7xNjdXpPPCVZw',
} as const;

type Row = Record<string, string | number | boolean | null>;

/** Expected rows per table, by a key naming the row, with only the columns that are compared. */
export type Truth = Record<string, Map<string, Row>>;

const TOKEN_PROGRAMS = new Set([
  'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA',
  'TokenzQdBNbLqP5VEhdkAS6EPFLC1PQnBxvR7DZj1L1',
]);

const disc = (preimage: string) => createHash('sha256').update(preimage).digest().subarray(0, 8);
const ESCROW = {
  offer: disc('account:Offer'),
  make: disc('global:make_offer'),
  take: disc('global:take_offer'),
  refund: disc('global:refund_offer'),
};
const TENSOR = { listState: disc('account:ListState'), noop: disc('global:tcomp_noop') };

/** A little-endian reader over Borsh bytes. */
class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  skip(n: number): this {
    this.at += n;
    return this;
  }
  u8(): number {
    return this.buf.readUInt8(this.at++);
  }
  u32(): number {
    const v = this.buf.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  u64(): bigint {
    const v = this.buf.readBigUInt64LE(this.at);
    this.at += 8;
    return v;
  }
  key(): string {
    const v = bs58.encode(this.buf.subarray(this.at, this.at + 32));
    this.at += 32;
    return v;
  }
  optionKey(): string | null {
    return this.u8() === 1 ? this.key() : null;
  }
  optionU8(): number | null {
    return this.u8() === 1 ? this.u8() : null;
  }
}

interface Tx {
  readonly signature: string;
  readonly slot: number;
  readonly ok: boolean;
  readonly keys: readonly string[];
  readonly logs: readonly string[];
  /** Every instruction, top-level then its inner ones, with resolved accounts. */
  readonly instructions: readonly { programId: string; accounts: string[]; data: Buffer }[];
}

function toTx(signature: string, r: VersionedTransactionResponse): Tx {
  const message = r.transaction.message;
  const keys = [
    ...message.staticAccountKeys.map((k) => k.toBase58()),
    ...(r.meta?.loadedAddresses?.writable ?? []).map((k) => k.toBase58()),
    ...(r.meta?.loadedAddresses?.readonly ?? []).map((k) => k.toBase58()),
  ];
  const instructions: Tx['instructions'][number][] = [];
  message.compiledInstructions.forEach((ix, index) => {
    instructions.push({
      programId: keys[ix.programIdIndex] as string,
      accounts: ix.accountKeyIndexes.map((i) => keys[i] as string),
      data: Buffer.from(ix.data),
    });
    for (const inner of r.meta?.innerInstructions?.filter((g) => g.index === index) ?? []) {
      for (const ii of inner.instructions)
        instructions.push({
          programId: keys[ii.programIdIndex] as string,
          accounts: ii.accounts.map((i) => keys[i] as string),
          data: Buffer.from(bs58.decode(ii.data)),
        });
    }
  });
  return { signature, slot: r.slot, ok: r.meta?.err === null, keys, logs: r.meta?.logMessages ?? [], instructions };
}

function put(truth: Truth, table: string, key: string, row: Row): void {
  let rows = truth[table];
  if (rows === undefined) truth[table] = rows = new Map();
  rows.set(key, { ...rows.get(key), ...row });
}

/** What the cluster at `rpcUrl` holds for the four programs, as the rows solstream should store. */
export async function chainTruth(rpcUrl: string, wsUrl?: string): Promise<Truth> {
  const connection = new Connection(rpcUrl, { commitment: 'confirmed', ...(wsUrl ? { wsEndpoint: wsUrl } : {}) });
  const truth: Truth = {};
  const raydiumIdl = referenceJson<Idl>('interfaces/raydium_cp_swap.json');
  const raydium = new BorshCoder(raydiumIdl);
  const txs = new Map<string, Tx[]>();
  for (const programId of Object.values(PROGRAM_IDS)) {
    const signatures: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await connection.getSignaturesForAddress(new PublicKey(programId), {
        limit: 1000,
        ...(before ? { before } : {}),
      });
      signatures.push(...page.map((p) => p.signature));
      if (page.length < 1000) break;
      before = page.at(-1)?.signature;
    }
    const list: Tx[] = [];
    for (let i = 0; i < signatures.length; i += 50) {
      const chunk = signatures.slice(i, i + 50).reverse();
      const got = await Promise.all(
        chunk.map((s) => connection.getTransaction(s, { maxSupportedTransactionVersion: 0, commitment: 'confirmed' })),
      );
      got.forEach((r, j) => {
        if (r === null) throw new Error(`the cluster lists ${chunk[j]} but does not return it`);
        list.push(toTx(chunk[j] as string, r));
      });
    }
    list.sort((a, b) => a.slot - b.slot);
    txs.set(programId, list);
    for (const tx of list)
      put(truth, 'transactions', tx.signature, { slot: tx.slot, status: tx.ok ? 'success' : 'failed' });
  }
  const accountsOf = async (programId: string) =>
    (await connection.getProgramAccounts(new PublicKey(programId), { commitment: 'confirmed' })).map((a) => ({
      pubkey: a.pubkey.toBase58(),
      data: a.account.data,
    }));
  const tokenAmounts = async (pubkeys: readonly string[]): Promise<(bigint | null)[]> => {
    const out: (bigint | null)[] = [];
    for (let i = 0; i < pubkeys.length; i += 100) {
      const infos = await connection.getMultipleAccountsInfo(pubkeys.slice(i, i + 100).map((k) => new PublicKey(k)));
      for (const info of infos)
        out.push(info !== null && TOKEN_PROGRAMS.has(info.owner.toBase58()) ? info.data.readBigUInt64LE(64) : null);
    }
    return out;
  };

  // --- escrow ----------------------------------------------------------------------------------
  for (const tx of txs.get(PROGRAM_IDS.escrow) ?? []) {
    if (!tx.ok) continue;
    for (const ix of tx.instructions) {
      if (ix.programId !== PROGRAM_IDS.escrow) continue;
      const head = ix.data.subarray(0, 8);
      if (head.equals(ESCROW.make)) {
        const r = new Reader(ix.data).skip(8);
        const [id, amountA, amountB] = [r.u64(), r.u64(), r.u64()];
        const [maker, mintA, mintB, , offer, vault] = ix.accounts as string[];
        put(truth, 'escrows', offer as string, {
          escrow_id: id.toString(),
          maker: maker as string,
          mint_a: mintA as string,
          mint_b: mintB as string,
          amount_a: amountA.toString(),
          amount_b: amountB.toString(),
          vault: vault as string,
          state: 'funded',
          created_slot: tx.slot,
        });
        put(truth, 'escrow_events', `${tx.signature}|${offer}|make_offer`, { slot: tx.slot });
      } else if (head.equals(ESCROW.take)) {
        const offer = ix.accounts[7] as string;
        put(truth, 'escrows', offer, { state: 'completed', completed_slot: tx.slot, taker: ix.accounts[0] as string });
        put(truth, 'escrow_events', `${tx.signature}|${offer}|take_offer`, { slot: tx.slot });
      } else if (head.equals(ESCROW.refund)) {
        const offer = ix.accounts[3] as string;
        put(truth, 'escrows', offer, { state: 'cancelled', completed_slot: tx.slot });
        put(truth, 'escrow_events', `${tx.signature}|${offer}|refund`, { slot: tx.slot });
      }
    }
  }
  // An Offer is 8 + 8 + 3·32 + 8 + 1 bytes; anything shorter is not one, whatever it starts with.
  const offers = (await accountsOf(PROGRAM_IDS.escrow)).filter(
    (a) => a.data.length >= 121 && a.data.subarray(0, 8).equals(ESCROW.offer),
  );
  const offerVaults = offers.map(({ pubkey, data }) => {
    const mintA = new Reader(data).skip(8 + 8 + 32).key();
    return PublicKey.findProgramAddressSync(
      [
        new PublicKey(pubkey).toBuffer(),
        new PublicKey([...TOKEN_PROGRAMS][0] as string).toBuffer(),
        new PublicKey(mintA).toBuffer(),
      ],
      new PublicKey('ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL'),
    )[0].toBase58();
  });
  const vaultAmounts = await tokenAmounts(offerVaults);
  offers.forEach(({ pubkey, data }, i) => {
    const r = new Reader(data).skip(8);
    const id = r.u64();
    const [maker, mintA, mintB] = [r.key(), r.key(), r.key()];
    put(truth, 'escrows', pubkey, {
      escrow_id: id.toString(),
      maker,
      mint_a: mintA,
      mint_b: mintB,
      amount_b: r.u64().toString(),
      amount_a: vaultAmounts[i]?.toString() ?? null,
      vault: offerVaults[i] as string,
      state: 'funded',
    });
  });

  // --- Raydium CP-Swap -------------------------------------------------------------------------
  const configs = new Map<string, { trade: bigint; protocol: bigint; fund: bigint }>();
  const cpAccounts = await accountsOf(PROGRAM_IDS.cpSwap);
  const accountName = (data: Buffer) =>
    (raydiumIdl.accounts ?? []).find((a) => Buffer.from(a.discriminator).equals(data.subarray(0, 8)))?.name;
  for (const { pubkey, data } of cpAccounts) {
    if (accountName(data) !== 'AmmConfig') continue;
    const c = raydium.accounts.decode('AmmConfig', data) as Record<string, { toString(): string }>;
    configs.set(pubkey, {
      trade: BigInt(String(c['trade_fee_rate'])),
      protocol: BigInt(String(c['protocol_fee_rate'])),
      fund: BigInt(String(c['fund_fee_rate'])),
    });
  }
  const pools = cpAccounts.filter((a) => accountName(a.data) === 'PoolState');
  const poolStates = pools.map(({ pubkey, data }) => ({
    pubkey,
    p: raydium.accounts.decode('PoolState', data) as Record<string, { toString(): string; toBase58?(): string }>,
  }));
  const poolVaults = await tokenAmounts(
    poolStates.flatMap(({ p }) => [String(p['token_0_vault']?.toBase58?.()), String(p['token_1_vault']?.toBase58?.())]),
  );
  const key = (v: { toBase58?(): string } | undefined) => String(v?.toBase58?.());
  const big = (v: { toString(): string } | undefined) => BigInt(String(v));
  const poolConfig = new Map<string, string>();
  const poolMint0 = new Map<string, string>();
  poolStates.forEach(({ pubkey, p }, i) => {
    const config = configs.get(key(p['amm_config']));
    poolConfig.set(pubkey, key(p['amm_config']));
    poolMint0.set(pubkey, key(p['token_0_mint']));
    const v0 = poolVaults[2 * i];
    const v1 = poolVaults[2 * i + 1];
    put(truth, 'pools', pubkey, {
      token_a_mint: key(p['token_0_mint']),
      token_b_mint: key(p['token_1_mint']),
      token_a_vault: key(p['token_0_vault']),
      token_b_vault: key(p['token_1_vault']),
      lp_mint: key(p['lp_mint']),
      fee_rate: config === undefined ? null : Number(config.trade),
      lp_supply: big(p['lp_supply']).toString(),
      token_a_reserve:
        v0 == null ? null : (v0 - big(p['protocol_fees_token_0']) - big(p['fund_fees_token_0'])).toString(),
      token_b_reserve:
        v1 == null ? null : (v1 - big(p['protocol_fees_token_1']) - big(p['fund_fees_token_1'])).toString(),
    });
  });
  for (const tx of txs.get(PROGRAM_IDS.cpSwap) ?? []) {
    if (!tx.ok) continue;
    for (const line of tx.logs) {
      if (!line.startsWith('Program data: ')) continue;
      const event = raydium.events.decode(line.slice('Program data: '.length));
      if (event === null) continue;
      const e = event.data as Record<string, { toString(): string; toBase58?(): string }>;
      const pool = key(e['pool_id']);
      const ix = tx.instructions.find((i) => i.programId === PROGRAM_IDS.cpSwap && i.accounts[3] === pool);
      if (event.name === 'SwapEvent') {
        const config = configs.get(poolConfig.get(pool) ?? '');
        const input = big(e['input_amount']);
        put(truth, 'swaps', `${tx.signature}|${pool}`, {
          user_address: ix?.accounts[0] ?? null,
          input_mint: ix?.accounts[10] ?? null,
          output_mint: ix?.accounts[11] ?? null,
          input_amount: input.toString(),
          output_amount: big(e['output_amount']).toString(),
          fee_amount: config === undefined ? null : ((input * config.trade + 999_999n) / 1_000_000n).toString(),
          slot: tx.slot,
        });
      } else if (event.name === 'LpChangeEvent') {
        const add = Number(String(e['change_type'])) === 0;
        put(truth, 'liquidity_events', `${tx.signature}|${pool}|${add ? 'add' : 'remove'}`, {
          user_address: ix?.accounts[0] ?? null,
          token_a_amount: big(e['token_0_amount']).toString(),
          token_b_amount: big(e['token_1_amount']).toString(),
          lp_amount: ix === undefined ? null : ix.data.readBigUInt64LE(8).toString(),
        });
      }
    }
  }
  void poolMint0;

  // --- Tensor marketplace ----------------------------------------------------------------------
  for (const tx of txs.get(PROGRAM_IDS.tensor) ?? []) {
    if (!tx.ok) continue;
    for (const ix of tx.instructions) {
      if (ix.programId !== PROGRAM_IDS.tensor || !ix.data.subarray(0, 8).equals(TENSOR.noop)) continue;
      const listState = ix.accounts[0] as string;
      const r = new Reader(ix.data).skip(8);
      const variant = r.u8();
      const party = r.key();
      const bid = r.optionKey();
      const target = r.u8();
      const targetId = r.key();
      r.optionU8();
      r.optionKey();
      const amount = r.u64();
      r.u32();
      if (bid !== null) continue;
      if (variant === 0) {
        r.optionKey();
        r.skip(8);
        r.optionKey();
        const asset = r.optionKey() ?? (target === 0 ? targetId : null);
        put(truth, 'listings', listState, { seller: party, mint: asset, price: amount.toString(), state: 'active' });
      } else {
        const [tcompFee, takerBroker, makerBroker, creatorFee] = [r.u64(), r.u64(), r.u64(), r.u64()];
        put(truth, 'sales', `${tx.signature}|${listState}`, {
          buyer: party,
          price: amount.toString(),
          royalty_amount: creatorFee.toString(),
          marketplace_fee: (tcompFee + takerBroker + makerBroker).toString(),
        });
        put(truth, 'listings', listState, { state: 'sold', sold_slot: tx.slot });
      }
    }
    // A delisting closes the list state without an event: the listing is cancelled.
    const closed = tx.instructions.filter(
      (ix) => ix.programId === PROGRAM_IDS.tensor && !ix.data.subarray(0, 8).equals(TENSOR.noop),
    );
    for (const ix of closed) {
      const name = TENSOR_INSTRUCTION_NAMES.get(ix.data.subarray(0, 8).toString('hex'));
      if (name === undefined || !/^(delist|closeExpiredListing)/.test(name)) continue;
      const listState = ix.accounts[TENSOR_LIST_STATE_INDEX[name] ?? -1];
      if (listState !== undefined) put(truth, 'listings', listState, { state: 'cancelled' });
    }
  }
  for (const { pubkey, data } of await accountsOf(PROGRAM_IDS.tensor)) {
    if (!data.subarray(0, 8).equals(TENSOR.listState)) continue;
    const r = new Reader(data).skip(8 + 2);
    put(truth, 'listings', pubkey, { seller: r.key(), mint: r.key(), price: r.u64().toString(), state: 'active' });
  }

  // --- SPL Governance --------------------------------------------------------------------------
  const castVotes = new Map<string, Tx>();
  for (const tx of txs.get(PROGRAM_IDS.governance) ?? []) {
    for (const ix of tx.instructions) {
      if (ix.programId !== PROGRAM_IDS.governance) continue;
      if (ix.data[0] === GovernanceInstruction.CastVote && tx.ok) castVotes.set(ix.accounts[6] as string, tx);
      if (ix.data[0] === GovernanceInstruction.ExecuteTransaction)
        put(truth, 'executions', `${tx.signature}|${ix.accounts[1]}`, { success: tx.ok });
    }
  }
  const parse = <T>(cls: unknown, pubkey: string, data: Buffer) =>
    GovernanceAccountParser(cls as Parameters<typeof GovernanceAccountParser>[0])(new PublicKey(pubkey), {
      data,
      owner: PublicKey.default,
      lamports: 0,
      executable: false,
    }).account as T;
  const types = {
    governance: new Set(getAccountTypes(Governance)),
    proposal: new Set(getAccountTypes(Proposal)),
    vote: new Set(getAccountTypes(VoteRecord)),
  };
  const STATES: Record<number, string> = {
    [ProposalState.Draft]: 'active',
    [ProposalState.SigningOff]: 'active',
    [ProposalState.Voting]: 'active',
    [ProposalState.Succeeded]: 'succeeded',
    [ProposalState.Executing]: 'queued',
    [ProposalState.ExecutingWithErrors]: 'queued',
    [ProposalState.Completed]: 'executed',
    [ProposalState.Cancelled]: 'cancelled',
    [ProposalState.Defeated]: 'defeated',
    [ProposalState.Vetoed]: 'defeated',
  };
  for (const { pubkey, data } of await accountsOf(PROGRAM_IDS.governance)) {
    const type = data[0] ?? 0;
    if (types.governance.has(type)) {
      const g = parse<Governance>(Governance, pubkey, data);
      put(truth, 'governances', pubkey, { proposal_count: g.proposalCount, voting_period: g.config.baseVotingTime });
    } else if (types.proposal.has(type)) {
      const p = parse<Proposal>(Proposal, pubkey, data);
      put(truth, 'proposals', pubkey, {
        governance_pubkey: p.governance.toBase58(),
        title: p.name,
        votes_for: p.getYesVoteCount().toString(),
        votes_against: p.getNoVoteCount().toString(),
        state: STATES[p.state] ?? null,
      });
    } else if (types.vote.has(type)) {
      const v = parse<VoteRecord>(VoteRecord, pubkey, data);
      const weight = v.voterWeight ?? (v.voteWeight ? v.voteWeight.yes.add(v.voteWeight.no) : undefined);
      put(truth, 'votes', pubkey, {
        proposal_pubkey: v.proposal.toBase58(),
        voter: v.governingTokenOwner.toBase58(),
        support: v.vote !== undefined ? v.vote.voteType === VoteKind.Approve : (v.voteWeight?.yes.gtn(0) ?? false),
        vote_weight: weight?.toString() ?? null,
        signature: castVotes.get(pubkey)?.signature ?? null,
      });
    }
  }
  return truth;
}

/** Tensor's delist / close-expired instructions (names from the published interface) and where their list state is. */
const TENSOR_INSTRUCTION_NAMES = new Map<string, string>();
const TENSOR_LIST_STATE_INDEX: Record<string, number> = {};
{
  const tensor = referenceJson<{ instructions: { name: string; accounts: { name: string }[] }[] }>(
    'interfaces/tensor_marketplace.json',
  );
  const snake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
  for (const ix of tensor.instructions) {
    TENSOR_INSTRUCTION_NAMES.set(disc(`global:${snake(ix.name)}`).toString('hex'), ix.name);
    TENSOR_LIST_STATE_INDEX[ix.name] = ix.accounts.findIndex((a) => a.name === 'listState');
  }
}

/** Key of a stored row, as chainTruth names rows. */
const KEYS: Record<string, (row: Record<string, unknown>) => string> = {
  transactions: (r) => String(r['signature']),
  escrows: (r) => String(r['pubkey']),
  escrow_events: (r) => `${String(r['signature'])}|${String(r['escrow_pubkey'])}|${String(r['event_type'])}`,
  pools: (r) => String(r['pubkey']),
  swaps: (r) => `${String(r['signature'])}|${String(r['pool_pubkey'])}`,
  liquidity_events: (r) => `${String(r['signature'])}|${String(r['pool_pubkey'])}|${String(r['event_type'])}`,
  listings: (r) => String(r['pubkey']),
  sales: (r) => `${String(r['signature'])}|${String(r['listing_pubkey'])}`,
  governances: (r) => String(r['pubkey']),
  proposals: (r) => String(r['pubkey']),
  votes: (r) => String(r['pubkey']),
  executions: (r) => `${String(r['signature'])}|${String(r['proposal_pubkey'])}`,
};

/** Tables where every stored row must be one the chain accounts for (no extra, no duplicate). */
const EXACT = new Set(['transactions', 'escrow_events', 'swaps', 'liquidity_events', 'sales', 'votes', 'executions']);

function normalise(value: unknown): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean' || typeof value === 'number') return value;
  if (value === 1 || value === 0) return value;
  return String(value);
}

/**
 * Every difference between the database and `truth`, as readable lines (empty when they agree):
 * missing rows, extra or duplicated rows of event tables, and compared columns that differ.
 */
export async function differences(db: Database, truth: Truth, only?: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const [table, keyOf] of Object.entries(KEYS)) {
    if (only !== undefined && !only.includes(table)) continue;
    const expected = truth[table] ?? new Map<string, Row>();
    const stored = await db.sequelize.query<Record<string, unknown>>(`SELECT * FROM ${table}`, {
      type: QueryTypes.SELECT,
    });
    const byKey = new Map<string, Record<string, unknown>[]>();
    for (const row of stored) {
      const k = keyOf(row);
      byKey.set(k, [...(byKey.get(k) ?? []), row]);
    }
    for (const [k, rows] of byKey) {
      if (rows.length > 1) out.push(`${table} ${k}: stored ${rows.length} times`);
      if (EXACT.has(table) && !expected.has(k)) out.push(`${table} ${k}: stored, but the chain has no such row`);
    }
    for (const [k, want] of expected) {
      const got = byKey.get(k)?.[0];
      if (got === undefined) {
        out.push(`${table} ${k}: missing`);
        continue;
      }
      for (const [column, value] of Object.entries(want)) {
        if (value === null) continue;
        const have = normalise(got[column]);
        const same =
          typeof value === 'boolean' ? (have === 1 || have === true) === value : String(have) === String(value);
        if (!same) out.push(`${table} ${k}: ${column} is ${String(have)}, the chain says ${String(value)}`);
      }
    }
  }
  return out;
}
