// The seed schema as data: every streamed table, its columns and what kind of value each holds.
// Models, filters, snapshots, the wire format and the clients all read this one catalogue, so a
// column's meaning (u64 amount, pubkey, slot, timestamp) is decided once.
//
// Migrations do NOT import it: a migration is frozen at the time it was written. A test checks that
// this catalogue and the migrated database agree.

/** How a column's value is stored and how it travels on the wire. */
export type ColumnKind =
  /** SERIAL primary key; a JSON number on the wire. */
  | 'serial'
  /** VARCHAR(44) holding a base58 public key. */
  | 'pubkey'
  /** VARCHAR(88) holding a base58 transaction signature. */
  | 'signature'
  /** Free text (VARCHAR(n) or TEXT). */
  | 'text'
  /** An on-chain u64 (amounts, prices, reserves, fees...): NUMERIC(20,0) / checked TEXT; a decimal string on the wire. */
  | 'u64'
  /** BIGINT that is not an amount (slots, counters, durations); a JSON number on the wire. */
  | 'i64'
  /** INTEGER; a JSON number. */
  | 'int'
  /** BOOLEAN; a JSON boolean. */
  | 'bool'
  /** TIMESTAMP (UTC, no zone in the column); ISO-8601 with `Z` on the wire. */
  | 'timestamp'
  /** JSONB on PostgreSQL, JSON text on SQLite; any JSON value on the wire. */
  | 'json'
  /** A PostgreSQL enum (CHECK-constrained TEXT on SQLite); a string on the wire. */
  | 'enum';

export interface ColumnDef {
  readonly kind: ColumnKind;
  readonly nullable: boolean;
  /** Labels of an enum column, in declaration order. */
  readonly labels?: readonly string[];
  /** Maximum length of a VARCHAR column. */
  readonly maxLength?: number;
  /** PostgreSQL type name of an enum column. */
  readonly typeName?: string;
}

/**
 * `state`: one row per on-chain account, updated in place; a snapshot is the current matching set.
 * `append`: one row per on-chain event; a snapshot is the latest N matching rows.
 */
export type TableKind = 'state' | 'append';

export interface TableDef {
  readonly kind: TableKind;
  /** Natural key used by idempotent upserts (a unique column, or columns of a unique index). */
  readonly naturalKey: readonly string[];
  readonly columns: Readonly<Record<string, ColumnDef>>;
}

const c = {
  serial: { kind: 'serial', nullable: false },
  pubkey: { kind: 'pubkey', nullable: false, maxLength: 44 },
  pubkeyNull: { kind: 'pubkey', nullable: true, maxLength: 44 },
  signature: { kind: 'signature', nullable: false, maxLength: 88 },
  u64: { kind: 'u64', nullable: false },
  /** Seed column with `DEFAULT 0` and no NOT NULL. */
  u64Null: { kind: 'u64', nullable: true },
  i64: { kind: 'i64', nullable: false },
  i64Null: { kind: 'i64', nullable: true },
  bool: { kind: 'bool', nullable: false },
  boolNull: { kind: 'bool', nullable: true },
  timestamp: { kind: 'timestamp', nullable: false },
  timestampNull: { kind: 'timestamp', nullable: true },
  json: { kind: 'json', nullable: true },
} as const satisfies Record<string, ColumnDef>;

const text = <N extends number>(maxLength: N) => ({ kind: 'text', nullable: false, maxLength }) as const;
const textNull = <N extends number>(maxLength: N) => ({ kind: 'text', nullable: true, maxLength }) as const;

export const ESCROW_STATES = ['created', 'funded', 'completed', 'cancelled'] as const;
export const LISTING_STATES = ['active', 'sold', 'cancelled'] as const;
export const PROPOSAL_STATES = ['active', 'succeeded', 'defeated', 'queued', 'executed', 'cancelled'] as const;

export type EscrowState = (typeof ESCROW_STATES)[number];
export type ListingState = (typeof LISTING_STATES)[number];
export type ProposalState = (typeof PROPOSAL_STATES)[number];

// `created_at` / `updated_at` have DEFAULT CURRENT_TIMESTAMP and no NOT NULL in the seed.
const stamps = { created_at: c.timestampNull, updated_at: c.timestampNull } as const;
const created = { created_at: c.timestampNull } as const;

