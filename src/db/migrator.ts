// Umzug over the migrations/ folder, recording applied migrations in the database (SequelizeStorage).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Umzug, SequelizeStorage, type MigrationParams } from 'umzug';
import type { Database } from './connection.ts';
import { withDatabaseLock } from './locks.ts';

/** What every migration receives. */
export type MigrationContext = Pick<Database, 'sequelize' | 'dialect'>;
export type Migration = (params: MigrationParams<MigrationContext>) => Promise<void>;

/** A PostgreSQL-only migration step: its statements in one transaction; nothing on SQLite. */
export function postgresStatements(statements: () => readonly string[]): Migration {
  return async ({ context: { sequelize, dialect } }) => {
    if (dialect !== 'postgres') return;
    await sequelize.transaction(async (transaction) => {
      for (const statement of statements()) await sequelize.query(statement, { transaction });
    });
  };
}

export interface MigrationModule {
  up: Migration;
  down: Migration;
  /** The dialects whose schema it changes, when not every one (elsewhere it does nothing). */
  dialects?: readonly Database['dialect'][];
}

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');
/** Table where applied migrations are recorded. */
export const MIGRATIONS_TABLE = 'solstream_migrations';

export function createMigrator(db: Database, log: (message: string) => void = () => undefined) {
  return new Umzug<MigrationContext>({
    migrations: {
      glob: ['[0-9][0-9][0-9][0-9]-*.ts', { cwd: MIGRATIONS_DIR }],
      resolve: ({ name, path: file, context }) => {
        const load = async (): Promise<MigrationModule> => {
          if (file === undefined) throw new Error(`migration ${name} has no file`);
          return (await import(pathToFileURL(file).href)) as MigrationModule;
        };
        return {
          name: name.replace(/\.ts$/, ''),
          up: async () => (await load()).up({ name, path: file, context }),
          down: async () => (await load()).down({ name, path: file, context }),
        };
      },
    },
    context: { sequelize: db.sequelize, dialect: db.dialect },
    storage: new SequelizeStorage({ sequelize: db.sequelize, tableName: MIGRATIONS_TABLE }),
    logger: {
      info: (event: Record<string, unknown>) => {
        if (event.event === 'migrated') log(`migrated ${String(event.name)}`);
        if (event.event === 'reverted') log(`reverted ${String(event.name)}`);
      },
      warn: (event: Record<string, unknown>) => log(`warning: ${JSON.stringify(event)}`),
      error: (event: Record<string, unknown>) => log(`error: ${JSON.stringify(event)}`),
      debug: () => undefined,
    },
  });
}

/**
 * Applies pending migrations (up to `to`). Runs under the database's `migrate` lock: replicas that
 * start together take turns, and the later ones find nothing left to do.
 */
export async function migrateUp(db: Database, to?: string): Promise<string[]> {
  return withDatabaseLock(db, 'migrate', async () => {
    const done = await createMigrator(db).up(to === undefined ? {} : { to });
    return done.map((m) => m.name);
  });
}

/** Reverts down to (and including) `to`; `to: 0` reverts everything. Without `to`, the last one. */
export async function migrateDown(db: Database, to?: string | 0): Promise<string[]> {
  return withDatabaseLock(db, 'migrate', async () => {
    const done = await createMigrator(db).down(to === undefined ? {} : { to });
    return done.map((m) => m.name);
  });
}
