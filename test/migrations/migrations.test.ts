import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import type { Database } from '../../src/db/connection.ts';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createMigrator,
  migrateDown,
  migrateUp,
  MIGRATIONS_DIR,
  MIGRATIONS_TABLE,
  type MigrationModule,
} from '../../src/db/migrator.ts';
import { readChanges } from '../../src/capture/change-log.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/database.ts';
import { pubkey } from '../support/keys.ts';

/** Every schema object the database holds, as sorted descriptive lines (the migrations table excluded). */
async function schemaObjects(db: Database): Promise<string[]> {
  const lines = async (sql: string): Promise<string[]> =>
    (await db.sequelize.query<{ line: string }>(sql, { type: QueryTypes.SELECT })).map((r) => r.line);
  if (db.dialect === 'sqlite') {
    // sqlite_sequence is SQLite's own bookkeeping for AUTOINCREMENT; it outlives the tables by design.
    return (
      await lines(
        `SELECT type || ' ' || name || ' ' || COALESCE(sql, '') AS line FROM sqlite_master ` +
          `WHERE name NOT LIKE 'sqlite_%' AND tbl_name <> '${MIGRATIONS_TABLE}' ORDER BY type, name`,
      )
    ).sort();
  }
  const all = [
    ...(await lines(
      `SELECT 'relation ' || c.relkind::text || ' ' || c.relname AS line FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ` +
        `WHERE n.nspname = 'public' AND c.relname NOT LIKE '${MIGRATIONS_TABLE}%'`,
    )),
    ...(await lines(
      `SELECT 'column ' || c.table_name || '.' || c.column_name || ' ' || c.data_type || ' ' || COALESCE(c.domain_name, '') || ' ' || ` +
        `c.is_nullable || ' ' || COALESCE(c.column_default, '') AS line FROM information_schema.columns c ` +
        `WHERE c.table_schema = 'public' AND c.table_name <> '${MIGRATIONS_TABLE}'`,
    )),
    ...(await lines(
      `SELECT 'index ' || indexname || ' ' || indexdef AS line FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '${MIGRATIONS_TABLE}'`,
    )),
    ...(await lines(
      `SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS line FROM pg_constraint ` +
        `WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> '${MIGRATIONS_TABLE}'`,
    )),
    // Enums and domains; composite and array types that belong to tables go with their tables.
    ...(await lines(
      `SELECT 'type ' || t.typtype::text || ' ' || t.typname || ' ' || COALESCE((SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '') AS line ` +
        `FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd')`,
    )),
    ...(await lines(
      `SELECT 'function ' || p.proname AS line FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace`,
    )),
    ...(await lines(
      `SELECT 'trigger ' || tgrelid::regclass::text || ' ' || tgname || ' ' || pg_get_triggerdef(oid) AS line FROM pg_trigger WHERE NOT tgisinternal`,
    )),
  ];
  return all.sort();
}

async function appliedMigrations(db: Database): Promise<string[]> {
  return (await createMigrator(db).executed()).map((m) => m.name);
}

