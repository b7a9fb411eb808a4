import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import pg from 'pg';
import { QueryTypes } from 'sequelize';
import type { Database } from '../../src/db/connection.ts';
import { TABLES, TOPICS, u64Columns, type ColumnDef } from '../../src/db/schema.ts';
import { createEmptyDatabase, createTestDatabase, DIALECTS, type TestDatabase } from '../support/database.ts';
import { DUPLICATE_KEY_INDEXES } from '../../migrations/0010-duplicate-key-indexes.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The seed schema sits beside the checkout (in CI too). */
const SEED_DIR = path.resolve(repoRoot, '../shared/seed-schema');
/** Dependency order: nothing references a table or type created by a later file. */
const SEED_FILES = ['common.sql', 'escrows.sql', 'marketplace.sql', 'amm.sql', 'governance.sql'];

/** Every schema object as key → description, so two databases compare as two maps. */
type Catalogue = Map<string, string>;

async function catalogueOf(client: pg.Client): Promise<Catalogue> {
  const out: Catalogue = new Map();
  const add = async (sql: string): Promise<void> => {
    for (const row of (await client.query<{ key: string; value: string }>(sql)).rows) {
      if (out.has(row.key)) throw new Error(`duplicate catalogue key ${row.key}`);
      out.set(row.key, row.value);
    }
  };
  await add(
    `SELECT 'table ' || table_name AS key, table_type AS value FROM information_schema.tables WHERE table_schema = 'public'`,
  );
  await add(
    `SELECT 'column ' || table_name || '.' || column_name AS key,
            concat_ws(' | ', 'type=' || data_type, 'udt=' || udt_name, 'domain=' || COALESCE(domain_name, '-'),
                      'length=' || COALESCE(character_maximum_length::text, '-'),
                      'precision=' || COALESCE(numeric_precision::text, '-') || ',' || COALESCE(numeric_scale::text, '-'),
                      'nullable=' || is_nullable, 'default=' || COALESCE(column_default, '-')) AS value
       FROM information_schema.columns WHERE table_schema = 'public'`,
  );
  // Primary keys, unique constraints, foreign keys (columns and referenced table/columns), checks.
  await add(
    `SELECT 'constraint ' || conrelid::regclass::text || '.' || conname AS key,
            contype::text || ' ' || pg_get_constraintdef(oid) ||
            COALESCE(' references ' || confrelid::regclass::text || '(' ||
              (SELECT string_agg(a.attname, ',' ORDER BY k.i) FROM unnest(confkey) WITH ORDINALITY AS k(att, i)
                 JOIN pg_attribute a ON a.attrelid = confrelid AND a.attnum = k.att) || ')', '') AS value
       FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid <> 0 AND contype IN ('p', 'u', 'f', 'c', 'x')`,
  );
  await add(
    `SELECT 'index ' || i.relname AS key,
            concat_ws(' | ', 'table=' || t.relname, 'method=' || am.amname, 'unique=' || ix.indisunique::text,
              'primary=' || ix.indisprimary::text,
              'columns=' || (SELECT string_agg(pg_get_indexdef(ix.indexrelid, k.i::int, true) ||
                                 CASE WHEN (ix.indoption[k.i - 1] & 1) = 1 THEN ' DESC' ELSE '' END, ', ' ORDER BY k.i)
                               FROM generate_series(1, ix.indnatts) AS k(i)),
              'where=' || COALESCE(pg_get_expr(ix.indpred, ix.indrelid, true), '-'),
              'def=' || pg_get_indexdef(ix.indexrelid)) AS value
       FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
       JOIN pg_am am ON am.oid = i.relam WHERE i.relnamespace = 'public'::regnamespace`,
  );
  await add(
    `SELECT 'enum ' || t.typname AS key, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) AS value
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typnamespace = 'public'::regnamespace GROUP BY t.typname`,
  );
  await add(
    `SELECT 'domain ' || t.typname AS key, format_type(t.typbasetype, t.typtypmod) || ' ' ||
            COALESCE((SELECT string_agg(pg_get_constraintdef(c.oid), ' ') FROM pg_constraint c WHERE c.contypid = t.oid), '') AS value
       FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace AND t.typtype = 'd'`,
  );
  await add(
    `SELECT 'sequence ' || sequencename AS key, data_type::text || ' owned by ' ||
            COALESCE((SELECT d.refobjid::regclass::text || '.' || a.attname FROM pg_depend d
                        JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                       WHERE d.objid = (schemaname || '.' || sequencename)::regclass AND d.deptype = 'a'), '-') AS value
       FROM pg_sequences WHERE schemaname = 'public'`,
  );
  await add(
    `SELECT 'function ' || p.oid::regprocedure::text AS key, pg_get_function_result(p.oid) AS value FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace`,
  );
  await add(
    `SELECT 'trigger ' || tgrelid::regclass::text || '.' || tgname AS key, pg_get_triggerdef(oid) AS value FROM pg_trigger WHERE NOT tgisinternal`,
  );
  await add(`SELECT 'view ' || viewname AS key, definition AS value FROM pg_views WHERE schemaname = 'public'`);
  return out;
}

