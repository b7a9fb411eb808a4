import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import pg from 'pg';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import sqlite3 from 'sqlite3';
import { pruneChanges, readChanges } from '../../src/capture/change-log.ts';
import { openChangeFeed } from '../../src/capture/feed.ts';
import { CursorExpiredError, InvalidCursorError, type Change, type ChangeFeed } from '../../src/capture/types.ts';
import type { Database } from '../../src/db/connection.ts';
import { modelsFor, upsertRows } from '../../src/db/repositories/index.ts';
import type { Topic } from '../../src/db/schema.ts';
import { silentLogger } from '../../src/log.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/database.ts';
import { createParents, pubkey, sampleRow, signature, U64_MAX } from '../db/fixtures.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Generous: these waits are for an event, never a measurement. */
const WAIT_MS = 20_000;

/** Starts collecting `count` changes of `topic` that match; subscribe before writing. */
function collect(
  feed: ChangeFeed,
  topic: Topic,
  count: number,
  match: (c: Change) => boolean = () => true,
  wait = WAIT_MS,
): Promise<Change[]> {
  return firstValueFrom(feed.topic$(topic).pipe(filter(match), take(count), toArray(), timeout(wait)));
}

/** Raw SQL on a connection of its own (not the feed's, not Sequelize's pool). */
interface RawConnection {
  run(sql: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

async function rawConnection(test: TestDatabase): Promise<RawConnection> {
  if (test.dialect === 'postgres') {
    const client = new pg.Client({ connectionString: test.url });
    await client.connect();
    return { run: async (sql, params) => void (await client.query(sql, params)), close: () => client.end() };
  }
  const file = test.sqlitePath as string;
  const conn = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d = new sqlite3.Database(file, (error) => (error ? reject(error) : resolve(d)));
  });
  conn.configure('busyTimeout', 5000);
  await new Promise<void>((resolve, reject) =>
    conn.run('PRAGMA foreign_keys = ON', (e) => (e ? reject(e) : resolve())),
  );
  return {
    // sqlite3 numbers placeholders ?1, ?2…; the SQL below is written with $1, $2… as for PostgreSQL.
    run: (sql, params = []) =>
      new Promise((resolve, reject) =>
        conn.run(sql.replace(/\$(\d+)/g, '?$1'), params, (error) => (error ? reject(error) : resolve())),
      ),
    close: () => new Promise((resolve) => conn.close(() => resolve())),
  };
}

const byKey =
  (key: string, column = 'pubkey') =>
  (c: Change) =>
    c.row[column] === key;

function expectIncreasing(changes: readonly Change[]): void {
  for (let i = 1; i < changes.length; i++) {
    expect(BigInt(changes[i]?.cursor as string) > BigInt(changes[i - 1]?.cursor as string), `cursor ${i}`).to.equal(
      true,
    );
  }
}

