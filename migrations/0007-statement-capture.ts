// Change capture at a fraction of the cost, with the same guarantees, and the chain slot of every
// change.
//
// PostgreSQL. Migration 0002 captured row by row: a deferred constraint trigger per changed row
// that, at commit, took the ordering lock, built the row's JSON, drew a cursor, inserted it into
// the log and sent a NOTIFY — 28–39 µs a row, more than the write itself. Now:
// - a statement-level trigger per table and operation copies the statement's rows, set-based from
//   its transition tables (the row before an update joined in by id), into a temporary staging
//   table of the session (emptied at every commit, no WAL), and marks the transaction;
// - one deferred constraint trigger per transaction (on the mark) runs at commit: it takes the
//   same ordering lock, reserves one range of cursors, moves the staged rows into the log in the
//   order they were written, and sends one NOTIFY for the whole transaction: its changes when they
//   are few and small, else only its cursor range (listeners read the range from the log).
// Cursors are still drawn at commit under the lock, so they follow commit order and every snapshot
// sees a prefix of the log, as before. Staged rows never outlive their transaction, so a crash
// loses nothing that was committed. (A transaction that touched temporary tables cannot be
// prepared for two-phase commit: writers of streamed tables cannot use PREPARE TRANSACTION.)
//
// Both dialects: the log records the chain slot of each change (`slot`): a row's own `slot` column
// where the table has one, else the slot the ingester last wrote the row at, which it keeps in
// solstream_state_positions.slot (null for rows other writers wrote).
import type { Migration } from '../src/db/migrator.ts';
import { CHANNEL, COLUMNS, ORDER_LOCK_KEY, postgresTriggers, sqliteTriggers } from './0002-change-capture.ts';

/** Changes a transaction may carry whole in its NOTIFY; past this (or 7,800 bytes) it sends its cursor range. */
export const INLINE_CHANGES = 16;
export const MAX_INLINE_PAYLOAD = 7800;

/** The state tables, keyed by account (collections by mint): their slot comes from solstream_state_positions. */
const ACCOUNT_KEY: Record<string, string> = { collections: 'mint' };
const hasSlot = (table: string) => COLUMNS[table]?.all.includes('slot') === true;
const accountKey = (table: string) => ACCOUNT_KEY[table] ?? 'pubkey';

/**
 * The row image as JSON text, u64 columns as strings (JSON numbers above 2^53 do not survive a
 * JavaScript reader): row_to_json over the columns, which costs half of building JSONB.
 */
export function image(table: string, alias: string): string {
  const { all = [], u64 = [] } = COLUMNS[table] ?? {};
  const columns = all.map((c) => (u64.includes(c) ? `${alias}.${c}::text AS ${c}` : `${alias}.${c}`));
  return `(SELECT row_to_json(r) FROM (SELECT ${columns.join(', ')}) r)`;
}

export function slotOf(table: string, alias: string): string {
  if (hasSlot(table)) return `${alias}.slot`;
  return `(SELECT p.slot FROM solstream_state_positions p WHERE p.topic = '${table}' AND p.pubkey = ${alias}.${accountKey(table)})`;
}

/**
 * A transaction's staged changes live in temporary tables of its session, emptied at every commit
 * (`ON COMMIT DELETE ROWS`): nothing to delete, no WAL, invisible to other sessions. Each capture
 * function makes sure they exist (once per session).
 */
const ENSURE_STAGING = `
    IF to_regclass('pg_temp.solstream_change_pending') IS NULL THEN
        CREATE TEMPORARY TABLE solstream_change_pending (
            seq BIGINT GENERATED ALWAYS AS IDENTITY,
            topic TEXT NOT NULL,
            op TEXT NOT NULL,
            row JSON NOT NULL,
            old_row JSON,
            slot BIGINT
        ) ON COMMIT DELETE ROWS;
        CREATE TEMPORARY TABLE solstream_change_mark (one BOOLEAN PRIMARY KEY) ON COMMIT DELETE ROWS;
        CREATE CONSTRAINT TRIGGER solstream_capture_commit AFTER INSERT ON pg_temp.solstream_change_mark
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.solstream_capture_commit();
    END IF;`;

/** Sends `payload`, or the transaction's cursor range alone when it has none or it is too large. */
export const SEND_NOTIFY = `    IF payload IS NULL OR octet_length(payload) > ${MAX_INLINE_PAYLOAD} THEN
        payload := json_build_object('v', 2, 'f', first_cursor::text, 'l', (first_cursor + n - 1)::text,
            'ts', floor(extract(epoch FROM stamp) * 1000)::bigint)::text;
    END IF;
    PERFORM pg_notify('${CHANNEL}', payload);
`;