/** Objects solstream adds beside the seed: its own (solstream_*) and the u64 domain. */
function isSolstreamObject(key: string): boolean {
  const [kind, name = ''] = key.split(' ');
  if (kind === 'domain') return name === 'u64';
  // Tables, indexes, sequences, functions by name; triggers and constraints by their own name.
  const own = name.includes('.') ? name.slice(name.indexOf('.') + 1) : name;
  return name.startsWith('solstream_') || own.startsWith('solstream_');
}

interface Diff {
  onlySeed: string[];
  onlyMigrated: string[];
  changed: { key: string; seed: string; migrated: string }[];
}

function diff(seed: Catalogue, migrated: Catalogue): Diff {
  const result: Diff = { onlySeed: [], onlyMigrated: [], changed: [] };
  for (const [key, value] of seed) {
    const other = migrated.get(key);
    if (other === undefined) result.onlySeed.push(`${key}: ${value}`);
    else if (other !== value) result.changed.push({ key, seed: value, migrated: other });
  }
  for (const [key, value] of migrated) if (!seed.has(key)) result.onlyMigrated.push(`${key}: ${value}`);
  return result;
}

function describeDiff(d: Diff): string {
  return [
    ...d.onlySeed.map((l) => `  only in the seed:     ${l}`),
    ...d.onlyMigrated.map((l) => `  only after migrating: ${l}`),
    ...d.changed.map((c) => `  differs: ${c.key}\n      seed:     ${c.seed}\n      migrated: ${c.migrated}`),
  ].join('\n');
}

/** The documented widening: the seed's BIGINT becomes the u64 domain (NUMERIC(20,0)); nothing else changes. */
function isU64Widening(seed: string, migrated: string): boolean {
  const widened = seed
    .replace('type=bigint | udt=int8 | domain=-', 'type=numeric | udt=numeric | domain=u64')
    .replace('precision=64,0', 'precision=20,0');
  return seed.includes('type=bigint') && widened === migrated;
}