for (const dialect of DIALECTS) {
  describe(`change feed (${dialect})`, function () {
    this.timeout(90_000);
    let test: TestDatabase;
    let db: Database;
    let feed: ChangeFeed | undefined;
    const open = async (sqlitePollMs = 20): Promise<ChangeFeed> => {
      feed = await openChangeFeed(db, { changeRetentionSeconds: 3600, sqlitePollMs }, silentLogger);
      return feed;
    };

    beforeEach(async () => {
      test = await createTestDatabase(dialect);
      db = test.db;
    });
    afterEach(async () => {
      await feed?.close();
      feed = undefined;
      await test.drop();
    });

    it('streams inserts, updates and deletes made through the models, in wire form', async () => {
      const f = await open();
      const { Transaction, Escrow } = modelsFor(db);
      const sig = signature();
      const rawData = { logs: ['Program log: swap'], amounts: [1, 2], nested: { ok: true } };
      const txs = collect(f, 'transactions', 1, byKey(sig, 'signature'));
      await Transaction.create({
        signature: sig,
        slot: 7,
        fee: U64_MAX,
        status: 'success',
        accounts: ['a', 'b'],
        raw_data: rawData,
        block_time: '2026-03-04T05:06:07.089Z',
      } as never);
      f.poke();
      const [tx] = await txs;
      expect(tx).to.include({ topic: 'transactions', op: 'insert' });
      expect(tx?.row).to.deep.include({
        signature: sig,
        slot: 7,
        fee: U64_MAX,
        raw_data: rawData,
        accounts: ['a', 'b'],
        block_time: '2026-03-04T05:06:07.089Z',
      });
      expect(tx?.row.created_at).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

      const row = sampleRow('escrows', null, { amount_b: U64_MAX });
      const escrows = collect(f, 'escrows', 3, byKey(row.pubkey as string));
      const escrow = await Escrow.create(row as never);
      await escrow.update({ state: 'funded' } as never);
      await escrow.destroy();
      f.poke();
      const changes = await escrows;
      expect(changes.map((c) => [c.op, c.row.state])).to.deep.equal([
        ['insert', 'created'],
        ['update', 'funded'],
        ['delete', 'funded'],
      ]);
      expect(changes[0]?.row).to.include({ amount_b: U64_MAX, created_slot: 50, taker: null });
      expectIncreasing(changes);
    });

    it('streams inserts, updates and deletes made with raw SQL on a separate connection', async () => {
      const parents = await createParents(db);
      const f = await open();
      const raw = await rawConnection(test);
      try {
        const key = pubkey();
        const votes = collect(f, 'votes', 3, byKey(key));
        await raw.run(
          'INSERT INTO votes (pubkey, proposal_pubkey, voter, support, vote_weight, signature, slot) VALUES ($1, $2, $3, $4, $5, $6, 9)',
          [key, parents.proposal, pubkey(), dialect === 'postgres' ? true : 1, U64_MAX, signature()],
        );
        await raw.run(
          `UPDATE votes SET support = ${dialect === 'postgres' ? 'false' : '0'}, vote_weight = '0' WHERE pubkey = $1`,
          [key],
        );
        await raw.run('DELETE FROM votes WHERE pubkey = $1', [key]);
        const changes = await votes;
        expect(changes.map((c) => [c.op, c.row.support, c.row.vote_weight])).to.deep.equal([
          ['insert', true, U64_MAX],
          ['update', false, '0'],
          ['delete', false, '0'],
        ]);
        expect(changes[0]?.row).to.include({ proposal_pubkey: parents.proposal, slot: 9 });
        expect(changes[0]?.row.created_at).to.match(/Z$/);

        const sig = signature();
        const txs = collect(f, 'transactions', 1, byKey(sig, 'signature'));
        await raw.run(
          "INSERT INTO transactions (signature, slot, fee, status, raw_data) VALUES ($1, 3, 5000, 'ok', $2)",
          [sig, JSON.stringify({ n: 1 })],
        );
        expect((await txs)[0]?.row).to.deep.include({ fee: '5000', raw_data: { n: 1 }, accounts: null });
      } finally {
        await raw.close();
      }
    });

    it('replays a topic between two cursors in pages, oldest first', async () => {
      const f = await open();
      for (let i = 0; i < 7; i++) await upsertRows(db, 'accounts', [sampleRow('accounts', null, { slot: i })]);
      await upsertRows(db, 'collections', [sampleRow('collections', null)]);
      const log = await readChanges(db, { after: '0', limit: 100 });
      const accounts = log.filter((c) => c.topic === 'accounts').map((c) => c.cursor);
      const newest = log.at(-1)?.cursor as string;
      const paged: string[] = [];
      let after = '0';
      for (;;) {
        const page = await f.replay('accounts', after, newest, 3);
        paged.push(...page.map((c) => c.cursor));
        if (page.length < 3) break;
        after = page.at(-1)?.cursor as string;
      }
      expect(paged).to.deep.equal(accounts);
      expect(
        (await f.replay('accounts', accounts[1] as string, accounts[3] as string)).map((c) => c.cursor),
      ).to.deep.equal(accounts.slice(2, 4));
      expect((await f.replay('collections', '0', newest)).map((c) => c.topic)).to.deep.equal(['collections']);
      expect(await f.replay('accounts', newest, newest)).to.deep.equal([]);
    });

    it('refuses malformed and future cursors with InvalidCursorError, and pruned ones with CursorExpiredError', async () => {
      const f = await open();
      for (let i = 0; i < 3; i++) await upsertRows(db, 'accounts', [sampleRow('accounts', null)]);
      const log = await readChanges(db, { after: '0', limit: 100 });
      const newest = log.at(-1)?.cursor as string;
      for (const bad of [
        'abc',
        '-1',
        '01',
        '1.5',
        '',
        ' 1',
        '99999999999999999999',
        (BigInt(newest) + 1n).toString(),
      ]) {
        let caught: unknown;
        try {
          await f.replay('accounts', bad, newest);
        } catch (error) {
          caught = error;
        }
        expect(caught, `cursor "${bad}"`).to.be.instanceOf(InvalidCursorError);
      }
      expect(await f.replay('accounts', '0', newest)).to.have.length(3);

      expect(await pruneChanges(db, Date.now() + 60_000)).to.equal(3);
      for (const old of ['0', log[0]?.cursor as string]) {
        let caught: unknown;
        try {
          await f.replay('accounts', old, newest);
        } catch (error) {
          caught = error;
        }
        expect(caught, `cursor ${old} after pruning`).to.be.instanceOf(CursorExpiredError);
        expect((caught as CursorExpiredError).oldest).to.equal(newest);
      }
      // The watermark itself is still a valid resume point: nothing after it was pruned.
      expect(await f.replay('accounts', newest, newest)).to.deep.equal([]);
      await upsertRows(db, 'accounts', [sampleRow('accounts', null)]);
      const [next] = await readChanges(db, { after: newest, limit: 10 });
      expect((await f.replay('accounts', newest, next?.cursor as string)).map((c) => c.cursor)).to.deep.equal([
        next?.cursor,
      ]);
    });

    it('takes snapshots whose cursor matches their rows exactly while writers are busy', async () => {
      const f = await open();
      const label = `snap-${pubkey().slice(0, 8)}`;
      const keys = Array.from({ length: 12 }, () => pubkey());
      let writing = true;
      const writer = async (offset: number) => {
        for (let round = 0; round < 15; round++) {
          const key = keys[(round * 5 + offset) % keys.length] as string;
          await db.sequelize.transaction(async (transaction) => {
            await upsertRows(
              db,
              'accounts',
              [{ pubkey: key, account_type: 'wallet', label, lamports: String(round * 10 + offset) }],
              { transaction },
            );
            if (round % 4 === 3)
              await db.sequelize.query('DELETE FROM accounts WHERE pubkey = $1', {
                bind: [keys[(round + offset) % keys.length]],
                transaction,
              });
          });
        }
      };
      const snapshots: { cursor: string; rows: Record<string, string> }[] = [];
      const snapshotter = async () => {
        while (writing) {
          const snap = await f.snapshot(async (query) => {
            const rows = await query('SELECT pubkey, lamports FROM accounts WHERE label = $1', [label]);
            return Object.fromEntries(rows.map((r) => [r.pubkey as string, String(r.lamports)]));
          });
          snapshots.push({ cursor: snap.cursor, rows: snap.result });
          if (dialect === 'sqlite') await sleep(1);
        }
      };
      const taking = snapshotter();
      // SQLite has one writer at a time; two Sequelize transactions would only wait for each other.
      await Promise.all(dialect === 'postgres' ? [writer(0), writer(1), writer(2)] : [writer(0)]);
      writing = false;
      await taking;

      const log = (await readChanges(db, { after: '0', limit: 100_000 })).filter((c) => c.topic === 'accounts');
      expect(snapshots.length).to.be.greaterThan(1);
      for (const snap of snapshots) {
        // The state the log gives up to the snapshot's cursor.
        const state: Record<string, string> = {};
        for (const change of log) {
          if (BigInt(change.cursor) > BigInt(snap.cursor)) break;
          if (change.row.label !== label) continue;
          if (change.op === 'delete') delete state[change.row.pubkey as string];
          else state[change.row.pubkey as string] = change.row.lamports as string;
        }
        expect(snap.rows, `snapshot at cursor ${snap.cursor}`).to.deep.equal(state);
      }
    });

    if (dialect === 'postgres') {
      it('recovers when the listener connection is terminated while writes go on, delivering every change once and in order', async () => {
        const f = await open();
        const raw = await rawConnection(test);
        const admin = new pg.Client({ connectionString: test.url });
        await admin.connect();
        try {
          const label = `kill-${pubkey().slice(0, 8)}`;
          const total = 150;
          const received = collect(f, 'accounts', total, (c) => c.row.label === label, 60_000);
          const keys: string[] = [];
          let terminated = 0;
          for (let i = 0; i < total; i++) {
            const key = pubkey();
            keys.push(key);
            await raw.run("INSERT INTO accounts (pubkey, account_type, label) VALUES ($1, 'wallet', $2)", [key, label]);
            if (i === 20 || i === 60 || i === 100) {
              const { rows } = await admin.query<{ pid: number }>(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
              );
              expect(rows, 'the listener connection').to.have.length(1);
              await admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
              terminated += 1;
            }
            await sleep(2);
          }
          const changes = await received;
          expect(terminated).to.equal(3);
          expect(changes.map((c) => c.row.pubkey)).to.deep.equal(keys);
          expectIncreasing(changes);
          // Nothing arrives twice: a further change is the next thing on the stream.
          const after = collect(f, 'accounts', 1);
          const last = pubkey();
          await raw.run("INSERT INTO accounts (pubkey, account_type) VALUES ($1, 'wallet')", [last]);
          expect((await after)[0]?.row.pubkey).to.equal(last);
          expect(f.isLive()).to.equal(true);
        } finally {
          await admin.end();
          await raw.close();
        }
      });

      it('loses and repeats nothing when the listener is terminated repeatedly under concurrent writers', async () => {
        const f = await open();
        const start = f.position();
        const label = `storm-${pubkey().slice(0, 8)}`;
        const writers = await Promise.all(Array.from({ length: 4 }, () => rawConnection(test)));
        const admin = new pg.Client({ connectionString: test.url });
        await admin.connect();
        const received: Change[] = [];
        const subscription = f.topic$('accounts').subscribe((c) => received.push(c));
        try {
          let writing = true;
          const write = async (raw: RawConnection) => {
            while (writing)
              await raw.run("INSERT INTO accounts (pubkey, account_type, label) VALUES ($1, 'wallet', $2)", [
                pubkey(),
                label,
              ]);
          };
          const running = writers.map(write);
          for (let kill = 0; kill < 5; kill++) {
            await sleep(150);
            const { rows } = await admin.query<{ pid: number }>(
              "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
            );
            for (const { pid } of rows) await admin.query('SELECT pg_terminate_backend($1)', [pid]);
          }
          await sleep(150);
          writing = false;
          await Promise.all(running);
          const log = await readChanges(db, { after: start, limit: 1_000_000 });
          expect(log.length).to.be.greaterThan(50);
          const last = log.at(-1)?.cursor as string;
          for (let wait = 0; wait < 400 && received.at(-1)?.cursor !== last; wait++) await sleep(50);
          const got = new Set(received.map((c) => c.cursor));
          const missing = log.filter((c) => !got.has(c.cursor)).map((c) => c.cursor);
          expect(missing, 'changes never delivered').to.deep.equal([]);
          expect(received.map((c) => c.cursor)).to.deep.equal(log.map((c) => c.cursor));
        } finally {
          subscription.unsubscribe();
          await admin.end();
          for (const raw of writers) await raw.close();
        }
      });

      it('delivers a row larger than the 8000-byte NOTIFY limit whole', async () => {
        const f = await open();
        const sig = signature();
        const rawData = {
          logs: Array.from({ length: 400 }, (_, i) => `Program log: line ${i} ${'x'.repeat(40)}`),
          big: U64_MAX,
        };
        expect(JSON.stringify(rawData).length).to.be.greaterThan(16_000);
        const small = signature();
        const received = collect(f, 'transactions', 2);
        const raw = await rawConnection(test);
        try {
          await raw.run(
            "INSERT INTO transactions (signature, slot, fee, status, raw_data) VALUES ($1, 1, 1, 'ok', $2)",
            [sig, JSON.stringify(rawData)],
          );
          await raw.run("INSERT INTO transactions (signature, slot, fee, status) VALUES ($1, 2, 1, 'ok')", [small]);
        } finally {
          await raw.close();
        }
        const [large, next] = await received;
        expect(large?.row.signature).to.equal(sig);
        expect(large?.row.raw_data).to.deep.equal(rawData);
        expect(next?.row.signature, 'the change after the large one still follows it').to.equal(small);
      });
    }

    if (dialect === 'sqlite') {
      it('picks up a change written by another process within the poll', async () => {
        const f = await open(50);
        const key = pubkey();
        const received = collect(f, 'accounts', 1, byKey(key));
        const script = `
          const sqlite3 = require('sqlite3');
          const db = new sqlite3.Database(process.argv[1]);
          db.configure('busyTimeout', 5000);
          db.run("INSERT INTO accounts (pubkey, account_type, lamports) VALUES (?, 'wallet', '${U64_MAX}')", [process.argv[2]], (error) => {
            if (error) { console.error(error.message); process.exitCode = 1; }
            db.close();
          });`;
        const exitCode = await new Promise<number | null>((resolve, reject) => {
          const child = spawn(process.execPath, ['-e', script, test.sqlitePath as string, key], {
            cwd: repoRoot,
            stdio: ['ignore', 'inherit', 'inherit'],
          });
          child.on('error', reject);
          child.on('exit', resolve);
        });
        expect(exitCode).to.equal(0);
        const [change] = await received;
        expect(change?.row).to.include({ pubkey: key, lamports: U64_MAX });
      });

      it('reads its own writes at once after poke(), without waiting for the next poll', async () => {
        // A poll far longer than the wait below: only the poke can deliver in time.
        const f = await open(10_000);
        const row = sampleRow('accounts', null);
        const received = collect(f, 'accounts', 1, byKey(row.pubkey as string), 5_000);
        await upsertRows(db, 'accounts', [row]);
        f.poke();
        expect((await received)[0]?.op).to.equal('insert');
      });
    }

    it('starts at the newest change: changes committed before it opened are left to snapshots and replays', async () => {
      const before = sampleRow('accounts', null);
      await upsertRows(db, 'accounts', [before]);
      const f = await open();
      const [latest] = await readChanges(db, { after: '0', limit: 10 });
      expect(f.position()).to.equal(latest?.cursor);
      const row = sampleRow('accounts', null);
      const received = collect(f, 'accounts', 1);
      await upsertRows(db, 'accounts', [row]);
      f.poke();
      expect((await received)[0]?.row.pubkey).to.equal(row.pubkey);
    });
  });
}