/**
 * The commit step's NOTIFY, once per transaction: its changes (read back from the log by cursor)
 * when few and small, else its cursor range. Needs `n`, `first_cursor`, `stamp` and `payload`.
 */
export const NOTIFY_TRANSACTION = `    IF n <= ${INLINE_CHANGES} THEN
        SELECT json_build_object('v', 2, 'f', first_cursor::text, 'l', (first_cursor + n - 1)::text,
            'ts', floor(extract(epoch FROM stamp) * 1000)::bigint,
            'ch', json_agg(json_build_object('c', cursor::text, 't', topic, 'o', op, 'r', row, 'p', old_row, 's', slot)
                ORDER BY cursor))::text
        INTO payload FROM solstream_change_log WHERE cursor BETWEEN first_cursor AND first_cursor + n - 1;
    END IF;
${SEND_NOTIFY}`;

/** The deferred step of 0007, once per transaction at commit (0008 replaces it; its down restores this). */
export const COMMIT_FUNCTION = `CREATE FUNCTION solstream_capture_commit() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    n integer;
    first_seq bigint;
    first_cursor bigint;
    stamp timestamptz := clock_timestamp();
    payload text;
BEGIN
    PERFORM pg_advisory_xact_lock(${ORDER_LOCK_KEY});
    SELECT count(*), min(seq) INTO n, first_seq FROM pg_temp.solstream_change_pending;
    IF n = 0 THEN RETURN NULL; END IF;
    -- One range of cursors for the transaction, drawn under the lock: no other capture draws meanwhile.
    first_cursor := nextval('solstream_change_cursor');
    IF n > 1 THEN PERFORM setval('solstream_change_cursor', first_cursor + n - 1); END IF;
    INSERT INTO solstream_change_log (cursor, topic, op, row, old_row, committed_at, slot)
    -- The staged rows of one transaction have consecutive identities, in the order they were written.
    SELECT first_cursor + seq - first_seq, topic, op, row, old_row, stamp, slot FROM pg_temp.solstream_change_pending;
    -- The staged rows are moved: a later statement of this transaction (after SET CONSTRAINTS
    -- ALL IMMEDIATE) stages afresh and marks again.
    TRUNCATE pg_temp.solstream_change_pending;
    DELETE FROM pg_temp.solstream_change_mark;
${NOTIFY_TRANSACTION}    RETURN NULL;
END;
$fn$`;

const POSTGRES_UP = [
  'ALTER TABLE solstream_change_log ADD COLUMN slot BIGINT',
  // JSON text: written once, read back as text; JSONB's binary form only cost time on both sides.
  'ALTER TABLE solstream_change_log ALTER COLUMN row TYPE JSON USING row::json',
  'ALTER TABLE solstream_change_log ALTER COLUMN old_row TYPE JSON USING old_row::json',
  // Pruning finds its cutoff by commit time, which grows with the cursor: a BRIN index is enough
  // and costs next to nothing per insert, where the B-tree cost one more index entry per change.
  'DROP INDEX solstream_change_log_committed_at',
  'CREATE INDEX solstream_change_log_committed_at ON solstream_change_log USING BRIN (committed_at)',
  COMMIT_FUNCTION,
];

export function postgresCaptureFunctions(): string[] {
  const out: string[] = [];
  const mark = 'INSERT INTO pg_temp.solstream_change_mark VALUES (true) ON CONFLICT DO NOTHING;';
  for (const table of Object.keys(COLUMNS)) {
    const body = {
      insert: `INSERT INTO pg_temp.solstream_change_pending (topic, op, row, slot)
        SELECT '${table}', 'insert', ${image(table, 'n')}, ${slotOf(table, 'n')} FROM solstream_new n ORDER BY n.id;`,
      update: `INSERT INTO pg_temp.solstream_change_pending (topic, op, row, old_row, slot)
        SELECT '${table}', 'update', ${image(table, 'n')}, ${image(table, 'o')}, ${slotOf(table, 'n')}
        FROM solstream_new n JOIN solstream_old o ON o.id = n.id ORDER BY n.id;`,
      delete: `INSERT INTO pg_temp.solstream_change_pending (topic, op, row, slot)
        SELECT '${table}', 'delete', ${image(table, 'o')}, ${slotOf(table, 'o')} FROM solstream_old o ORDER BY o.id;`,
    };
    for (const [op, statement] of Object.entries(body)) {
      out.push(
        `CREATE FUNCTION solstream_capture_${table}_${op}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN${ENSURE_STAGING}
    ${statement}
    IF FOUND THEN ${mark} END IF;
    RETURN NULL;
END;
$fn$`,
      );
      const transition =
        op === 'insert'
          ? 'REFERENCING NEW TABLE AS solstream_new'
          : op === 'update'
            ? 'REFERENCING OLD TABLE AS solstream_old NEW TABLE AS solstream_new'
            : 'REFERENCING OLD TABLE AS solstream_old';
      out.push(
        `CREATE TRIGGER solstream_capture_${table}_${op} AFTER ${op.toUpperCase()} ON ${table} ${transition} ` +
          `FOR EACH STATEMENT EXECUTE FUNCTION solstream_capture_${table}_${op}()`,
      );
    }
  }
  return out;
}

