// Valid rows for every seed table, with unique keys per call, so each test owns its data.
import { QueryTypes } from 'sequelize';
import type { Database } from '../../src/db/connection.ts';
import { upsertRows } from '../../src/db/repositories/index.ts';
import type { Topic } from '../../src/db/schema.ts';
import type { Dialect } from '../../src/config.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

export { pubkey } from '../support/keys.ts';
import { pubkey } from '../support/keys.ts';
/** A base58 string of signature length (two keys side by side are at most 88 characters). */
export const signature = (): string => pubkey() + pubkey();

export const U64_MAX = '18446744073709551615';

/** Parents that child rows point at (escrow events, sales, swaps, liquidity events, votes, executions). */
export interface Parents {
  readonly escrow: string;
  readonly listing: string;
  readonly pool: string;
  readonly governance: string;
  readonly proposal: string;
}

export type Row = Record<string, unknown>;

/** A valid row of `topic` with fresh keys; `overrides` replace columns. */
export function sampleRow(topic: Topic, parents: Parents | null, overrides: Row = {}): Row {
  const need = (): Parents => {
    if (parents === null) throw new Error(`${topic} rows need parents`);
    return parents;
  };
  const base: Record<Topic, () => Row> = {
    accounts: () => ({
      pubkey: pubkey(),
      label: 'watched',
      account_type: 'token',
      owner_program: pubkey(),
      lamports: '5000',
      data_hash: 'ab'.repeat(32),
      slot: 10,
    }),
    transactions: () => ({
      signature: signature(),
      slot: 100,
      block_time: '2026-01-02T03:04:05.000Z',
      fee: '5000',
      status: 'success',
      program_id: pubkey(),
      instruction_type: 'swap',
      accounts: [pubkey(), pubkey()],
      raw_data: { logs: ['Program log: hi'], ok: true },
    }),
    escrows: () => ({
      pubkey: pubkey(),
      escrow_id: '7',
      maker: pubkey(),
      taker: null,
      mint_a: pubkey(),
      mint_b: pubkey(),
      amount_a: '1000',
      amount_b: '2000',
      vault: pubkey(),
      state: 'created',
      created_slot: 50,
      completed_slot: null,
    }),
    escrow_events: () => ({
      escrow_pubkey: need().escrow,
      event_type: 'funded',
      signature: signature(),
      slot: 51,
      data: { amount: '1000' },
    }),
    listings: () => ({
      pubkey: pubkey(),
      marketplace: pubkey(),
      seller: pubkey(),
      mint: pubkey(),
      price: '1500',
      state: 'active',
      created_slot: 60,
      sold_slot: null,
    }),
    sales: () => ({
      listing_pubkey: need().listing,
      buyer: pubkey(),
      price: '1500',
      signature: signature(),
      slot: 61,
      royalty_amount: '15',
      marketplace_fee: '30',
    }),
    collections: () => ({
      mint: pubkey(),
      name: 'Collection',
      symbol: 'COL',
      uri: 'https://example.invalid/c.json',
      creator: pubkey(),
      verified: true,
      floor_price: '100',
      total_volume: '1000',
    }),
    pools: () => ({
      pubkey: pubkey(),
      token_a_mint: pubkey(),
      token_b_mint: pubkey(),
      token_a_vault: pubkey(),
      token_b_vault: pubkey(),
      lp_mint: pubkey(),
      fee_rate: 30,
      token_a_reserve: '1000000',
      token_b_reserve: '2000000',
      lp_supply: '1414213',
      cumulative_volume_a: '0',
      cumulative_volume_b: '0',
      created_slot: 70,
    }),
    swaps: () => ({
      pool_pubkey: need().pool,
      user_address: pubkey(),
      input_mint: pubkey(),
      output_mint: pubkey(),
      input_amount: '100',
      output_amount: '195',
      fee_amount: '1',
      signature: signature(),
      slot: 71,
    }),
    liquidity_events: () => ({
      pool_pubkey: need().pool,
      user_address: pubkey(),
      event_type: 'deposit',
      token_a_amount: '10',
      token_b_amount: '20',
      lp_amount: '14',
      signature: signature(),
      slot: 72,
    }),
    governances: () => ({
      pubkey: pubkey(),
      authority: pubkey(),
      governance_token_mint: pubkey(),
      treasury: pubkey(),
      proposal_count: 0,
      voting_period: 259200,
      proposal_threshold: '1000',
      quorum_votes: '5000',
      execution_delay: 3600,
    }),
    proposals: () => ({
      pubkey: pubkey(),
      governance_pubkey: need().governance,
      proposal_id: 1,
      proposer: pubkey(),
      title: 'Raise the fee',
      description_uri: 'https://example.invalid/p/1',
      votes_for: '0',
      votes_against: '0',
      state: 'active',
      voting_starts_at: '2026-01-01T00:00:00.000Z',
      voting_ends_at: '2026-01-04T00:00:00.000Z',
      execution_time: null,
      created_slot: 80,
    }),
    votes: () => ({
      pubkey: pubkey(),
      proposal_pubkey: need().proposal,
      voter: pubkey(),
      support: true,
      vote_weight: '250',
      signature: signature(),
      slot: 81,
    }),
    executions: () => ({
      proposal_pubkey: need().proposal,
      executor: pubkey(),
      signature: signature(),
      slot: 90,
      success: false,
      error_message: 'custom program error: 0x1',
    }),
  };
  return { ...base[topic](), ...overrides };
}

