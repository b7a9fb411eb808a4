import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { expect } from 'chai';
import { openDatabase, type Database } from '../../src/db/connection.ts';
import { migrateUp } from '../../src/db/migrator.ts';
import { assertLease, claimLease, databaseLock, LeaseLostError, readLease } from '../../src/db/locks.ts';
import { createEmptyDatabase, createTestDatabase, DIALECTS, type TestDatabase } from '../support/database.ts';

const HOLDER = new URL('./fixtures/lock-holder.ts', import.meta.url).pathname;

function reopen(test: { url: string; sqlitePath: string | null }, dialect: TestDatabase['dialect']): Promise<Database> {
  return openDatabase({ databaseUrl: test.url, dialect, sqlitePath: test.sqlitePath, poolMax: 3 });
}

for (const dialect of DIALECTS) {
  describe(`database locks (${dialect})`, function () {
    this.timeout(60_000);
    let test: TestDatabase;
    let other: Database;

    beforeEach(async () => {
      test = await createTestDatabase(dialect);
      other = await reopen(test, dialect);
    });
    afterEach(async () => {
      await other.close();
      await test.drop();
    });

    it('is held by one holder at a time, and passes to the next on release', async () => {
      const a = databaseLock(test.db, 'ingest');
      const b = databaseLock(other, 'ingest');
      expect(await a.tryAcquire()).to.equal(true);
      expect(await b.tryAcquire()).to.equal(false);
      // Another name is another lock.
      const relay = databaseLock(other, 'relay');
      expect(await relay.tryAcquire()).to.equal(true);
      const waiting = b.acquire({ retryMs: 20 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(b.held).to.equal(false);
      await a.release();
      await waiting;
      expect(b.held).to.equal(true);
      expect(await a.tryAcquire()).to.equal(false);
      await Promise.all([b.release(), relay.release()]);
    });

    it('is free again at once when its holder is killed with SIGKILL', async () => {
      const child = spawn(process.execPath, ['--import=tsx', HOLDER, 'ingest'], {
        env: { ...process.env, DATABASE_URL: test.url, LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
        readline.createInterface({ input: child.stdout }).once('line', () => resolve());
      });
      const lock = databaseLock(test.db, 'ingest');
      expect(await lock.tryAcquire()).to.equal(false);
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
      const deadline = Date.now() + 10_000;
      while (!(await lock.tryAcquire())) {
        if (Date.now() > deadline) throw new Error('the lock of a killed holder was not released');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await lock.release();
    });

    it('refuses every write of a lease holder once another process has claimed the lease', async () => {
      const first = await claimLease(test.db, 'ingest', 'first');
      await test.db.sequelize.transaction((t) => assertLease(test.db, first, t));
      const second = await claimLease(other, 'ingest', 'second');
      expect(second.epoch).to.equal(first.epoch + 1);
      expect(await readLease(test.db, 'ingest')).to.deep.equal({ epoch: second.epoch, holder: 'second' });
      let refused: unknown;
      await test.db.sequelize.transaction((t) => assertLease(test.db, first, t)).catch((e: unknown) => (refused = e));
      expect(refused).to.be.instanceOf(LeaseLostError);
      expect((refused as Error).message).to.contain('second');
    });
  });
}

describe('database locks (postgres only)', function () {
  this.timeout(60_000);

  it('makes a lease claim wait for the previous holder’s open write transaction', async () => {
    const test = await createTestDatabase('postgres');
    const other = await reopen(test, 'postgres');
    try {
      const first = await claimLease(test.db, 'ingest', 'first');
      const order: string[] = [];
      let claimed: Promise<unknown> | undefined;
      await test.db.sequelize.transaction(async (t) => {
        await assertLease(test.db, first, t);
        claimed = claimLease(other, 'ingest', 'second').then(() => order.push('claimed'));
        await new Promise((resolve) => setTimeout(resolve, 300));
        order.push('committed');
      });
      await claimed;
      expect(order).to.deep.equal(['committed', 'claimed']);
    } finally {
      await other.close();
      await test.drop();
    }
  });

  it('lets replicas that migrate a fresh database at the same moment all succeed', async () => {
    const empty = await createEmptyDatabase('postgres');
    const dbs = await Promise.all([1, 2, 3].map(() => reopen(empty, 'postgres')));
    try {
      const applied = await Promise.all(dbs.map((db) => migrateUp(db)));
      const all = applied.flat();
      // Each migration applied exactly once, by whichever replica came first.
      expect(new Set(all).size).to.equal(all.length);
      expect(applied.some((names) => names.length > 0)).to.equal(true);
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
      await empty.remove();
    }
  });
});
