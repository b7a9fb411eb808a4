// The seed schema (shared/seed-schema/*.sql), exactly, with one documented change: on-chain u64
// columns use the `u64` domain (NUMERIC(20,0), 0..2^64-1) instead of the signed BIGINT, which
// cannot hold amounts above 2^63-1. SQLite gets the same tables through `toSqlite` below.
import type { Migration } from '../src/db/migrator.ts';

const U64_MAX = '18446744073709551615';

const POSTGRES_PRELUDE = `
CREATE DOMAIN u64 AS NUMERIC(20,0) CHECK (VALUE >= 0 AND VALUE <= ${U64_MAX});
CREATE TYPE escrow_state AS ENUM ('created', 'funded', 'completed', 'cancelled');
CREATE TYPE listing_state AS ENUM ('active', 'sold', 'cancelled');
CREATE TYPE proposal_state AS ENUM ('active', 'succeeded', 'defeated', 'queued', 'executed', 'cancelled');
`;

// One statement per paragraph; column lines are `name TYPE [constraints],` so toSqlite can read them.
const TABLES_DDL = `
CREATE TABLE accounts (
    id SERIAL PRIMARY KEY,
    pubkey VARCHAR(44) UNIQUE NOT NULL,
    label VARCHAR(255),
    account_type VARCHAR(50) NOT NULL,
    owner_program VARCHAR(44),
    lamports u64 DEFAULT 0,
    data_hash VARCHAR(64),
    slot BIGINT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_accounts_pubkey ON accounts(pubkey);
CREATE INDEX idx_accounts_type ON accounts(account_type);
CREATE INDEX idx_accounts_owner ON accounts(owner_program);

CREATE TABLE transactions (
    id SERIAL PRIMARY KEY,
    signature VARCHAR(88) UNIQUE NOT NULL,
    slot BIGINT NOT NULL,
    block_time TIMESTAMP,
    fee u64 NOT NULL,
    status VARCHAR(20) NOT NULL,
    program_id VARCHAR(44),
    instruction_type VARCHAR(50),
    accounts JSONB,
    raw_data JSONB,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_transactions_signature ON transactions(signature);
CREATE INDEX idx_transactions_slot ON transactions(slot DESC);
CREATE INDEX idx_transactions_program ON transactions(program_id);
CREATE INDEX idx_transactions_block_time ON transactions(block_time DESC);
CREATE INDEX idx_transactions_accounts ON transactions USING GIN(accounts);

CREATE TABLE escrows (
    id SERIAL PRIMARY KEY,
    pubkey VARCHAR(44) UNIQUE NOT NULL,
    escrow_id u64 NOT NULL,
    maker VARCHAR(44) NOT NULL,
    taker VARCHAR(44),
    mint_a VARCHAR(44) NOT NULL,
    mint_b VARCHAR(44) NOT NULL,
    amount_a u64 NOT NULL,
    amount_b u64 NOT NULL,
    vault VARCHAR(44) NOT NULL,
    state escrow_state NOT NULL DEFAULT 'created',
    created_slot BIGINT NOT NULL,
    completed_slot BIGINT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_escrows_pubkey ON escrows(pubkey);
CREATE INDEX idx_escrows_maker ON escrows(maker);
CREATE INDEX idx_escrows_taker ON escrows(taker);
CREATE INDEX idx_escrows_state ON escrows(state);
CREATE INDEX idx_escrows_mints ON escrows(mint_a, mint_b);

CREATE TABLE escrow_events (
    id SERIAL PRIMARY KEY,
    escrow_pubkey VARCHAR(44) NOT NULL REFERENCES escrows(pubkey),
    event_type VARCHAR(50) NOT NULL,
    signature VARCHAR(88) NOT NULL,
    slot BIGINT NOT NULL,
    data JSONB,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_escrow_events_escrow ON escrow_events(escrow_pubkey);
CREATE INDEX idx_escrow_events_type ON escrow_events(event_type);

CREATE TABLE listings (
    id SERIAL PRIMARY KEY,
    pubkey VARCHAR(44) UNIQUE NOT NULL,
    marketplace VARCHAR(44) NOT NULL,
    seller VARCHAR(44) NOT NULL,
    mint VARCHAR(44) NOT NULL,
    price u64 NOT NULL,
    state listing_state NOT NULL DEFAULT 'active',
    created_slot BIGINT NOT NULL,
    sold_slot BIGINT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_listings_pubkey ON listings(pubkey);
CREATE INDEX idx_listings_seller ON listings(seller);
CREATE INDEX idx_listings_mint ON listings(mint);
CREATE INDEX idx_listings_state ON listings(state);
CREATE INDEX idx_listings_price ON listings(price) WHERE state = 'active';

CREATE TABLE sales (
    id SERIAL PRIMARY KEY,
    listing_pubkey VARCHAR(44) NOT NULL REFERENCES listings(pubkey),
    buyer VARCHAR(44) NOT NULL,
    price u64 NOT NULL,
    signature VARCHAR(88) NOT NULL,
    slot BIGINT NOT NULL,
    royalty_amount u64 DEFAULT 0,
    marketplace_fee u64 DEFAULT 0,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_sales_listing ON sales(listing_pubkey);
CREATE INDEX idx_sales_buyer ON sales(buyer);
CREATE INDEX idx_sales_slot ON sales(slot DESC);

CREATE TABLE collections (
    id SERIAL PRIMARY KEY,
    mint VARCHAR(44) UNIQUE NOT NULL,
    name VARCHAR(255) NOT NULL,
    symbol VARCHAR(10),
    uri VARCHAR(500),
    creator VARCHAR(44),
    verified BOOLEAN DEFAULT FALSE,
    floor_price u64,
    total_volume u64 DEFAULT 0,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_collections_mint ON collections(mint);
CREATE INDEX idx_collections_creator ON collections(creator);

CREATE TABLE pools (
    id SERIAL PRIMARY KEY,
    pubkey VARCHAR(44) UNIQUE NOT NULL,
    token_a_mint VARCHAR(44) NOT NULL,
    token_b_mint VARCHAR(44) NOT NULL,
    token_a_vault VARCHAR(44) NOT NULL,
    token_b_vault VARCHAR(44) NOT NULL,
    lp_mint VARCHAR(44) NOT NULL,
    fee_rate INTEGER NOT NULL,
    token_a_reserve u64 DEFAULT 0,
    token_b_reserve u64 DEFAULT 0,
    lp_supply u64 DEFAULT 0,
    cumulative_volume_a u64 DEFAULT 0,
    cumulative_volume_b u64 DEFAULT 0,
    created_slot BIGINT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_pools_pubkey ON pools(pubkey);
CREATE INDEX idx_pools_tokens ON pools(token_a_mint, token_b_mint);
CREATE INDEX idx_pools_lp_mint ON pools(lp_mint);

CREATE TABLE swaps (
    id SERIAL PRIMARY KEY,
    pool_pubkey VARCHAR(44) NOT NULL REFERENCES pools(pubkey),
    user_address VARCHAR(44) NOT NULL,
    input_mint VARCHAR(44) NOT NULL,
    output_mint VARCHAR(44) NOT NULL,
    input_amount u64 NOT NULL,
    output_amount u64 NOT NULL,
    fee_amount u64 NOT NULL,
    signature VARCHAR(88) NOT NULL,
    slot BIGINT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_swaps_pool ON swaps(pool_pubkey);
CREATE INDEX idx_swaps_user ON swaps(user_address);
CREATE INDEX idx_swaps_slot ON swaps(slot DESC);

CREATE TABLE liquidity_events (
    id SERIAL PRIMARY KEY,
    pool_pubkey VARCHAR(44) NOT NULL REFERENCES pools(pubkey),
    user_address VARCHAR(44) NOT NULL,
    event_type VARCHAR(20) NOT NULL,
    token_a_amount u64 NOT NULL,
    token_b_amount u64 NOT NULL,
    lp_amount u64 NOT NULL,
    signature VARCHAR(88) NOT NULL,
    slot BIGINT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_liquidity_events_pool ON liquidity_events(pool_pubkey);
CREATE INDEX idx_liquidity_events_user ON liquidity_events(user_address);
CREATE INDEX idx_liquidity_events_type ON liquidity_events(event_type);

CREATE TABLE governances (
    id SERIAL PRIMARY KEY,
    pubkey VARCHAR(44) UNIQUE NOT NULL,
    authority VARCHAR(44) NOT NULL,
    governance_token_mint VARCHAR(44) NOT NULL,
    treasury VARCHAR(44) NOT NULL,
    proposal_count BIGINT DEFAULT 0,
    voting_period BIGINT NOT NULL,
    proposal_threshold u64 NOT NULL,
    quorum_votes u64 NOT NULL,
    execution_delay BIGINT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_governances_pubkey ON governances(pubkey);
CREATE INDEX idx_governances_token ON governances(governance_token_mint);

CREATE TABLE proposals (
    id SERIAL PRIMARY KEY,
    pubkey VARCHAR(44) UNIQUE NOT NULL,
    governance_pubkey VARCHAR(44) NOT NULL REFERENCES governances(pubkey),
    proposal_id BIGINT NOT NULL,
    proposer VARCHAR(44) NOT NULL,
    title VARCHAR(255) NOT NULL,
    description_uri VARCHAR(500),
    votes_for u64 DEFAULT 0,
    votes_against u64 DEFAULT 0,
    state proposal_state NOT NULL DEFAULT 'active',
    voting_starts_at TIMESTAMP NOT NULL,
    voting_ends_at TIMESTAMP NOT NULL,
    execution_time TIMESTAMP,
    created_slot BIGINT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_proposals_pubkey ON proposals(pubkey);
CREATE INDEX idx_proposals_governance ON proposals(governance_pubkey);
CREATE INDEX idx_proposals_proposer ON proposals(proposer);
CREATE INDEX idx_proposals_state ON proposals(state);
CREATE INDEX idx_proposals_voting ON proposals(voting_ends_at) WHERE state = 'active';

CREATE TABLE votes (
    id SERIAL PRIMARY KEY,
    pubkey VARCHAR(44) UNIQUE NOT NULL,
    proposal_pubkey VARCHAR(44) NOT NULL REFERENCES proposals(pubkey),
    voter VARCHAR(44) NOT NULL,
    support BOOLEAN NOT NULL,
    vote_weight u64 NOT NULL,
    signature VARCHAR(88) NOT NULL,
    slot BIGINT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_votes_proposal ON votes(proposal_pubkey);
CREATE INDEX idx_votes_voter ON votes(voter);
CREATE UNIQUE INDEX idx_votes_unique ON votes(proposal_pubkey, voter);

CREATE TABLE executions (
    id SERIAL PRIMARY KEY,
    proposal_pubkey VARCHAR(44) NOT NULL REFERENCES proposals(pubkey),
    executor VARCHAR(44) NOT NULL,
    signature VARCHAR(88) NOT NULL,
    slot BIGINT NOT NULL,
    success BOOLEAN NOT NULL,
    error_message TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_executions_proposal ON executions(proposal_pubkey);
`;

