// Change capture in the database, so a change is recorded whoever writes it (the ingester, psql,
// another service): every INSERT / UPDATE / DELETE of a seed table lands in solstream_change_log
// with a cursor, and on PostgreSQL also NOTIFYs the gateways.
//
// Cursors follow commit order. On PostgreSQL a sequence value taken when a row is written can
// become visible out of order (id 101 committed before id 100), so the capture trigger is a
// DEFERRED constraint trigger: it runs at commit time, takes a transaction-scoped advisory lock,
// and only then draws cursors. The lock is released after the transaction is visible, so a later
// transaction draws larger cursors only after every smaller one is visible: the cursors any reader
// sees always form a prefix of the log. SQLite has one writer at a time, so plain triggers and an
// AUTOINCREMENT key already give commit order there.
import type { Migration } from '../src/db/migrator.ts';

/** Columns per seed table at the time of this migration (SQLite triggers name them explicitly). */
export const COLUMNS: Record<string, { all: string[]; u64: string[]; json: string[] }> = {
  accounts: {
    all: [
      'id',
      'pubkey',
      'label',
      'account_type',
      'owner_program',
      'lamports',
      'data_hash',
      'slot',
      'created_at',
      'updated_at',
    ],
    u64: ['lamports'],
    json: [],
  },
  transactions: {
    all: [
      'id',
      'signature',
      'slot',
      'block_time',
      'fee',
      'status',
      'program_id',
      'instruction_type',
      'accounts',
      'raw_data',
      'created_at',
    ],
    u64: ['fee'],
    json: ['accounts', 'raw_data'],
  },
  escrows: {
    all: [
      'id',
      'pubkey',
      'escrow_id',
      'maker',
      'taker',
      'mint_a',
      'mint_b',
      'amount_a',
      'amount_b',
      'vault',
      'state',
      'created_slot',
      'completed_slot',
      'created_at',
      'updated_at',
    ],
    u64: ['escrow_id', 'amount_a', 'amount_b'],
    json: [],
  },
  escrow_events: {
    all: ['id', 'escrow_pubkey', 'event_type', 'signature', 'slot', 'data', 'created_at'],
    u64: [],
    json: ['data'],
  },
  listings: {
    all: [
      'id',
      'pubkey',
      'marketplace',
      'seller',
      'mint',
      'price',
      'state',
      'created_slot',
      'sold_slot',
      'created_at',
      'updated_at',
    ],
    u64: ['price'],
    json: [],
  },
  sales: {
    all: [
      'id',
      'listing_pubkey',
      'buyer',
      'price',
      'signature',
      'slot',
      'royalty_amount',
      'marketplace_fee',
      'created_at',
    ],
    u64: ['price', 'royalty_amount', 'marketplace_fee'],
    json: [],
  },
  collections: {
    all: [
      'id',
      'mint',
      'name',
      'symbol',
      'uri',
      'creator',
      'verified',
      'floor_price',
      'total_volume',
      'created_at',
      'updated_at',
    ],
    u64: ['floor_price', 'total_volume'],
    json: [],
  },
  pools: {
    all: [
      'id',
      'pubkey',
      'token_a_mint',
      'token_b_mint',
      'token_a_vault',
      'token_b_vault',
      'lp_mint',
      'fee_rate',
      'token_a_reserve',
      'token_b_reserve',
      'lp_supply',
      'cumulative_volume_a',
      'cumulative_volume_b',
      'created_slot',
      'created_at',
      'updated_at',
    ],
    u64: ['token_a_reserve', 'token_b_reserve', 'lp_supply', 'cumulative_volume_a', 'cumulative_volume_b'],
    json: [],
  },
  swaps: {
    all: [
      'id',
      'pool_pubkey',
      'user_address',
      'input_mint',
      'output_mint',
      'input_amount',
      'output_amount',
      'fee_amount',
      'signature',
      'slot',
      'created_at',
    ],
    u64: ['input_amount', 'output_amount', 'fee_amount'],
    json: [],
  },
  liquidity_events: {
    all: [
      'id',
      'pool_pubkey',
      'user_address',
      'event_type',
      'token_a_amount',
      'token_b_amount',
      'lp_amount',
      'signature',
      'slot',
      'created_at',
    ],
    u64: ['token_a_amount', 'token_b_amount', 'lp_amount'],
    json: [],
  },
  governances: {
    all: [
      'id',
      'pubkey',
      'authority',
      'governance_token_mint',
      'treasury',
      'proposal_count',
      'voting_period',
      'proposal_threshold',
      'quorum_votes',
      'execution_delay',
      'created_at',
      'updated_at',
    ],
    u64: ['proposal_threshold', 'quorum_votes'],
    json: [],
  },
  proposals: {
    all: [
      'id',
      'pubkey',
      'governance_pubkey',
      'proposal_id',
      'proposer',
      'title',
      'description_uri',
      'votes_for',
      'votes_against',
      'state',
      'voting_starts_at',
      'voting_ends_at',
      'execution_time',
      'created_slot',
      'created_at',
      'updated_at',
    ],
    u64: ['votes_for', 'votes_against'],
    json: [],
  },
  votes: {
    all: ['id', 'pubkey', 'proposal_pubkey', 'voter', 'support', 'vote_weight', 'signature', 'slot', 'created_at'],
    u64: ['vote_weight'],
    json: [],
  },
  executions: {
    all: ['id', 'proposal_pubkey', 'executor', 'signature', 'slot', 'success', 'error_message', 'created_at'],
    u64: [],
    json: [],
  },
};