/** SQLite: the row triggers of 0002, recording the slot too. */
function sqliteSlotTriggers(): string[] {
  const out: string[] = [];
  for (const [table, { all, json }] of Object.entries(COLUMNS)) {
    for (const [event, ref] of [
      ['INSERT', 'NEW'],
      ['UPDATE', 'NEW'],
      ['DELETE', 'OLD'],
    ] as const) {
      const fields = (r: string) =>
        all.map((c) => `'${c}', ${json.includes(c) ? `json(${r}.${c})` : `${r}.${c}`}`).join(', ');
      const old = event === 'UPDATE' ? `json_object(${fields('OLD')})` : 'NULL';
      out.push(
        `CREATE TRIGGER solstream_capture_${table}_${event.toLowerCase()} AFTER ${event} ON ${table} BEGIN ` +
          `INSERT INTO solstream_change_log (topic, op, row, old_row, slot) VALUES ('${table}', '${event.toLowerCase()}', ` +
          `json_object(${fields(ref)}), ${old}, ${slotOf(table, ref)}); END`,
      );
    }
  }
  return out;
}

const dropSqliteTriggers = () =>
  Object.keys(COLUMNS).flatMap((table) =>
    ['insert', 'update', 'delete'].map((event) => `DROP TRIGGER IF EXISTS solstream_capture_${table}_${event}`),
  );

export const up: Migration = async ({ context: { sequelize, dialect } }) => {
  const statements =
    dialect === 'postgres'
      ? [
          ...Object.keys(COLUMNS).map((table) => `DROP TRIGGER solstream_capture_${table} ON ${table}`),
          'ALTER TABLE solstream_state_positions ADD COLUMN slot BIGINT',
          ...POSTGRES_UP,
          ...postgresCaptureFunctions(),
        ]
      : [
          ...dropSqliteTriggers(),
          'ALTER TABLE solstream_state_positions ADD COLUMN slot BIGINT',
          'ALTER TABLE solstream_change_log ADD COLUMN slot BIGINT',
          ...sqliteSlotTriggers(),
        ];
  await sequelize.transaction(async (transaction) => {
    for (const statement of statements) await sequelize.query(statement, { transaction });
  });
};

export const down: Migration = async ({ context: { sequelize, dialect } }) => {
  const statements =
    dialect === 'postgres'
      ? [
          ...Object.keys(COLUMNS).flatMap((table) =>
            ['insert', 'update', 'delete'].flatMap((op) => [
              `DROP TRIGGER IF EXISTS solstream_capture_${table}_${op} ON ${table}`,
              `DROP FUNCTION IF EXISTS solstream_capture_${table}_${op}()`,
            ]),
          ),
          'DROP FUNCTION IF EXISTS solstream_capture_commit() CASCADE',
          'ALTER TABLE solstream_change_log DROP COLUMN slot',
          'ALTER TABLE solstream_change_log ALTER COLUMN row TYPE JSONB USING row::jsonb',
          'ALTER TABLE solstream_change_log ALTER COLUMN old_row TYPE JSONB USING old_row::jsonb',
          'DROP INDEX solstream_change_log_committed_at',
          'CREATE INDEX solstream_change_log_committed_at ON solstream_change_log (committed_at)',
          'ALTER TABLE solstream_state_positions DROP COLUMN slot',
          ...postgresTriggers(),
        ]
      : [
          ...dropSqliteTriggers(),
          'ALTER TABLE solstream_change_log DROP COLUMN slot',
          'ALTER TABLE solstream_state_positions DROP COLUMN slot',
          ...sqliteTriggers(),
        ];
  await sequelize.transaction(async (transaction) => {
    for (const statement of statements) await sequelize.query(statement, { transaction });
  });
};
