// Locks that span every process using one database: who migrates, who ingests, who relays. Several
// `serve` processes against one database is the normal case in a deployment, and each of these
// jobs must run in exactly one of them at a time.
//
// - PostgreSQL: a session advisory lock held on a dedicated connection (not the pool). The server
//   releases it the moment that connection ends, so a process killed with -9 frees it at once.
//   Advisory locks live in one database's lock space, so two databases on a server never collide.
// - SQLite: an exclusive SQLite lock on a sidecar file next to the database (`<file>.<name>.lock`).
//   It is an operating-system file lock, released when the process dies.
//
// A lock can be lost while held (its connection drops, the server restarts); `onLost` says so and
// the holder must stop. Where a lost lock must not let a stale holder keep writing, the holder also
// takes a lease (claimLease) and checks it in every write transaction (assertLease): the next
// holder's claim waits for the old holder's open transaction and then bumps the epoch, so every later
// write of the old holder fails instead of interleaving with the new one's.
import os from 'node:os';
import pg from 'pg';
import sqlite3 from 'sqlite3';
import { QueryTypes, type Transaction } from 'sequelize';
import type { Database } from './connection.ts';

export type LockName = 'migrate' | 'ingest' | 'relay';

/** Who holds a lock or lease, for logs and /readyz: host and process id. */
export const PROCESS_IDENTITY = `${os.hostname()}:${process.pid}`;

export interface DatabaseLock {
  readonly name: LockName;
  /** True while this process holds the lock. */
  readonly held: boolean;
  /** One attempt; true when the lock is now held by this process. */
  tryAcquire(): Promise<boolean>;
  /** Waits until the lock is held, trying every `retryMs`; rejects if `signal` aborts first. */
  acquire(options?: { retryMs?: number; signal?: AbortSignal }): Promise<void>;
  /** `listener` runs once when a held lock is lost without release() (its connection died). */
  onLost(listener: (error: Error) => void): void;
  /** Gives the lock up (and its connection); safe to call when not held. */
  release(): Promise<void>;
}

/** How often a held PostgreSQL lock's connection is checked, so a silently dead link is noticed. */
const PING_MS = 5000;
const PING_TIMEOUT_MS = 4000;

const lockKeyText = (name: LockName) => `solstream.lock.${name}`;

export function databaseLock(db: Database, name: LockName): DatabaseLock {
  return db.dialect === 'postgres' ? postgresLock(db, name) : sqliteLock(db, name);
}

/** Runs `work` while holding lock `name`, waiting for it first (several processes migrating at once). */
export async function withDatabaseLock<T>(db: Database, name: LockName, work: () => Promise<T>): Promise<T> {
  const lock = databaseLock(db, name);
  await lock.acquire({ retryMs: 100 });
  try {
    return await work();
  } finally {
    await lock.release();
  }
}

abstract class BaseLock implements DatabaseLock {
  private listeners: ((error: Error) => void)[] = [];
  protected isHeld = false;

  constructor(readonly name: LockName) {}

  get held(): boolean {
    return this.isHeld;
  }

  abstract tryAcquire(): Promise<boolean>;
  abstract release(): Promise<void>;

  async acquire(options: { retryMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const retryMs = options.retryMs ?? 1000;
    const { signal } = options;
    for (;;) {
      signal?.throwIfAborted();
      if (await this.tryAcquire()) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, retryMs);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  onLost(listener: (error: Error) => void): void {
    this.listeners.push(listener);
  }

  protected lost(error: Error): void {
    if (!this.isHeld) return;
    this.isHeld = false;
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener(error);
  }
}

function postgresLock(db: Database, name: LockName): DatabaseLock {
  const url = db.postgresUrl;
  if (url === null) throw new Error('a PostgreSQL lock needs a postgres:// database');
  return new (class extends BaseLock {
    private client: pg.Client | null = null;
    private ping: NodeJS.Timeout | null = null;

    async tryAcquire(): Promise<boolean> {
      if (this.isHeld) return true;
      const client = new pg.Client({ connectionString: url, keepAlive: true, application_name: `solstream ${name}` });
      // A failure of this connection while not held is reported by the query below.
      client.on('error', (error) => this.drop(client, error));
      client.on('end', () => this.drop(client, new Error(`the connection holding the ${name} lock ended`)));
      try {
        await client.connect();
        const { rows } = await client.query<{ held: boolean }>(
          'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS held',
          [lockKeyText(name)],
        );
        if (rows[0]?.held !== true) {
          await client.end().catch(() => undefined);
          return false;
        }
      } catch (error) {
        await client.end().catch(() => undefined);
        throw error;
      }
      this.client = client;
      this.isHeld = true;
      this.ping = setInterval(() => void this.check(client), PING_MS);
      this.ping.unref();
      return true;
    }

    /** A query that does not come back in time means the link is dead even if the socket is not closed yet. */
    private async check(client: pg.Client): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.query('SELECT 1'),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('no answer')), PING_TIMEOUT_MS);
          }),
        ]);
      } catch (error) {
        this.drop(
          client,
          new Error(`the connection holding the ${name} lock stopped answering: ${(error as Error).message}`),
        );
        client.end().catch(() => undefined);
      } finally {
        clearTimeout(timer);
      }
    }

    private drop(client: pg.Client, error: Error): void {
      if (client !== this.client) return;
      this.client = null;
      if (this.ping !== null) clearInterval(this.ping);
      this.ping = null;
      this.lost(error);
    }

    async release(): Promise<void> {
      const client = this.client;
      this.client = null;
      this.isHeld = false;
      if (this.ping !== null) clearInterval(this.ping);
      this.ping = null;
      // Ending the session releases every advisory lock it holds.
      if (client !== null) await client.end().catch(() => undefined);
    }
  })(name);
}

