// Capture writes each change once (PostgreSQL only).
//
// 0008 wrote every change three times: staged at the statement, then at commit deleted from the
// staging table and inserted into the log under its cursor. Cursors can only be drawn at commit
// (they follow commit order), so the log row could not be written before. Now the log is split
// in two, and the part written per row no longer holds the cursor:
// - solstream_change_entries, written by the statement triggers: each change under its
//   transaction's batch (a number from a sequence) and its ordinal in the transaction (`ord`,
//   0, 1, 2… in the order the rows were written);
// - solstream_change_commits, one row per transaction, written by the deferred step at commit
//   under the ordering lock: the batch, the first and last cursor of the range it reserved, and
//   the commit time, and the topics it wrote (a replay of one topic looks its transactions up there).
// A change's cursor is its batch's first cursor plus its ordinal, exactly as dense and as
// commit-ordered as before; the NOTIFY is unchanged. The view solstream_change_log shows both
// parts as the one table it was (the readers in src/capture/change-log.ts join them directly,
// on their indexes). Per row the database now does one insert instead of an insert, a delete and
// an insert: capture's CPU at commit falls from ~1.4× to ~1.2× of the write it records (see
// docs/benchmarks.md).
//
// The transaction's batch, the count of changes so far and its topics live in solstream_change_open (unlogged,
// one row per writing transaction, keyed by its xid, gone at its commit); inserting it queues the
// deferred step. A batch is drawn from its own sequence rather than being the xid, which a
// restore into another cluster would reuse. A savepoint rolled back takes its entries and its
// count with it; SET CONSTRAINTS ALL IMMEDIATE runs the step early and later statements open a
// new batch, as 0008's marks did.
import { postgresStatements } from '../src/db/migrator.ts';
import { COLUMNS, ORDER_LOCK_KEY } from './0002-change-capture.ts';
import { image, INLINE_CHANGES, SEND_NOTIFY, slotOf } from './0007-statement-capture.ts';
import { POSTGRES_UP as STAGING_UP } from './0008-shared-staging.ts';

export const dialects = ['postgres'] as const;

const OPS = ['insert', 'update', 'delete'] as const;

const COMMIT_STEP = `CREATE OR REPLACE FUNCTION solstream_capture_commit() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    me bigint := txid_current();
    this_batch bigint;
    n integer;
    topics text[];
    first_cursor bigint;
    stamp timestamptz := clock_timestamp();
    payload text;
BEGIN
    PERFORM pg_advisory_xact_lock(${ORDER_LOCK_KEY});
    DELETE FROM solstream_change_open o WHERE o.xid = me RETURNING o.batch, o.n, o.topics INTO this_batch, n, topics;
    IF n IS NULL OR n = 0 THEN RETURN NULL; END IF;
    -- One range of cursors for the transaction, drawn under the lock: no other capture draws meanwhile.
    first_cursor := nextval('solstream_change_cursor');
    IF n > 1 THEN PERFORM setval('solstream_change_cursor', first_cursor + n - 1); END IF;
    INSERT INTO solstream_change_commits (batch, first_cursor, last_cursor, topics, committed_at)
        VALUES (this_batch, first_cursor, first_cursor + n - 1, topics, stamp);
    IF n <= ${INLINE_CHANGES} THEN
        SELECT json_build_object('v', 2, 'f', first_cursor::text, 'l', (first_cursor + n - 1)::text,
            'ts', floor(extract(epoch FROM stamp) * 1000)::bigint,
            'ch', json_agg(json_build_object('c', (first_cursor + e.ord)::text, 't', e.topic, 'o', e.op,
                'r', e.row, 'p', e.old_row, 's', e.slot) ORDER BY e.ord))::text
        INTO payload FROM solstream_change_entries e WHERE e.batch = this_batch;
    END IF;
${SEND_NOTIFY}    RETURN NULL;
END;
$fn$`;

/** The statement's rows, ordered by id, numbered on from the transaction's count so far. */
function entries(table: string, op: (typeof OPS)[number]): string {
  const ordinal = (alias: string) => `base + (row_number() OVER (ORDER BY ${alias}.id))::integer - 1`;
  switch (op) {
    case 'insert':
      return `INSERT INTO solstream_change_entries (batch, ord, topic, op, row, slot)
        SELECT this_batch, ${ordinal('n')}, '${table}', 'insert', ${image(table, 'n')}, ${slotOf(table, 'n')}
        FROM solstream_new n;`;
    case 'update':
      return `INSERT INTO solstream_change_entries (batch, ord, topic, op, row, old_row, slot)
        SELECT this_batch, ${ordinal('n')}, '${table}', 'update', ${image(table, 'n')}, ${image(table, 'o')},
            ${slotOf(table, 'n')}
        FROM solstream_new n JOIN solstream_old o ON o.id = n.id;`;
    case 'delete':
      return `INSERT INTO solstream_change_entries (batch, ord, topic, op, row, slot)
        SELECT this_batch, ${ordinal('o')}, '${table}', 'delete', ${image(table, 'o')}, ${slotOf(table, 'o')}
        FROM solstream_old o;`;
  }
}

