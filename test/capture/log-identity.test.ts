import crypto from 'node:crypto';
import { expect } from 'chai';
import pg from 'pg';
import { readLogIdentity } from '../../src/capture/log-identity.ts';
import { openDatabase } from '../../src/db/connection.ts';
import { isEpoch } from '../../src/wire/cursor.ts';
import { createTestDatabase, DIALECTS, POSTGRES_ADMIN_URL } from '../support/database.ts';

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

for (const dialect of DIALECTS) {
  describe(`change log identity (${dialect})`, function () {
    this.timeout(60_000);

    it('gives a database the same epoch on every read, and another database another one', async () => {
      const [a, b] = [await createTestDatabase(dialect), await createTestDatabase(dialect)];
      try {
        const first = await readLogIdentity(a.db);
        expect(isEpoch(first.epoch)).to.equal(true);
        expect((await readLogIdentity(a.db)).epoch).to.equal(first.epoch);
        const other = await readLogIdentity(b.db);
        expect(other.logId).to.not.equal(first.logId);
        expect(other.epoch).to.not.equal(first.epoch);
      } finally {
        await a.drop();
        await b.drop();
      }
    });
  });
}

describe('change log identity after a restore (postgres)', function () {
  this.timeout(60_000);

  it('changes the epoch of a copy restored from the same data, though its log id is the same', async () => {
    const original = await createTestDatabase('postgres');
    const copyName = `solstream_test_${crypto.randomBytes(6).toString('hex')}`;
    try {
      const before = await readLogIdentity(original.db);
      await original.db.close();
      // A byte-for-byte copy of the database, as a restore into a new database makes it.
      await admin(`CREATE DATABASE ${copyName} TEMPLATE ${new URL(original.url).pathname.slice(1)}`);
      const url = new URL(original.url);
      url.pathname = `/${copyName}`;
      const copy = await openDatabase({ databaseUrl: url.toString(), dialect: 'postgres', sqlitePath: null });
      try {
        const restored = await readLogIdentity(copy);
        expect(restored.logId).to.equal(before.logId);
        expect(restored.parts.databaseOid).to.not.equal(before.parts.databaseOid);
        expect(restored.epoch).to.not.equal(before.epoch);
      } finally {
        await copy.close();
      }
    } finally {
      await admin(`DROP DATABASE IF EXISTS ${copyName} WITH (FORCE)`);
      await original.drop();
    }
  });
});