/** Children before parents, so that foreign keys never block a drop. */
const DROP_ORDER = [
  'executions',
  'votes',
  'proposals',
  'governances',
  'liquidity_events',
  'swaps',
  'pools',
  'sales',
  'listings',
  'collections',
  'escrow_events',
  'escrows',
  'transactions',
  'accounts',
];

const ENUM_LABELS: Record<string, string[]> = {
  escrow_state: ['created', 'funded', 'completed', 'cancelled'],
  listing_state: ['active', 'sold', 'cancelled'],
  proposal_state: ['active', 'succeeded', 'defeated', 'queued', 'executed', 'cancelled'],
};

// A canonical u64 decimal: digits only, no leading zero, at most 2^64-1. Values travel as TEXT on
// SQLite because its INTEGER is signed 64-bit and node-sqlite3 reads integers as lossy doubles.
const sqliteU64Check = (col: string) =>
  `CHECK (${col} IS NULL OR (typeof(${col}) = 'text' AND length(${col}) BETWEEN 1 AND 20` +
  ` AND ${col} NOT GLOB '*[^0-9]*' AND (${col} = '0' OR ${col} NOT GLOB '0*')` +
  ` AND (length(${col}) < 20 OR ${col} <= '${U64_MAX}')))`;

/**
 * The same tables for SQLite: SERIAL → INTEGER PRIMARY KEY AUTOINCREMENT (ids never reused, as
 * with a sequence); u64 → TEXT with the check above; enums → TEXT with CHECK IN (labels); JSONB →
 * TEXT holding valid JSON; VARCHAR(n) and BOOLEAN get checks so SQLite rejects what PostgreSQL
 * rejects. The GIN index has no SQLite counterpart and is left out.
 */