export const TABLES = {
  accounts: {
    kind: 'state',
    naturalKey: ['pubkey'],
    columns: {
      id: c.serial,
      pubkey: c.pubkey,
      label: textNull(255),
      account_type: text(50),
      owner_program: c.pubkeyNull,
      lamports: c.u64Null,
      data_hash: textNull(64),
      slot: c.i64Null,
      ...stamps,
    },
  },
  transactions: {
    kind: 'append',
    naturalKey: ['signature'],
    columns: {
      id: c.serial,
      signature: c.signature,
      slot: c.i64,
      block_time: c.timestampNull,
      fee: c.u64,
      status: text(20),
      program_id: c.pubkeyNull,
      instruction_type: textNull(50),
      accounts: c.json,
      raw_data: c.json,
      ...created,
    },
  },
  escrows: {
    kind: 'state',
    naturalKey: ['pubkey'],
    columns: {
      id: c.serial,
      pubkey: c.pubkey,
      escrow_id: c.u64,
      maker: c.pubkey,
      taker: c.pubkeyNull,
      mint_a: c.pubkey,
      mint_b: c.pubkey,
      amount_a: c.u64,
      amount_b: c.u64,
      vault: c.pubkey,
      state: { kind: 'enum', nullable: false, labels: ESCROW_STATES, typeName: 'escrow_state' },
      created_slot: c.i64,
      completed_slot: c.i64Null,
      ...stamps,
    },
  },
  escrow_events: {
    kind: 'append',
    naturalKey: ['signature', 'escrow_pubkey', 'event_type'],
    columns: {
      id: c.serial,
      escrow_pubkey: c.pubkey,
      event_type: text(50),
      signature: c.signature,
      slot: c.i64,
      data: c.json,
      ...created,
    },
  },
  listings: {
    kind: 'state',
    naturalKey: ['pubkey'],
    columns: {
      id: c.serial,
      pubkey: c.pubkey,
      marketplace: c.pubkey,
      seller: c.pubkey,
      mint: c.pubkey,
      price: c.u64,
      state: { kind: 'enum', nullable: false, labels: LISTING_STATES, typeName: 'listing_state' },
      created_slot: c.i64,
      sold_slot: c.i64Null,
      ...stamps,
    },
  },
  sales: {
    kind: 'append',
    naturalKey: ['signature', 'listing_pubkey'],
    columns: {
      id: c.serial,
      listing_pubkey: c.pubkey,
      buyer: c.pubkey,
      price: c.u64,
      signature: c.signature,
      slot: c.i64,
      royalty_amount: c.u64Null,
      marketplace_fee: c.u64Null,
      ...created,
    },
  },
  collections: {
    kind: 'state',
    naturalKey: ['mint'],
    columns: {
      id: c.serial,
      mint: c.pubkey,
      name: text(255),
      symbol: textNull(10),
      uri: textNull(500),
      creator: c.pubkeyNull,
      verified: c.boolNull,
      floor_price: c.u64Null,
      total_volume: c.u64Null,
      ...stamps,
    },
  },
  pools: {
    kind: 'state',
    naturalKey: ['pubkey'],
    columns: {
      id: c.serial,
      pubkey: c.pubkey,
      token_a_mint: c.pubkey,
      token_b_mint: c.pubkey,
      token_a_vault: c.pubkey,
      token_b_vault: c.pubkey,
      lp_mint: c.pubkey,
      fee_rate: { kind: 'int', nullable: false },
      token_a_reserve: c.u64Null,
      token_b_reserve: c.u64Null,
      lp_supply: c.u64Null,
      cumulative_volume_a: c.u64Null,
      cumulative_volume_b: c.u64Null,
      created_slot: c.i64,
      ...stamps,
    },
  },
  swaps: {
    kind: 'append',
    // One transaction may swap through the same pool more than once (a route), so the amounts
    // are part of what identifies a swap.
    naturalKey: ['signature', 'pool_pubkey', 'input_mint', 'input_amount', 'output_amount'],
    columns: {
      id: c.serial,
      pool_pubkey: c.pubkey,
      user_address: c.pubkey,
      input_mint: c.pubkey,
      output_mint: c.pubkey,
      input_amount: c.u64,
      output_amount: c.u64,
      fee_amount: c.u64,
      signature: c.signature,
      slot: c.i64,
      ...created,
    },
  },
  liquidity_events: {
    kind: 'append',
    naturalKey: ['signature', 'pool_pubkey', 'event_type', 'lp_amount'],
    columns: {
      id: c.serial,
      pool_pubkey: c.pubkey,
      user_address: c.pubkey,
      event_type: text(20),
      token_a_amount: c.u64,
      token_b_amount: c.u64,
      lp_amount: c.u64,
      signature: c.signature,
      slot: c.i64,
      ...created,
    },
  },
  governances: {
    kind: 'state',
    naturalKey: ['pubkey'],
    columns: {
      id: c.serial,
      pubkey: c.pubkey,
      authority: c.pubkey,
      governance_token_mint: c.pubkey,
      treasury: c.pubkey,
      proposal_count: c.i64Null,
      voting_period: c.i64,
      proposal_threshold: c.u64,
      quorum_votes: c.u64,
      execution_delay: c.i64,
      ...stamps,
    },
  },
  proposals: {
    kind: 'state',
    naturalKey: ['pubkey'],
    columns: {
      id: c.serial,
      pubkey: c.pubkey,
      governance_pubkey: c.pubkey,
      proposal_id: c.i64,
      proposer: c.pubkey,
      title: text(255),
      description_uri: textNull(500),
      votes_for: c.u64Null,
      votes_against: c.u64Null,
      state: { kind: 'enum', nullable: false, labels: PROPOSAL_STATES, typeName: 'proposal_state' },
      voting_starts_at: c.timestamp,
      voting_ends_at: c.timestamp,
      execution_time: c.timestampNull,
      created_slot: c.i64,
      ...stamps,
    },
  },
  votes: {
    kind: 'append',
    naturalKey: ['pubkey'],
    columns: {
      id: c.serial,
      pubkey: c.pubkey,
      proposal_pubkey: c.pubkey,
      voter: c.pubkey,
      support: c.bool,
      vote_weight: c.u64,
      signature: c.signature,
      slot: c.i64,
      ...created,
    },
  },
  executions: {
    kind: 'append',
    naturalKey: ['signature', 'proposal_pubkey'],
    columns: {
      id: c.serial,
      proposal_pubkey: c.pubkey,
      executor: c.pubkey,
      signature: c.signature,
      slot: c.i64,
      success: c.bool,
      error_message: { kind: 'text', nullable: true },
      ...created,
    },
  },
} as const satisfies Record<string, TableDef>;

