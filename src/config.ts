// Every setting solstream reads from the environment: its name, default, and validation.
// Read once at start (loadConfig) and passed down; no other module reads process.env.
import path from 'node:path';

export type Dialect = 'sqlite' | 'postgres';

export interface ApiKey {
  readonly key: string;
  /** Topics this key may read; `*` for all. */
  readonly topics: readonly string[] | '*';
}

export interface Config {
  /** Where the data lives: `sqlite:<path>` / a bare path, or `postgres://…`. */
  readonly databaseUrl: string;
  readonly dialect: Dialect;
  /** File of the SQLite database (sqlite dialect only). */
  readonly sqlitePath: string | null;
  readonly host: string;
  readonly port: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Apply pending migrations when `serve` starts. */
  readonly migrateOnStart: boolean;
  /** How long the change log keeps changes (resume window), in seconds. */
  readonly changeRetentionSeconds: number;
  /** How often another process's writes are looked for on SQLite, in ms. */
  readonly sqlitePollMs: number;
  readonly ws: {
    readonly maxSubscriptions: number;
    readonly maxFrameBytes: number;
    readonly maxMessagesPerSecond: number;
    readonly maxBufferedBytes: number;
    readonly heartbeatMs: number;
    readonly snapshotDefaultLimit: number;
    readonly snapshotMaxLimit: number;
  };
  /** API keys; empty means the gateway is open (development). */
  readonly apiKeys: readonly ApiKey[];
  /** Browser origins allowed to connect; empty means any. */
  readonly allowedOrigins: readonly string[];
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    throw new ConfigError(`${name} must be a whole number between ${min} and ${max}, got "${raw}"`);
  }
  const value = Number(raw.trim());
  if (value < min || value > max) {
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function readBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Resolves DATABASE_URL into a dialect and, for SQLite, a file path. */
export function parseDatabaseUrl(raw: string, cwd: string): { dialect: Dialect; sqlitePath: string | null } {
  const url = raw.trim();
  if (/^postgres(ql)?:\/\//i.test(url)) {
    try {
      const parsed = new URL(url);
      if (!parsed.hostname && !parsed.searchParams.get('host')) throw new Error('no host');
    } catch {
      throw new ConfigError(`DATABASE_URL is not a valid postgres:// URL: "${raw}"`);
    }
    return { dialect: 'postgres', sqlitePath: null };
  }
  if (/^sqlite:/i.test(url)) {
    const file = url.replace(/^sqlite:(\/\/)?/i, '');
    if (file === '' || file === ':memory:') {
      throw new ConfigError(
        'DATABASE_URL=sqlite: needs a file path (an in-memory database cannot be shared with the change reader)',
      );
    }
    return { dialect: 'sqlite', sqlitePath: path.resolve(cwd, file) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new ConfigError(`DATABASE_URL must start with postgres://, postgresql:// or sqlite:, got "${raw}"`);
  }
  return { dialect: 'sqlite', sqlitePath: path.resolve(cwd, url) };
}

/** Parses SOLSTREAM_API_KEYS: `key1:escrows,swaps;key2:*`. */
export function parseApiKeys(raw: string | undefined): ApiKey[] {
  if (raw === undefined || raw.trim() === '') return [];
  return raw
    .split(/[;\n]/)
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const [key, topics] = part.split(':', 2) as [string, string | undefined];
      if (!/^[A-Za-z0-9._~-]{16,}$/.test(key)) {
        throw new ConfigError(
          'SOLSTREAM_API_KEYS: each key must be at least 16 characters of [A-Za-z0-9._~-] (format key:topic,topic;key2:*)',
        );
      }
      if (topics === undefined || topics.trim() === '*' || topics.trim() === '') return { key, topics: '*' as const };
      return { key, topics: topics.split(',').map((t) => t.trim()).filter((t) => t !== '') };
    });
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const databaseUrl = env.DATABASE_URL?.trim() || 'sqlite:data/solstream.sqlite';
  const { dialect, sqlitePath } = parseDatabaseUrl(databaseUrl, cwd);
  const logLevel = (env.LOG_LEVEL?.trim() || 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  }
  const host = env.HOST?.trim() || '127.0.0.1';
  const allowedOrigins = (env.SOLSTREAM_ALLOWED_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  for (const origin of allowedOrigins) {
    if (!/^https?:\/\/[^/]+$/.test(origin)) {
      throw new ConfigError(`SOLSTREAM_ALLOWED_ORIGINS: "${origin}" is not an origin like https://app.example.com`);
    }
  }
  return {
    databaseUrl,
    dialect,
    sqlitePath,
    host,
    port: readInt(env, 'PORT', 8080, 0, 65535),
    logLevel,
    migrateOnStart: readBool(env, 'SOLSTREAM_MIGRATE_ON_START', true),
    changeRetentionSeconds: readInt(env, 'SOLSTREAM_CHANGE_RETENTION_SECONDS', 24 * 3600, 60, 90 * 24 * 3600),
    sqlitePollMs: readInt(env, 'SOLSTREAM_SQLITE_POLL_MS', 50, 5, 10_000),
    ws: {
      maxSubscriptions: readInt(env, 'SOLSTREAM_WS_MAX_SUBSCRIPTIONS', 100, 1, 100_000),
      maxFrameBytes: readInt(env, 'SOLSTREAM_WS_MAX_FRAME_BYTES', 64 * 1024, 256, 16 * 1024 * 1024),
      maxMessagesPerSecond: readInt(env, 'SOLSTREAM_WS_MAX_MESSAGES_PER_SECOND', 50, 1, 100_000),
      maxBufferedBytes: readInt(env, 'SOLSTREAM_WS_MAX_BUFFERED_BYTES', 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
      heartbeatMs: readInt(env, 'SOLSTREAM_WS_HEARTBEAT_MS', 30_000, 100, 3_600_000),
      snapshotDefaultLimit: readInt(env, 'SOLSTREAM_SNAPSHOT_DEFAULT_LIMIT', 100, 1, 100_000),
      snapshotMaxLimit: readInt(env, 'SOLSTREAM_SNAPSHOT_MAX_LIMIT', 10_000, 1, 1_000_000),
    },
    apiKeys: parseApiKeys(env.SOLSTREAM_API_KEYS),
    allowedOrigins,
  };
}
