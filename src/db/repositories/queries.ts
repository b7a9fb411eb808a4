// The seed's query patterns as typed functions. Every function returns rows in wire form
// (seed column names, u64 as decimal strings, ISO timestamps), whichever dialect answered.
import { Op, literal, type Order, type WhereOptions } from 'sequelize';
import type { Database } from '../connection.ts';
import { toWireRow } from '../rows.ts';
import type { EscrowState, ListingState, ProposalState, RowOf, Topic } from '../schema.ts';
import { orderU64 } from '../sql.ts';
import { modelsFor } from './models.ts';
import { pageOf } from './pages.ts';
import type { SeedModel } from '../models/index.ts';

export interface PageOptions {
  /** 1-based page number (default 1). */
  readonly page?: number;
  /** Rows per page (default 20, at most 1000). */
  readonly pageSize?: number;
}

async function findRows<T extends Topic>(
  db: Database,
  topic: T,
  model: SeedModel<T>,
  where: WhereOptions,
  order: Order,
  page?: { limit: number; offset: number },
): Promise<RowOf<T>[]> {
  const rows = await model.findAll({ where, order, raw: true, ...(page ?? {}) });
  return rows.map((row) => toWireRow(topic, row as unknown as Record<string, unknown>));
}

/** Newest first, with the id breaking ties between rows created in the same instant. */
const NEWEST: Order = [
  ['created_at', 'DESC'],
  ['id', 'DESC'],
];
const LATEST_SLOT: Order = [
  ['slot', 'DESC'],
  ['id', 'DESC'],
];

/** The row of a state table (or votes) with this pubkey, or null. */
export async function findByPubkey<
  T extends 'accounts' | 'escrows' | 'listings' | 'pools' | 'governances' | 'proposals' | 'votes',
>(db: Database, topic: T, pubkey: string): Promise<RowOf<T> | null> {
  const models = modelsFor(db);
  const model = {
    accounts: models.Account,
    escrows: models.Escrow,
    listings: models.Listing,
    pools: models.Pool,
    governances: models.Governance,
    proposals: models.Proposal,
    votes: models.Vote,
  }[topic] as unknown as SeedModel<T>;
  const [row] = await findRows(db, topic, model, { pubkey }, [['id', 'ASC']], { limit: 1, offset: 0 });
  return row ?? null;
}

/** Escrows made (or taken) by an address, optionally in one state, newest first. */
export async function findEscrowsByParty(
  db: Database,
  party: { maker: string } | { taker: string },
  options: PageOptions & { state?: EscrowState } = {},
): Promise<RowOf<'escrows'>[]> {
  const where: Record<string, unknown> = 'maker' in party ? { maker: party.maker } : { taker: party.taker };
  if (options.state !== undefined) where.state = options.state;
  return findRows(db, 'escrows', modelsFor(db).Escrow, where, NEWEST, pageOf(options));
}

/** Escrows still open (created or funded), newest first. */
export async function findActiveEscrows(db: Database, options: PageOptions = {}): Promise<RowOf<'escrows'>[]> {
  return findRows(
    db,
    'escrows',
    modelsFor(db).Escrow,
    { state: { [Op.in]: ['created', 'funded'] } },
    NEWEST,
    pageOf(options),
  );
}

/** Listings by seller and/or mint and/or state (default active), cheapest first. */
export async function findListings(
  db: Database,
  filter: { seller?: string; mint?: string; state?: ListingState },
  options: PageOptions = {},
): Promise<RowOf<'listings'>[]> {
  const where: Record<string, unknown> = { state: filter.state ?? 'active' };
  if (filter.seller !== undefined) where.seller = filter.seller;
  if (filter.mint !== undefined) where.mint = filter.mint;
  const order: Order = [literal(orderU64(db.dialect, 'price', 'ASC')), ['id', 'ASC']];
  return findRows(db, 'listings', modelsFor(db).Listing, where, order, pageOf(options));
}

/** Swaps in a pool or by a user, newest (highest slot) first. */
export async function findSwaps(
  db: Database,
  filter: { pool: string } | { user: string },
  options: PageOptions = {},
): Promise<RowOf<'swaps'>[]> {
  const where = 'pool' in filter ? { pool_pubkey: filter.pool } : { user_address: filter.user };
  return findRows(db, 'swaps', modelsFor(db).Swap, where, LATEST_SLOT, pageOf(options));
}

/** Proposals of a governance, optionally in one state, newest first. */
export async function findProposals(
  db: Database,
  governance: string,
  options: PageOptions & { state?: ProposalState } = {},
): Promise<RowOf<'proposals'>[]> {
  const where: Record<string, unknown> = { governance_pubkey: governance };
  if (options.state !== undefined) where.state = options.state;
  return findRows(db, 'proposals', modelsFor(db).Proposal, where, NEWEST, pageOf(options));
}

/** Votes cast on a proposal, latest first. */
export async function findVotes(db: Database, proposal: string, options: PageOptions = {}): Promise<RowOf<'votes'>[]> {
  return findRows(db, 'votes', modelsFor(db).Vote, { proposal_pubkey: proposal }, LATEST_SLOT, pageOf(options));
}