export function toSqlite(ddl: string): string {
  const out: string[] = [];
  for (const line of ddl.split('\n')) {
    if (/USING GIN/.test(line)) continue;
    const column = /^(\s+)(\w+) (\w+(?:\(\d+(?:,\d+)?\))?)(.*?)(,?)$/.exec(line);
    if (column === null || /^\s+\w+ \w+.*\($/.test(line)) {
      out.push(line);
      continue;
    }
    const [, indent, name, type, rest, comma] = column as unknown as [string, string, string, string, string, string];
    const checks: string[] = [];
    let sqliteType = type;
    let constraints = rest;
    const varchar = /^VARCHAR\((\d+)\)$/.exec(type);
    if (type === 'SERIAL') {
      sqliteType = 'INTEGER';
      constraints = constraints.replace('PRIMARY KEY', 'PRIMARY KEY AUTOINCREMENT');
    } else if (type === 'u64') {
      sqliteType = 'TEXT';
      constraints = constraints.replace(/DEFAULT (\d+)/, "DEFAULT '$1'");
      checks.push(sqliteU64Check(name));
    } else if (type === 'JSONB') {
      sqliteType = 'TEXT';
      checks.push(`CHECK (${name} IS NULL OR json_valid(${name}))`);
    } else if (type === 'BOOLEAN') {
      constraints = constraints.replace('DEFAULT FALSE', 'DEFAULT 0');
      checks.push(`CHECK (${name} IS NULL OR ${name} IN (0, 1))`);
    } else if (varchar !== null) {
      checks.push(`CHECK (${name} IS NULL OR length(${name}) <= ${varchar[1]})`);
    } else if (ENUM_LABELS[type] !== undefined) {
      sqliteType = 'TEXT';
      const labels = ENUM_LABELS[type].map((l) => `'${l}'`).join(', ');
      checks.push(`CHECK (${name} IN (${labels}))`);
    }
    out.push(`${indent}${name} ${sqliteType}${constraints}${checks.map((c) => ` ${c}`).join('')}${comma}`);
  }
  return out.join('\n');
}

function statements(sql: string): string[] {
  return sql
    .split(/;\s*\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export const up: Migration = async ({ context: { sequelize, dialect } }) => {
  const ddl = dialect === 'postgres' ? POSTGRES_PRELUDE + TABLES_DDL : toSqlite(TABLES_DDL);
  await sequelize.transaction(async (transaction) => {
    for (const statement of statements(ddl)) await sequelize.query(statement, { transaction });
  });
};

export const down: Migration = async ({ context: { sequelize, dialect } }) => {
  await sequelize.transaction(async (transaction) => {
    for (const table of DROP_ORDER) await sequelize.query(`DROP TABLE IF EXISTS ${table}`, { transaction });
    if (dialect === 'postgres') {
      for (const type of Object.keys(ENUM_LABELS))
        await sequelize.query(`DROP TYPE IF EXISTS ${type}`, { transaction });
      await sequelize.query('DROP DOMAIN IF EXISTS u64', { transaction });
    }
  });
};
