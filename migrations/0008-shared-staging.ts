// Capture's staging moves from temporary tables to shared unlogged ones (PostgreSQL only).
//
// 0007 staged a transaction's changes in temporary tables of its session, emptied at every commit
// (ON COMMIT DELETE ROWS) and by a TRUNCATE in the commit step. Emptying a temporary table is not
// free: the TRUNCATE gives the table a new file and rewrites its pg_class row, and ON COMMIT
// DELETE ROWS truncates both tables and rebuilds the mark table's index at every commit that
// touched them. A transaction of one row paid ~1.5–3 ms of PostgreSQL CPU for it (0.5–0.8 ms
// with capture off): cheap per row for the ingester's batches, ruinous for anyone writing a row
// at a time, and it was the bulk of the database's CPU in the gateway benchmarks.
//
// Now every session stages into two UNLOGGED tables shared by all sessions, keyed by the
// transaction's id: no WAL, no files made or truncated per commit. The statement triggers insert
// the statement's rows (as in 0007) and mark the transaction once; the mark's deferred constraint
// trigger runs the commit step, which takes the ordering lock, reserves the transaction's range of
// cursors, moves its staged rows into the log (deleting them: autovacuum reclaims the space) and
// sends one NOTIFY. Cursors are still drawn at commit under the lock, in the order the rows were
// written. A transaction rolled back (or a subtransaction) takes its staged rows with it; a crash
// empties unlogged tables, and staged rows never outlive their transaction anyway.
import { postgresStatements } from '../src/db/migrator.ts';
import { COLUMNS, ORDER_LOCK_KEY } from './0002-change-capture.ts';
import {
  COMMIT_FUNCTION,
  image,
  NOTIFY_TRANSACTION,
  postgresCaptureFunctions,
  slotOf,
} from './0007-statement-capture.ts';

/** SQLite captures with row triggers straight into the log (0007): nothing is staged there. */
export const dialects = ['postgres'] as const;

const OPS = ['insert', 'update', 'delete'] as const;

const COMMIT_STEP = `CREATE OR REPLACE FUNCTION solstream_capture_commit() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    me bigint := txid_current();
    n integer;
    first_cursor bigint;
    stamp timestamptz := clock_timestamp();
    payload text;
BEGIN
    PERFORM pg_advisory_xact_lock(${ORDER_LOCK_KEY});
    -- The mark goes: a later statement of this transaction (after SET CONSTRAINTS ALL IMMEDIATE)
    -- marks again and runs this step again for what it stages.
    DELETE FROM solstream_change_marks WHERE xid = me;
    SELECT count(*) INTO n FROM solstream_change_staged WHERE xid = me;
    IF n = 0 THEN RETURN NULL; END IF;
    -- One range of cursors for the transaction, drawn under the lock: no other capture draws meanwhile.
    first_cursor := nextval('solstream_change_cursor');
    IF n > 1 THEN PERFORM setval('solstream_change_cursor', first_cursor + n - 1); END IF;
    WITH moved AS (
        DELETE FROM solstream_change_staged WHERE xid = me RETURNING seq, topic, op, row, old_row, slot
    )
    INSERT INTO solstream_change_log (cursor, topic, op, row, old_row, committed_at, slot)
    -- Other sessions stage meanwhile, so a transaction's seqs are ordered but not consecutive.
    SELECT first_cursor + row_number() OVER (ORDER BY seq) - 1, topic, op, row, old_row, stamp, slot FROM moved;
${NOTIFY_TRANSACTION}    RETURN NULL;
END;
$fn$`;

function stagingFunctions(): string[] {
  const out: string[] = [];
  const mark = 'INSERT INTO solstream_change_marks VALUES (txid_current()) ON CONFLICT DO NOTHING;';
  for (const table of Object.keys(COLUMNS)) {
    const body = {
      insert: `INSERT INTO solstream_change_staged (xid, topic, op, row, slot)
        SELECT txid_current(), '${table}', 'insert', ${image(table, 'n')}, ${slotOf(table, 'n')} FROM solstream_new n ORDER BY n.id;`,
      update: `INSERT INTO solstream_change_staged (xid, topic, op, row, old_row, slot)
        SELECT txid_current(), '${table}', 'update', ${image(table, 'n')}, ${image(table, 'o')}, ${slotOf(table, 'n')}
        FROM solstream_new n JOIN solstream_old o ON o.id = n.id ORDER BY n.id;`,
      delete: `INSERT INTO solstream_change_staged (xid, topic, op, row, slot)
        SELECT txid_current(), '${table}', 'delete', ${image(table, 'o')}, ${slotOf(table, 'o')} FROM solstream_old o ORDER BY o.id;`,
    };
    for (const op of OPS) {
      // The triggers of 0007 stay; only the functions they run change.
      out.push(
        `CREATE OR REPLACE FUNCTION solstream_capture_${table}_${op}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    ${body[op]}
    IF FOUND THEN ${mark} END IF;
    RETURN NULL;
END;
$fn$`,
      );
    }
  }
  return out;
}

export const POSTGRES_UP = [
  `CREATE UNLOGGED TABLE solstream_change_staged (
      xid BIGINT NOT NULL,
      seq BIGINT GENERATED ALWAYS AS IDENTITY,
      topic TEXT NOT NULL,
      op TEXT NOT NULL,
      row JSON NOT NULL,
      old_row JSON,
      slot BIGINT
  )`,
  'CREATE INDEX solstream_change_staged_xid ON solstream_change_staged (xid)',
  'CREATE UNLOGGED TABLE solstream_change_marks (xid BIGINT PRIMARY KEY)',
  // The deferred step must exist before the trigger that runs it.
  COMMIT_STEP,
  `CREATE CONSTRAINT TRIGGER solstream_capture_commit AFTER INSERT ON solstream_change_marks
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION solstream_capture_commit()`,
  ...stagingFunctions(),
];

/** 0007's functions again: the per-table ones (its CREATE FUNCTION statements, not its triggers) and its commit step. */
function postgresDown(): string[] {
  const functions0007 = postgresCaptureFunctions()
    .filter((statement) => statement.startsWith('CREATE FUNCTION'))
    .map((statement) => statement.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'));
  return [
    ...functions0007,
    COMMIT_FUNCTION.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'),
    'DROP TABLE solstream_change_marks',
    'DROP TABLE solstream_change_staged',
  ];
}

export const up = postgresStatements(() => POSTGRES_UP);

export const down = postgresStatements(() => postgresDown());