export type Topic = keyof typeof TABLES;
export const TOPICS = Object.keys(TABLES) as Topic[];

export function isTopic(value: unknown): value is Topic {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(TABLES, value);
}

type Columns<T extends Topic> = (typeof TABLES)[T]['columns'];

/** The TypeScript type of a column's value as it leaves the data layer and crosses the wire. */
export type WireValue<C> = C extends { kind: 'u64' | 'pubkey' | 'signature' | 'text' | 'timestamp' }
  ? string
  : C extends { kind: 'enum'; labels: readonly (infer L)[] }
    ? L
    : C extends { kind: 'serial' | 'i64' | 'int' }
      ? number
      : C extends { kind: 'bool' }
        ? boolean
        : C extends { kind: 'json' }
          ? unknown
          : never;

type Nullable<C, V> = C extends { nullable: true } ? V | null : V;

/** A row of `T` with the seed's column names, as served in snapshots, changes and REST responses. */
export type RowOf<T extends Topic> = {
  -readonly [K in keyof Columns<T>]: Nullable<Columns<T>[K], WireValue<Columns<T>[K]>>;
};

/** Column names of `T`: the keys a filter may use. */
export type ColumnOf<T extends Topic> = keyof Columns<T> & string;

/** Columns whose values travel as u64 decimal strings. */
export function u64Columns(topic: Topic): string[] {
  return Object.entries(TABLES[topic].columns)
    .filter(([, def]) => def.kind === 'u64')
    .map(([name]) => name);
}

export function columnDef(topic: Topic, column: string): ColumnDef | undefined {
  const columns: Readonly<Record<string, ColumnDef>> = TABLES[topic].columns;
  return Object.prototype.hasOwnProperty.call(columns, column) ? columns[column] : undefined;
}
