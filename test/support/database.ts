// Fresh, migrated databases for tests: a new PostgreSQL database or a new SQLite file per call,
// so every test owns its data and suites can run in any order.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Dialect } from '../../src/config.ts';
import { openDatabase, type Database } from '../../src/db/connection.ts';
import { migrateUp } from '../../src/db/migrator.ts';

export const DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];

/** The server tests use; CI makes sure it answers (see .ci/run). */
export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  readonly db: Database;
  readonly dialect: Dialect;
  /** DATABASE_URL for another process or connection to the same database. */
  readonly url: string;
  readonly sqlitePath: string | null;
  /** Closes the connection and removes the database. */
  drop(): Promise<void>;
}

function postgresUrlFor(database: string): string {
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates an empty database (not migrated) and returns its URL. */
export async function createEmptyDatabase(
  dialect: Dialect,
): Promise<{ url: string; sqlitePath: string | null; remove(): Promise<void> }> {
  const name = `solstream_test_${crypto.randomBytes(6).toString('hex')}`;
  if (dialect === 'postgres') {
    await adminQuery(`CREATE DATABASE ${name}`);
    return {
      url: postgresUrlFor(name),
      sqlitePath: null,
      remove: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'solstream-test-'));
  const file = path.join(dir, `${name}.sqlite`);
  return {
    url: `sqlite:${file}`,
    sqlitePath: file,
    remove: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export async function createTestDatabase(dialect: Dialect, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const empty = await createEmptyDatabase(dialect);
  const db = await openDatabase({ databaseUrl: empty.url, dialect, sqlitePath: empty.sqlitePath, poolMax: 5 });
  if (options.migrate !== false) await migrateUp(db);
  return {
    db,
    dialect,
    url: empty.url,
    sqlitePath: empty.sqlitePath,
    drop: async () => {
      await db.close().catch(() => undefined);
      await empty.remove();
    },
  };
}