for (const dialect of DIALECTS) {
  describe(`migrations (${dialect})`, function () {
    this.timeout(120_000);
    let test: TestDatabase;

    beforeEach(async () => {
      test = await createTestDatabase(dialect, { migrate: false });
    });
    afterEach(async () => {
      await test.drop();
    });

    it('migrates up, down to zero leaving only the migrations table, and up again to the same schema', async () => {
      const names = await migrateUp(test.db);
      expect(names).to.include.members(['0001-seed-schema', '0002-change-capture', '0004-natural-key-indexes']);
      const migrated = await schemaObjects(test.db);
      expect(migrated.some((l) => /\bescrows\b/.test(l))).to.equal(true);
      expect(migrated.some((l) => /solstream_change_log\b/.test(l))).to.equal(true);

      const reverted = await migrateDown(test.db, 0);
      expect(reverted).to.deep.equal([...names].reverse());
      expect(await schemaObjects(test.db), 'objects left after reverting every migration').to.deep.equal([]);
      expect(await appliedMigrations(test.db)).to.deep.equal([]);
      if (dialect === 'sqlite') {
        const tables = await test.db.sequelize.query<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
          { type: QueryTypes.SELECT },
        );
        expect(tables.map((t) => t.name)).to.deep.equal([MIGRATIONS_TABLE]);
      } else {
        const tables = await test.db.sequelize.query<{ name: string }>(
          "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'",
          { type: QueryTypes.SELECT },
        );
        expect(tables.map((t) => t.name)).to.deep.equal([MIGRATIONS_TABLE]);
      }

      expect(await migrateUp(test.db)).to.deep.equal(names);
      expect(await schemaObjects(test.db)).to.deep.equal(migrated);
    });

    it("each migration's down exactly undoes its up, and its up can be applied again", async () => {
      const pending = (await createMigrator(test.db).pending()).map((m) => m.name);
      expect(pending.length).to.be.greaterThan(2);
      // The schema after each prefix of the migrations.
      const after: string[][] = [await schemaObjects(test.db)];
      for (const name of pending) {
        expect(await migrateUp(test.db, name)).to.deep.equal([name]);
        after.push(await schemaObjects(test.db));
        const module = (await import(pathToFileURL(path.join(MIGRATIONS_DIR, `${name}.ts`)).href)) as MigrationModule;
        if (module.dialects === undefined || module.dialects.includes(dialect)) {
          expect(after.at(-1), `${name} changes the schema`).to.not.deep.equal(after.at(-2));
        } else {
          expect(after.at(-1), `${name} leaves the ${dialect} schema alone`).to.deep.equal(after.at(-2));
        }
      }
      for (let i = pending.length - 1; i >= 0; i--) {
        const name = pending[i] as string;
        expect(await migrateDown(test.db)).to.deep.equal([name]);
        expect(await schemaObjects(test.db), `schema after reverting ${name}`).to.deep.equal(after[i]);
        expect(await migrateUp(test.db, name)).to.deep.equal([name]);
        expect(await schemaObjects(test.db), `schema after re-applying ${name}`).to.deep.equal(after[i + 1]);
        expect(await migrateDown(test.db)).to.deep.equal([name]);
      }
      expect(await appliedMigrations(test.db)).to.deep.equal([]);
    });

    const indexNames = async (db: Database): Promise<string[]> =>
      (
        await db.sequelize.query<{ name: string }>(
          db.dialect === 'postgres'
            ? "SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public'"
            : "SELECT name FROM sqlite_master WHERE type = 'index'",
          { type: QueryTypes.SELECT },
        )
      ).map((r) => r.name);

    it('0010 drops the eight seed indexes that repeat a unique column, keeps every other index, and lookups by key still use an index', async () => {
      await migrateUp(test.db, '0009-single-write-log');
      const before = await indexNames(test.db);
      expect(await migrateUp(test.db)).to.include('0010-duplicate-key-indexes');
      const after = await indexNames(test.db);
      const dropped = before.filter((name) => !after.includes(name)).sort();
      expect(dropped).to.deep.equal(
        [
          'idx_accounts_pubkey',
          'idx_collections_mint',
          'idx_escrows_pubkey',
          'idx_governances_pubkey',
          'idx_listings_pubkey',
          'idx_pools_pubkey',
          'idx_proposals_pubkey',
          'idx_transactions_signature',
        ].sort(),
      );
      expect(after.filter((name) => !before.includes(name))).to.deep.equal([]);
      const plan = await test.db.sequelize.query<Record<string, string>>(
        test.db.dialect === 'postgres'
          ? "EXPLAIN SELECT * FROM transactions WHERE signature = 'x'"
          : "EXPLAIN QUERY PLAN SELECT * FROM transactions WHERE signature = 'x'",
        { type: QueryTypes.SELECT },
      );
      expect(JSON.stringify(plan)).to.match(
        /Index Scan using transactions_signature_key|USING INDEX sqlite_autoindex_transactions/,
      );
    });
  });
}