function sqliteLock(db: Database, name: LockName): DatabaseLock {
  const file = db.sqlitePath;
  if (file === null) throw new Error('an SQLite lock needs an SQLite database file');
  const lockFile = `${file}.${name}.lock`;
  return new (class extends BaseLock {
    private handle: sqlite3.Database | null = null;

    async tryAcquire(): Promise<boolean> {
      if (this.isHeld) return true;
      const handle = await new Promise<sqlite3.Database>((resolve, reject) => {
        const opened: sqlite3.Database = new sqlite3.Database(lockFile, (error) =>
          error ? reject(error) : resolve(opened),
        );
      });
      // No busy timeout (node-sqlite3 waits a second by default): a held lock answers SQLITE_BUSY
      // at once. EXCLUSIVE locking mode keeps the
      // file lock after BEGIN EXCLUSIVE until the handle closes (or the process dies).
      handle.configure('busyTimeout', 0);
      const ok = await new Promise<boolean>((resolve, reject) => {
        handle.exec('PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE', (error) => {
          if (error === null) resolve(true);
          else if ((error as Error & { code?: string }).code === 'SQLITE_BUSY') resolve(false);
          else reject(error);
        });
      }).catch(async (error: unknown) => {
        await closeSqlite(handle);
        throw error;
      });
      if (!ok) {
        await closeSqlite(handle);
        return false;
      }
      this.handle = handle;
      this.isHeld = true;
      return true;
    }

    async release(): Promise<void> {
      const handle = this.handle;
      this.handle = null;
      this.isHeld = false;
      if (handle !== null) await closeSqlite(handle);
    }
  })(name);
}

function closeSqlite(handle: sqlite3.Database): Promise<void> {
  return new Promise((resolve) => handle.close(() => resolve()));
}

/** A holder's claim on a lease: the epoch it took, checked by every write it makes. */
export interface Lease {
  readonly name: LockName;
  readonly epoch: number;
  readonly holder: string;
}

/** Raised inside a write transaction when another process has claimed the lease since. */
export class LeaseLostError extends Error {
  constructor(
    readonly lease: Lease,
    readonly current: { epoch: number; holder: string } | null,
  ) {
    super(
      `the ${lease.name} lease (epoch ${lease.epoch}) has been taken over` +
        (current === null ? '' : ` by ${current.holder} (epoch ${current.epoch})`),
    );
    this.name = 'LeaseLostError';
  }
}

/**
 * Takes the lease `name` for this process (call while holding the lock of the same name): bumps
 * its epoch, after any transaction of the previous holder that checked it has finished.
 */
export async function claimLease(db: Database, name: LockName, holder = PROCESS_IDENTITY): Promise<Lease> {
  const epoch = await db.sequelize.transaction(async (transaction) => {
    await db.sequelize.query(
      `INSERT INTO solstream_leases (name, epoch, holder, claimed_at) VALUES ($1, 1, $2, CURRENT_TIMESTAMP)
       ON CONFLICT (name) DO UPDATE SET epoch = solstream_leases.epoch + 1, holder = excluded.holder, claimed_at = excluded.claimed_at`,
      { bind: [name, holder], transaction },
    );
    const [row] = await db.sequelize.query<{ epoch: number | string }>(
      'SELECT epoch FROM solstream_leases WHERE name = $1',
      { bind: [name], type: QueryTypes.SELECT, transaction },
    );
    if (row === undefined) throw new Error(`claiming the ${name} lease left no row`);
    return Number(row.epoch);
  });
  return { name, epoch, holder };
}

/** Fails the transaction unless `lease` is still the current one (it then holds it until commit). */
export async function assertLease(db: Database, lease: Lease, transaction: Transaction): Promise<void> {
  // FOR SHARE: a newer claim (an UPDATE of this row) waits for this transaction to end.
  const [row] = await db.sequelize.query<{ epoch: number | string; holder: string }>(
    `SELECT epoch, holder FROM solstream_leases WHERE name = $1${db.dialect === 'postgres' ? ' FOR SHARE' : ''}`,
    { bind: [lease.name], type: QueryTypes.SELECT, transaction },
  );
  if (row === undefined || Number(row.epoch) !== lease.epoch) {
    throw new LeaseLostError(lease, row === undefined ? null : { epoch: Number(row.epoch), holder: row.holder });
  }
}

/** The current holder of lease `name`, or null when it was never claimed. */
export async function readLease(db: Database, name: LockName): Promise<{ epoch: number; holder: string } | null> {
  const [row] = await db.sequelize.query<{ epoch: number | string; holder: string }>(
    'SELECT epoch, holder FROM solstream_leases WHERE name = $1',
    { bind: [name], type: QueryTypes.SELECT },
  );
  return row === undefined ? null : { epoch: Number(row.epoch), holder: row.holder };
}
