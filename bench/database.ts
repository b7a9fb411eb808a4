// A scratch PostgreSQL database per benchmark run, created on the admin connection and dropped
// afterwards (even with connections still open to it).
import crypto from 'node:crypto';
import pg from 'pg';

export interface ScratchDatabase {
  /** Its name, for reading its backends' CPU (cpu.ts). */
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

export const DEFAULT_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function createScratchDatabase(adminUrl: string = DEFAULT_ADMIN_URL): Promise<ScratchDatabase> {
  const name = `solstream_bench_${crypto.randomBytes(5).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