describe('schema fidelity: the migrations create the seed schema (postgres)', function () {
  this.timeout(120_000);
  let seedDb: { url: string; remove(): Promise<void> } | undefined;
  let migrated: TestDatabase | undefined;
  let seedClient: pg.Client | undefined;
  let migratedClient: pg.Client | undefined;

  before(async () => {
    const missing = SEED_FILES.filter((f) => !fs.existsSync(path.join(SEED_DIR, f)));
    if (missing.length > 0) {
      throw new Error(
        `the seed schema is missing: expected ${missing.join(', ')} in ${SEED_DIR} (the shared/seed-schema folder beside the checkout)`,
      );
    }
    seedDb = await createEmptyDatabase('postgres');
    seedClient = new pg.Client({ connectionString: seedDb.url });
    await seedClient.connect();
    for (const file of SEED_FILES) {
      try {
        await seedClient.query(fs.readFileSync(path.join(SEED_DIR, file), 'utf8'));
      } catch (error) {
        throw new Error(`applying seed file ${file} failed: ${(error as Error).message}`, { cause: error });
      }
    }
    migrated = await createTestDatabase('postgres');
    migratedClient = new pg.Client({ connectionString: migrated.url });
    await migratedClient.connect();
  });
  after(async () => {
    await seedClient?.end();
    await migratedClient?.end();
    await seedDb?.remove();
    await migrated?.drop();
  });

  it('matches the seed in every table, column, constraint, index, enum and sequence, except the u64 widening, solstream_ objects and the second indexes of unique columns', async () => {
    const seed = await catalogueOf(seedClient as pg.Client);
    const ours = await catalogueOf(migratedClient as pg.Client);
    expect(seed.size, 'the seed catalogue was read').to.be.greaterThan(100);
    const d = diff(seed, ours);
    const widened = d.changed
      .filter((c) => isU64Widening(c.seed, c.migrated))
      .map((c) => c.key.replace(/^column /, ''));
    const dropped = new Set(DUPLICATE_KEY_INDEXES.map((i) => `index ${i.name}`));
    const unexpected: Diff = {
      onlySeed: d.onlySeed.filter((l) => !dropped.has(l.split(':')[0] as string)),
      onlyMigrated: d.onlyMigrated.filter((l) => !isSolstreamObject(l.split(':')[0] as string)),
      changed: d.changed.filter((c) => !isU64Widening(c.seed, c.migrated)),
    };
    const report = describeDiff(unexpected);
    expect(report, `the migrated schema differs from the seed:\n${report}\n`).to.equal('');

    const documented = TOPICS.flatMap((t) => u64Columns(t).map((c) => `${t}.${c}`));
    expect(widened.sort(), 'columns widened from BIGINT to u64: exactly the catalogue u64 columns').to.deep.equal(
      documented.sort(),
    );
    // The solstream objects the exemption covers really are there (so the exemption hides nothing else).
    expect(d.onlyMigrated.some((l) => l.startsWith('table solstream_change_log:'))).to.equal(true);
    expect(d.onlyMigrated.some((l) => l.startsWith('domain u64:'))).to.equal(true);
  });

  it('drops only second indexes: each one 0010 drops is a plain B-tree on a column whose unique index the schema keeps', async () => {
    const seed = await catalogueOf(seedClient as pg.Client);
    const ours = await catalogueOf(migratedClient as pg.Client);
    expect(DUPLICATE_KEY_INDEXES).to.have.length(8);
    for (const { name, table, column } of DUPLICATE_KEY_INDEXES) {
      expect(seed.get(`index ${name}`), `the seed's ${name}`).to.contain(
        `table=${table} | method=btree | unique=false | primary=false | columns=${column} | where=-`,
      );
      expect(ours.has(`index ${name}`), `${name} is gone after migrating`).to.equal(false);
      const unique = `constraint ${table}.${table}_${column}_key`;
      expect(seed.get(unique), `the seed's ${unique}`).to.equal(`u UNIQUE (${column})`);
      expect(ours.get(unique), `the migrated ${unique}`).to.equal(`u UNIQUE (${column})`);
    }
  });

  it('compares structure the seed really has: GIN, DESC, partial, unique and foreign-key details are in the catalogue', async () => {
    const seed = await catalogueOf(seedClient as pg.Client);
    expect(seed.get('index idx_transactions_accounts')).to.contain('method=gin');
    expect(seed.get('index idx_transactions_slot')).to.contain('columns=slot DESC');
    expect(seed.get('index idx_listings_price')).to.match(/where=\(?state = 'active'::listing_state\)?/);
    expect(seed.get('index idx_votes_unique')).to.contain('unique=true').and.contain('columns=proposal_pubkey, voter');
    expect(seed.get('constraint sales.sales_listing_pubkey_fkey')).to.contain('references listings(pubkey)');
    expect(seed.get('enum proposal_state')).to.equal('active,succeeded,defeated,queued,executed,cancelled');
    expect(seed.get('column accounts.lamports')).to.contain('default=0').and.contain('type=bigint');
  });

  it('detects a difference: an index dropped from the migrated database is reported', async () => {
    const client = migratedClient as pg.Client;
    await client.query('BEGIN');
    try {
      await client.query('DROP INDEX idx_listings_price');
      await client.query('ALTER TABLE accounts ALTER COLUMN label TYPE VARCHAR(200)');
      const report = describeDiff(diff(await catalogueOf(seedClient as pg.Client), await catalogueOf(client)));
      expect(report).to.contain('only in the seed:     index idx_listings_price');
      expect(report).to.contain('differs: column accounts.label');
    } finally {
      await client.query('ROLLBACK');
    }
  });
});

interface LiveColumn {
  name: string;
  nullable: boolean;
  /** PostgreSQL: domain or type name; SQLite: declared type. */
  type: string;
  maxLength: number | null;
}