function captureFunctions(): string[] {
  return Object.keys(COLUMNS).flatMap((table) =>
    OPS.map(
      (op) => `CREATE OR REPLACE FUNCTION solstream_capture_${table}_${op}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    me bigint := txid_current();
    this_batch bigint;
    base integer;
    written integer;
BEGIN
    -- A statement that changed no row opens no batch.
    IF NOT EXISTS (SELECT 1 FROM ${op === 'delete' ? 'solstream_old' : 'solstream_new'}) THEN RETURN NULL; END IF;
    SELECT o.batch, o.n INTO this_batch, base FROM solstream_change_open o WHERE o.xid = me;
    IF NOT FOUND THEN
        this_batch := nextval('solstream_change_batch');
        base := 0;
        INSERT INTO solstream_change_open (xid, batch, n, topics) VALUES (me, this_batch, 0, '{}');
    END IF;
    ${entries(table, op)}
    GET DIAGNOSTICS written = ROW_COUNT;
    UPDATE solstream_change_open
        SET n = base + written, topics = CASE WHEN '${table}' = ANY(topics) THEN topics ELSE topics || '${table}'::text END
        WHERE xid = me;
    RETURN NULL;
END;
$fn$`,
    ),
  );
}

/** What every reader saw before: one row per change, with its cursor and commit time. */
const LOG_VIEW = `CREATE VIEW solstream_change_log AS
    SELECT c.first_cursor + e.ord AS cursor, e.topic, e.op, e.row, e.old_row, c.committed_at, e.slot
    FROM solstream_change_commits c JOIN solstream_change_entries e ON e.batch = c.batch`;

const POSTGRES_UP = [
  `CREATE TABLE solstream_change_entries (
      batch BIGINT NOT NULL,
      ord INTEGER NOT NULL,
      topic TEXT NOT NULL,
      op TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
      row JSON NOT NULL,
      old_row JSON,
      slot BIGINT,
      PRIMARY KEY (batch, ord)
  )`,
  `CREATE TABLE solstream_change_commits (
      batch BIGINT PRIMARY KEY,
      first_cursor BIGINT NOT NULL,
      last_cursor BIGINT NOT NULL,
      topics TEXT[] NOT NULL,
      committed_at TIMESTAMPTZ NOT NULL
  )`,
  'CREATE UNIQUE INDEX solstream_change_commits_last_cursor ON solstream_change_commits (last_cursor)',
  'CREATE INDEX solstream_change_commits_committed_at ON solstream_change_commits USING BRIN (committed_at)',
  // A replay of one topic (a resume) finds the transactions that wrote it here: an index entry per
  // transaction and topic, where one on the entries would cost one per change.
  'CREATE INDEX solstream_change_commits_topics ON solstream_change_commits USING GIN (topics)',
  // The log so far: each change its own batch, numbered by its cursor; new batches come after.
  `INSERT INTO solstream_change_entries (batch, ord, topic, op, row, old_row, slot)
      SELECT cursor, 0, topic, op, row, old_row, slot FROM solstream_change_log`,
  `INSERT INTO solstream_change_commits (batch, first_cursor, last_cursor, topics, committed_at)
      SELECT cursor, cursor, cursor, ARRAY[topic], committed_at FROM solstream_change_log`,
  'CREATE SEQUENCE solstream_change_batch',
  `SELECT setval('solstream_change_batch', max(cursor)) FROM solstream_change_log HAVING count(*) > 0`,
  // 0008's staging goes (its commit step's trigger with its marks table) and so does the table.
  'DROP TABLE solstream_change_marks',
  'DROP TABLE solstream_change_staged',
  'DROP TABLE solstream_change_log',
  LOG_VIEW,
  `CREATE UNLOGGED TABLE solstream_change_open (
      xid BIGINT PRIMARY KEY,
      batch BIGINT NOT NULL,
      n INTEGER NOT NULL,
      topics TEXT[] NOT NULL
  )`,
  COMMIT_STEP,
  `CREATE CONSTRAINT TRIGGER solstream_capture_commit AFTER INSERT ON solstream_change_open
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION solstream_capture_commit()`,
  ...captureFunctions(),
];

/** The log as 0007 left it (cursor order kept), then 0008's staging again. */
const POSTGRES_DOWN = [
  'DROP VIEW solstream_change_log',
  `CREATE TABLE solstream_change_log (
      cursor BIGINT PRIMARY KEY,
      topic TEXT NOT NULL,
      op TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
      row JSON NOT NULL,
      old_row JSON,
      committed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
      slot BIGINT
  )`,
  'CREATE INDEX solstream_change_log_topic ON solstream_change_log (topic, cursor)',
  'CREATE INDEX solstream_change_log_committed_at ON solstream_change_log USING BRIN (committed_at)',
  `INSERT INTO solstream_change_log (cursor, topic, op, row, old_row, committed_at, slot)
      SELECT c.first_cursor + e.ord, e.topic, e.op, e.row, e.old_row, c.committed_at, e.slot
      FROM solstream_change_commits c JOIN solstream_change_entries e ON e.batch = c.batch
      ORDER BY c.first_cursor, e.ord`,
  'DROP TABLE solstream_change_open',
  'DROP TABLE solstream_change_commits',
  'DROP TABLE solstream_change_entries',
  'DROP SEQUENCE solstream_change_batch',
  ...STAGING_UP,
];

export const up = postgresStatements(() => POSTGRES_UP);

export const down = postgresStatements(() => POSTGRES_DOWN);