describe('migrations on a database with rows, or changed by its owner (postgres)', function () {
  this.timeout(120_000);
  let test: TestDatabase;

  beforeEach(async () => {
    test = await createTestDatabase('postgres', { migrate: false });
  });
  afterEach(async () => {
    await test.drop();
  });

  /** One transaction inserting accounts and updating the first. */
  const write = async (db: Database, keys: readonly string[]) =>
    db.sequelize.transaction(async (transaction) => {
      for (const key of keys)
        await db.sequelize.query(
          "INSERT INTO accounts (pubkey, account_type, label, lamports) VALUES ($1, 'wallet', 'kept', 1)",
          { bind: [key], transaction },
        );
      await db.sequelize.query("UPDATE accounts SET label = 'moved' WHERE pubkey = $1", {
        bind: [keys[0]],
        transaction,
      });
    });
  const logOf = async (db: Database) =>
    db.sequelize.query<{ cursor: string; op: string; pubkey: string; old_label: string | null }>(
      "SELECT cursor::text AS cursor, op, row->>'pubkey' AS pubkey, old_row->>'label' AS old_label " +
        // Qualified: the bare name would sort by the text alias.
        'FROM solstream_change_log ORDER BY solstream_change_log.cursor',
      { type: QueryTypes.SELECT },
    );

  it('0009 keeps every change under its cursor going up and coming down, and goes on numbering after them', async () => {
    await migrateUp(test.db, '0008-shared-staging');
    await write(test.db, [pubkey(), pubkey()]);
    await write(test.db, [pubkey()]);
    const before = await logOf(test.db);
    expect(before.map((c) => c.op)).to.deep.equal(['insert', 'insert', 'update', 'insert', 'update']);

    expect(await migrateUp(test.db, '0009-single-write-log')).to.deep.equal(['0009-single-write-log']);
    expect(await logOf(test.db), 'the log as the view shows it').to.deep.equal(before);
    const read = await readChanges(test.db, { after: '0', limit: 100 });
    expect(read.map((c) => [c.cursor, c.op, c.row.pubkey])).to.deep.equal(
      before.map((c) => [c.cursor, c.op, c.pubkey]),
    );
    await write(test.db, [pubkey(), pubkey()]);
    const up = await logOf(test.db);
    expect(up.slice(0, before.length)).to.deep.equal(before);
    expect(up.slice(before.length).map((c) => BigInt(c.cursor))).to.deep.equal(
      [1n, 2n, 3n].map((i) => BigInt(before.at(-1)?.cursor as string) + i),
    );

    expect(await migrateDown(test.db)).to.deep.equal(['0009-single-write-log']);
    expect(await logOf(test.db), 'the log table 0008 reads').to.deep.equal(up);
    await write(test.db, [pubkey()]);
    const down = await logOf(test.db);
    expect(down.slice(0, up.length)).to.deep.equal(up);
    expect(down.length).to.equal(up.length + 2);
    expect(BigInt(down.at(-2)?.cursor as string) > BigInt(up.at(-1)?.cursor as string)).to.equal(true);
  });

  it('0010 keeps the index of a column that is no longer unique', async () => {
    await migrateUp(test.db, '0009-single-write-log');
    await test.db.sequelize.query('ALTER TABLE accounts DROP CONSTRAINT accounts_pubkey_key');
    await migrateUp(test.db);
    const names = (
      await test.db.sequelize.query<{ name: string }>(
        "SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public' AND indexname IN ('idx_accounts_pubkey', 'idx_pools_pubkey')",
        { type: QueryTypes.SELECT },
      )
    ).map((r) => r.name);
    expect(names).to.deep.equal(['idx_accounts_pubkey']);
  });
});
