// Opens the database named by the configuration: PostgreSQL in production, an SQLite file by default.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Sequelize, type Options } from 'sequelize';
import type sqlite3 from 'sqlite3';
import type { Dialect } from '../config.ts';

// TIMESTAMP columns hold UTC without a zone; node-postgres would read them as local time.
pg.types.setTypeParser(pg.types.builtins.TIMESTAMP, (value: string) => new Date(`${value.replace(' ', 'T')}Z`));

/** How long an SQLite writer waits for another process's write lock before failing, in ms. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

export interface Database {
  readonly sequelize: Sequelize;
  readonly dialect: Dialect;
  /** The SQLite file, or null on PostgreSQL. */
  readonly sqlitePath: string | null;
  /** A postgres:// URL (postgres dialect only), for components that open their own connection (the listener). */
  readonly postgresUrl: string | null;
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly databaseUrl: string;
  readonly dialect: Dialect;
  readonly sqlitePath: string | null;
  /** Connection pool size on PostgreSQL. */
  readonly poolMax?: number;
}

export async function openDatabase(options: OpenOptions): Promise<Database> {
  const common: Options = { logging: false, timezone: '+00:00' };
  let sequelize: Sequelize;
  if (options.dialect === 'postgres') {
    sequelize = new Sequelize(options.databaseUrl, {
      ...common,
      dialect: 'postgres',
      pool: { max: options.poolMax ?? 10, min: 0, idle: 10_000, acquire: 30_000 },
    });
  } else {
    const file = options.sqlitePath;
    if (file === null) throw new Error('sqlite dialect needs a file path');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    sequelize = new Sequelize({ ...common, dialect: 'sqlite', storage: file });
    configureSqliteConnections(sequelize);
  }
  try {
    await sequelize.authenticate();
  } catch (error) {
    await sequelize.close().catch(() => undefined);
    throw new Error(`cannot connect to the database (${describeTarget(options)}): ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (options.dialect === 'sqlite') {
    // WAL lets the gateway read while the ingester writes; it is a property of the file, set once.
    await sequelize.query('PRAGMA journal_mode=WAL');
  }
  return {
    sequelize,
    dialect: options.dialect,
    sqlitePath: options.sqlitePath,
    postgresUrl: options.dialect === 'postgres' ? options.databaseUrl : null,
    close: () => sequelize.close(),
  };
}

/** Where a database is, without its password, for messages. */
export function describeTarget(options: Pick<OpenOptions, 'databaseUrl' | 'dialect' | 'sqlitePath'>): string {
  if (options.dialect === 'sqlite') return `sqlite file ${options.sqlitePath}`;
  try {
    const url = new URL(options.databaseUrl);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'postgres';
  }
}

// Sequelize's SQLite dialect opens one connection per transaction and offers no connect hook, so
// every connection it hands out is given a busy timeout here (foreign keys it turns on itself).
function configureSqliteConnections(sequelize: Sequelize): void {
  const manager = sequelize.connectionManager as unknown as {
    getConnection(options?: object): Promise<sqlite3.Database>;
  };
  const configured = new WeakSet<sqlite3.Database>();
  const getConnection = manager.getConnection.bind(manager);
  manager.getConnection = async (opts?: object) => {
    const connection = await getConnection(opts);
    if (!configured.has(connection)) {
      configured.add(connection);
      connection.configure('busyTimeout', SQLITE_BUSY_TIMEOUT_MS);
    }
    return connection;
  };
}