/** NOTIFY channel the gateways LISTEN on. */
export const CHANNEL = 'solstream_changes';
/** Advisory lock key that orders commits of captured changes (an arbitrary, documented constant). */
export const ORDER_LOCK_KEY = 7_305_511_640_275_001;
/** NOTIFY payloads must stay under 8000 bytes; a larger change is announced without its row. */
const MAX_INLINE_PAYLOAD = 7800;

const POSTGRES_UP = `
CREATE SEQUENCE solstream_change_cursor;

CREATE TABLE solstream_change_log (
    cursor BIGINT PRIMARY KEY,
    topic TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    row JSONB NOT NULL,
    -- the row before an UPDATE, so a subscriber learns when a row stops (or starts) matching its filter
    old_row JSONB,
    committed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX solstream_change_log_topic ON solstream_change_log (topic, cursor);
CREATE INDEX solstream_change_log_committed_at ON solstream_change_log (committed_at);

-- Cursors at or below pruned_through have been removed by retention; resuming from one is refused.
CREATE TABLE solstream_change_log_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pruned_through BIGINT NOT NULL DEFAULT 0
);
INSERT INTO solstream_change_log_state (id, pruned_through) VALUES (1, 0);

CREATE FUNCTION solstream_capture() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    image jsonb;
    old_image jsonb;
    col text;
    next_cursor bigint;
    stamp timestamptz := clock_timestamp();
    op text := lower(TG_OP);
    payload text;
BEGIN
    PERFORM pg_advisory_xact_lock(${ORDER_LOCK_KEY});
    IF TG_OP = 'DELETE' THEN image := to_jsonb(OLD); ELSE image := to_jsonb(NEW); END IF;
    IF TG_OP = 'UPDATE' THEN old_image := to_jsonb(OLD); END IF;
    -- u64 amounts as strings: JSON numbers above 2^53 do not survive a JavaScript reader.
    FOR i IN 0 .. TG_NARGS - 1 LOOP
        col := TG_ARGV[i];
        IF jsonb_typeof(image -> col) = 'number' THEN
            image := jsonb_set(image, ARRAY[col], to_jsonb(image ->> col));
        END IF;
        IF jsonb_typeof(old_image -> col) = 'number' THEN
            old_image := jsonb_set(old_image, ARRAY[col], to_jsonb(old_image ->> col));
        END IF;
    END LOOP;
    next_cursor := nextval('solstream_change_cursor');
    INSERT INTO solstream_change_log (cursor, topic, op, row, old_row, committed_at)
        VALUES (next_cursor, TG_TABLE_NAME, op, image, old_image, stamp);
    payload := json_build_object('c', next_cursor::text, 't', TG_TABLE_NAME, 'o', op,
        'ts', floor(extract(epoch FROM stamp) * 1000)::bigint, 'r', image, 'p', old_image)::text;
    IF octet_length(payload) > ${MAX_INLINE_PAYLOAD} THEN
        payload := json_build_object('c', next_cursor::text, 't', TG_TABLE_NAME, 'o', op,
            'ts', floor(extract(epoch FROM stamp) * 1000)::bigint)::text;
    END IF;
    PERFORM pg_notify('${CHANNEL}', payload);
    RETURN NULL;
END;
$fn$;
`;