/** Writes one parent of each kind and returns their pubkeys. */
export async function createParents(db: Database): Promise<Parents> {
  const escrow = sampleRow('escrows', null);
  const listing = sampleRow('listings', null);
  const pool = sampleRow('pools', null);
  const governance = sampleRow('governances', null);
  await upsertRows(db, 'escrows', [escrow]);
  await upsertRows(db, 'listings', [listing]);
  await upsertRows(db, 'pools', [pool]);
  await upsertRows(db, 'governances', [governance]);
  const parents = {
    escrow: escrow.pubkey as string,
    listing: listing.pubkey as string,
    pool: pool.pubkey as string,
    governance: governance.pubkey as string,
    proposal: '',
  };
  const proposal = sampleRow('proposals', parents);
  await upsertRows(db, 'proposals', [proposal]);
  return { ...parents, proposal: proposal.pubkey as string };
}

/** Row count of a table (raw SQL, so no model logic is involved). */
export async function countRows(db: Database, table: string): Promise<number> {
  const [row] = await db.sequelize.query<{ n: string | number }>(`SELECT COUNT(*) AS n FROM ${table}`, {
    type: QueryTypes.SELECT,
  });
  return Number(row?.n ?? 0);
}

/** Counts of every seed table and the change log, to show that a failed write left nothing behind. */
export async function countAll(db: Database): Promise<Record<string, number>> {
  const tables = [
    'accounts',
    'transactions',
    'escrows',
    'escrow_events',
    'listings',
    'sales',
    'collections',
    'pools',
    'swaps',
    'liquidity_events',
    'governances',
    'proposals',
    'votes',
    'executions',
    'solstream_change_log',
  ];
  const out: Record<string, number> = {};
  for (const table of tables) out[table] = await countRows(db, table);
  return out;
}

export interface SeededDatabase {
  readonly test: TestDatabase;
  readonly db: Database;
  readonly parents: Parents;
}

/**
 * Registers mocha hooks giving the enclosing suite one fresh migrated database with parent rows
 * (created before its tests, dropped after), handed to `use` once it exists.
 */
export function withSeededDatabase(dialect: Dialect, use: (seeded: SeededDatabase) => void): void {
  let test: TestDatabase | undefined;
  before(async () => {
    test = await createTestDatabase(dialect);
    use({ test, db: test.db, parents: await createParents(test.db) });
  });
  after(async () => {
    await test?.drop();
  });
}