async function liveColumns(db: Database, table: string): Promise<LiveColumn[]> {
  if (db.dialect === 'postgres') {
    const rows = await db.sequelize.query<{ name: string; nullable: string; type: string; max_length: number | null }>(
      `SELECT column_name AS name, is_nullable AS nullable, COALESCE(domain_name, udt_name) AS type, character_maximum_length AS max_length
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
      { bind: [table], type: QueryTypes.SELECT },
    );
    return rows.map((r) => ({ name: r.name, nullable: r.nullable === 'YES', type: r.type, maxLength: r.max_length }));
  }
  const rows = await db.sequelize.query<{ name: string; notnull: number; pk: number; type: string }>(
    `PRAGMA table_info(${table})`,
    {
      type: QueryTypes.SELECT,
    },
  );
  return rows.map((r) => {
    const varchar = /^VARCHAR\((\d+)\)$/i.exec(r.type);
    // An INTEGER PRIMARY KEY is the rowid: never null, though the pragma does not say NOT NULL.
    return {
      name: r.name,
      nullable: r.notnull === 0 && r.pk === 0,
      type: r.type,
      maxLength: varchar ? Number(varchar[1]) : null,
    };
  });
}

function expectedType(dialect: string, def: ColumnDef): string {
  const pgTypes: Record<ColumnDef['kind'], string> = {
    serial: 'int4',
    pubkey: 'varchar',
    signature: 'varchar',
    text: def.maxLength === undefined ? 'text' : 'varchar',
    u64: 'u64',
    i64: 'int8',
    int: 'int4',
    bool: 'bool',
    timestamp: 'timestamp',
    json: 'jsonb',
    enum: def.typeName ?? '?',
  };
  const sqliteTypes: Record<ColumnDef['kind'], string> = {
    serial: 'INTEGER',
    pubkey: 'VARCHAR(44)',
    signature: 'VARCHAR(88)',
    text: def.maxLength === undefined ? 'TEXT' : `VARCHAR(${def.maxLength})`,
    u64: 'TEXT',
    i64: 'BIGINT',
    int: 'INTEGER',
    bool: 'BOOLEAN',
    timestamp: 'TIMESTAMP',
    json: 'TEXT',
    enum: 'TEXT',
  };
  return dialect === 'postgres' ? pgTypes[def.kind] : sqliteTypes[def.kind];
}

for (const dialect of DIALECTS) {
  describe(`schema catalogue matches the migrated database (${dialect})`, function () {
    this.timeout(60_000);
    let test: TestDatabase;
    before(async () => {
      test = await createTestDatabase(dialect);
    });
    after(async () => {
      await test.drop();
    });

    for (const topic of TOPICS) {
      it(`${topic}: same columns, in the same order, with the same nullability, type and length`, async () => {
        const columns: Readonly<Record<string, ColumnDef>> = TABLES[topic].columns;
        const expected = Object.entries(columns).map(([name, def]) => ({
          name,
          nullable: def.nullable,
          type: expectedType(dialect, def),
          maxLength:
            def.kind === 'pubkey' || def.kind === 'signature' || def.kind === 'text' ? (def.maxLength ?? null) : null,
        }));
        expect(await liveColumns(test.db, topic)).to.deep.equal(expected);
      });
    }

    it('enum labels in the catalogue are the database enum labels, in order', async function () {
      const enums = TOPICS.flatMap((t) =>
        Object.values(TABLES[t].columns as Readonly<Record<string, ColumnDef>>).filter((d) => d.kind === 'enum'),
      );
      expect(enums.length).to.equal(3);
      for (const def of enums) {
        if (dialect === 'postgres') {
          const rows = await test.db.sequelize.query<{ label: string }>(
            'SELECT enumlabel AS label FROM pg_enum WHERE enumtypid = $1::regtype ORDER BY enumsortorder',
            { bind: [def.typeName], type: QueryTypes.SELECT },
          );
          expect(rows.map((r) => r.label)).to.deep.equal(def.labels);
        } else {
          const tables = TOPICS.filter((t) =>
            Object.values(TABLES[t].columns as Readonly<Record<string, ColumnDef>>).includes(def),
          );
          for (const table of tables) {
            const [row] = await test.db.sequelize.query<{ sql: string }>(
              'SELECT sql FROM sqlite_master WHERE name = $1',
              {
                bind: [table],
                type: QueryTypes.SELECT,
              },
            );
            expect(row?.sql).to.contain(`CHECK (state IN (${(def.labels ?? []).map((l) => `'${l}'`).join(', ')}))`);
          }
        }
      }
    });
  });
}