export function postgresTriggers(): string[] {
  return Object.entries(COLUMNS).map(
    ([table, { u64 }]) =>
      `CREATE CONSTRAINT TRIGGER solstream_capture_${table} AFTER INSERT OR UPDATE OR DELETE ON ${table} ` +
      `DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION solstream_capture(${u64.map((c) => `'${c}'`).join(', ')})`,
  );
}

const SQLITE_UP = `
CREATE TABLE solstream_change_log (
    cursor INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    row TEXT NOT NULL,
    old_row TEXT,
    committed_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
);
CREATE INDEX solstream_change_log_topic ON solstream_change_log (topic, cursor);
CREATE INDEX solstream_change_log_committed_at ON solstream_change_log (committed_at);
CREATE TABLE solstream_change_log_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pruned_through INTEGER NOT NULL DEFAULT 0
);
INSERT INTO solstream_change_log_state (id, pruned_through) VALUES (1, 0);
`;

export function sqliteTriggers(): string[] {
  const out: string[] = [];
  for (const [table, { all, json }] of Object.entries(COLUMNS)) {
    for (const [event, image] of [
      ['INSERT', 'NEW'],
      ['UPDATE', 'NEW'],
      ['DELETE', 'OLD'],
    ] as const) {
      const fields = (ref: string) =>
        all.map((c) => `'${c}', ${json.includes(c) ? `json(${ref}.${c})` : `${ref}.${c}`}`).join(', ');
      const old = event === 'UPDATE' ? `json_object(${fields('OLD')})` : 'NULL';
      out.push(
        `CREATE TRIGGER solstream_capture_${table}_${event.toLowerCase()} AFTER ${event} ON ${table} BEGIN ` +
          `INSERT INTO solstream_change_log (topic, op, row, old_row) VALUES ('${table}', '${event.toLowerCase()}', json_object(${fields(image)}), ${old}); END`,
      );
    }
  }
  return out;
}

function statements(sql: string): string[] {
  // The PL/pgSQL body contains semicolons, so statements are split on blank lines instead.
  return sql
    .split(/\n\s*\n/)
    .flatMap((block) => (block.includes('$fn$') ? [block] : block.split(/;\s*\n/)))
    .map((s) => s.trim().replace(/;$/, ''))
    .filter((s) => s !== '' && !/^--[^\n]*$/.test(s));
}

export const up: Migration = async ({ context: { sequelize, dialect } }) => {
  const all =
    dialect === 'postgres'
      ? [...statements(POSTGRES_UP), ...postgresTriggers()]
      : [...statements(SQLITE_UP), ...sqliteTriggers()];
  await sequelize.transaction(async (transaction) => {
    for (const statement of all) await sequelize.query(statement, { transaction });
  });
};

export const down: Migration = async ({ context: { sequelize, dialect } }) => {
  await sequelize.transaction(async (transaction) => {
    for (const table of Object.keys(COLUMNS)) {
      if (dialect === 'postgres') {
        await sequelize.query(`DROP TRIGGER IF EXISTS solstream_capture_${table} ON ${table}`, { transaction });
      } else {
        for (const event of ['insert', 'update', 'delete']) {
          await sequelize.query(`DROP TRIGGER IF EXISTS solstream_capture_${table}_${event}`, { transaction });
        }
      }
    }
    await sequelize.query('DROP TABLE IF EXISTS solstream_change_log_state', { transaction });
    await sequelize.query('DROP TABLE IF EXISTS solstream_change_log', { transaction });
    if (dialect === 'postgres') {
      await sequelize.query('DROP FUNCTION IF EXISTS solstream_capture()', { transaction });
      await sequelize.query('DROP SEQUENCE IF EXISTS solstream_change_cursor', { transaction });
    }
  });
};
