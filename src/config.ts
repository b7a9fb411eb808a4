// Every setting solstream reads from the environment: its name, default, and validation.
// Read once at start (loadConfig) and passed down; no other module reads process.env.
import path from 'node:path';
import { parseCommitmentDelay, type CommitmentDelay } from './simulate/commitment.ts';

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
  /** `json` lines, `pretty` human-readable lines, or `auto`: pretty on a terminal, JSON otherwise. */
  readonly logFormat: 'auto' | 'json' | 'pretty';
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
  /**
   * What `serve` ingests from (SOLSTREAM_INGEST): `rpc` = SOLANA_RPC_URL, `local` = an offline
   * local cluster started in-process, `off` = gateway only. `auto` (the default) means `rpc` when
   * SOLANA_RPC_URL is set and `local` otherwise, so a first run shows live data with no setup.
   */
  readonly ingest: 'rpc' | 'local' | 'off';
  /** The in-process local cluster of `ingest: local`, and the defaults of `solstream simulate`. */
  readonly localCluster: LocalClusterConfig;
  // --- ingest settings (owned by src/ingest) ---
  readonly solana: SolanaConfig;
  // --- end ingest settings ---
  // --- scale-out settings (owned by src/nats) ---
  /** NATS mode (NATS_URL set): live changes through JetStream; null: direct mode (LISTEN / SQLite poll). */
  readonly nats: NatsConfig | null;
  /** A read replica for replays and snapshots (SOLSTREAM_READ_REPLICA_URL); null: the primary serves them. */
  readonly readReplicaUrl: string | null;
  // --- end scale-out settings ---
}

// --- scale-out settings (owned by src/nats) ---
export interface NatsConfig {
  /** Comma-separated server URLs (NATS_URL), e.g. nats://127.0.0.1:4222. */
  readonly servers: readonly string[];
  /** JetStream stream holding this database's changes (SOLSTREAM_NATS_STREAM). */
  readonly stream: string;
  /** Subjects are `<prefix>.<topic>` (SOLSTREAM_NATS_SUBJECT_PREFIX). */
  readonly subjectPrefix: string;
  /** Stream retention: oldest message kept, in seconds (SOLSTREAM_NATS_MAX_AGE_SECONDS). */
  readonly maxAgeSeconds: number;
  /** Stream retention: most bytes kept (SOLSTREAM_NATS_MAX_BYTES). */
  readonly maxBytes: number;
  /** Stream retention: most messages kept (SOLSTREAM_NATS_MAX_MSGS). */
  readonly maxMessages: number;
  /** Window in which a re-published change (same Nats-Msg-Id) is dropped, in seconds (SOLSTREAM_NATS_DUPLICATE_WINDOW_SECONDS). */
  readonly duplicateWindowSeconds: number;
  /** Largest message published; a larger change goes as a cursor-only reference (SOLSTREAM_NATS_MAX_PAYLOAD_BYTES). */
  readonly maxPayloadBytes: number;
  /** Stream replicas in a NATS cluster (SOLSTREAM_NATS_REPLICAS). */
  readonly replicas: number;
  /** How often the relay reads the change log when no notification woke it, in ms (SOLSTREAM_RELAY_POLL_MS). */
  readonly relayPollMs: number;
  /** How often a standby tries to become the relay, in ms (SOLSTREAM_RELAY_RETRY_MS). */
  readonly relayRetryMs: number;
}

const NATS_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function loadNatsConfig(env: Env): NatsConfig | null {
  const raw = env.NATS_URL?.trim();
  if (raw === undefined || raw === '') return null;
  const servers = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const server of servers) {
    let url: URL;
    try {
      url = new URL(server.includes('://') ? server : `nats://${server}`);
    } catch {
      throw new ConfigError(`NATS_URL: "${server}" is not a URL like nats://host:4222`);
    }
    if (!['nats:', 'tls:'].includes(url.protocol) || url.hostname === '') {
      throw new ConfigError(`NATS_URL: "${server}" must be nats://host:port or tls://host:port`);
    }
  }
  const stream = env.SOLSTREAM_NATS_STREAM?.trim() || 'SOLSTREAM';
  if (!NATS_NAME.test(stream)) {
    throw new ConfigError(`SOLSTREAM_NATS_STREAM must be 1–64 of [A-Za-z0-9_-], got "${env.SOLSTREAM_NATS_STREAM}"`);
  }
  const subjectPrefix = env.SOLSTREAM_NATS_SUBJECT_PREFIX?.trim() || 'solstream';
  if (!SUBJECT_PREFIX.test(subjectPrefix)) {
    throw new ConfigError(
      `SOLSTREAM_NATS_SUBJECT_PREFIX must be dot-separated tokens of [A-Za-z0-9_-] (no wildcards), got "${env.SOLSTREAM_NATS_SUBJECT_PREFIX}"`,
    );
  }
  return {
    servers,
    stream,
    subjectPrefix,
    maxAgeSeconds: readInt(env, 'SOLSTREAM_NATS_MAX_AGE_SECONDS', 24 * 3600, 60, 365 * 24 * 3600),
    maxBytes: readInt(env, 'SOLSTREAM_NATS_MAX_BYTES', 1024 ** 3, 1024 * 1024, Number.MAX_SAFE_INTEGER),
    maxMessages: readInt(env, 'SOLSTREAM_NATS_MAX_MSGS', 10_000_000, 1000, Number.MAX_SAFE_INTEGER),
    duplicateWindowSeconds: readInt(env, 'SOLSTREAM_NATS_DUPLICATE_WINDOW_SECONDS', 120, 1, 24 * 3600),
    maxPayloadBytes: readInt(env, 'SOLSTREAM_NATS_MAX_PAYLOAD_BYTES', 1024 * 1024, 4096, 64 * 1024 * 1024),
    replicas: readInt(env, 'SOLSTREAM_NATS_REPLICAS', 1, 1, 5),
    relayPollMs: readInt(env, 'SOLSTREAM_RELAY_POLL_MS', 1000, 5, 60_000),
    relayRetryMs: readInt(env, 'SOLSTREAM_RELAY_RETRY_MS', 1000, 10, 60_000),
  };
}

function readReplicaUrl(env: Env): string | null {
  const raw = env.SOLSTREAM_READ_REPLICA_URL?.trim();
  if (raw === undefined || raw === '') return null;
  if (!/^postgres(ql)?:\/\//i.test(raw)) {
    throw new ConfigError(`SOLSTREAM_READ_REPLICA_URL must be a postgres:// URL, got "${raw}"`);
  }
  return raw;
}

function loadScaleOut(env: Env, dialect: Dialect): Pick<Config, 'nats' | 'readReplicaUrl'> {
  const replica = readReplicaUrl(env);
  if (replica !== null && dialect !== 'postgres') {
    throw new ConfigError('SOLSTREAM_READ_REPLICA_URL needs a PostgreSQL DATABASE_URL');
  }
  return { nats: loadNatsConfig(env), readReplicaUrl: replica };
}
// --- end scale-out settings ---

export interface LocalClusterConfig {
  readonly seed: number;
  readonly rate: number;
  /** Yellowstone gRPC port; null when unset (serve: any free port, simulate: 10000). */
  readonly grpcPort: number | null;
  /** x-token the gRPC endpoint requires; null for none. */
  readonly grpcXToken: string | null;
  /** Slots the gRPC endpoint keeps for from_slot; null: replay not supported. */
  readonly replaySlots: number | null;
  readonly confirmAfter: CommitmentDelay;
  readonly finalizeAfter: CommitmentDelay;
  /** Chance that a played transaction opens a minority fork that later dies. */
  readonly forkRate: number;
  /** Longest fork, in slots. */
  readonly forkSlots: number;
}

// --- ingest settings (owned by src/ingest) ---
export type Commitment = 'processed' | 'confirmed' | 'finalized';
const COMMITMENTS: readonly Commitment[] = ['processed', 'confirmed', 'finalized'];

export interface SolanaConfig {
  /** JSON-RPC endpoint (SOLANA_RPC_URL). */
  readonly rpcUrl: string;
  /** PubSub websocket endpoint (SOLANA_WS_URL); derived from the RPC URL as web3.js does when unset. */
  readonly wsUrl: string;
  /** Commitment of reads and subscriptions (SOLANA_COMMITMENT). */
  readonly commitment: Commitment;
  /** Decoded updates per database transaction (SOLSTREAM_INGEST_BATCH_SIZE). */
  readonly batchSize: number;
  /** How long a partly filled batch waits for more updates, in ms (SOLSTREAM_INGEST_FLUSH_MS). */
  readonly flushMs: number;
  /** Signatures per getSignaturesForAddress page during a backfill (SOLSTREAM_BACKFILL_PAGE_SIZE, max 1000). */
  readonly backfillPageSize: number;
  /** getTransaction requests in flight at once (SOLSTREAM_RPC_CONCURRENCY). */
  readonly rpcConcurrency: number;
  /** Transactions of history read per program on the very first start (SOLSTREAM_BACKFILL_INITIAL_LIMIT; 0: current accounts only). */
  readonly initialHistoryLimit: number;
  /** Attempts per RPC request before giving up (SOLSTREAM_RPC_MAX_RETRIES). */
  readonly rpcMaxRetries: number;
  /** First retry delay in ms; doubles per attempt, with full jitter, up to 30 s (SOLSTREAM_RPC_RETRY_BASE_MS). */
  readonly rpcRetryBaseMs: number;
  /** The watched programs, unparsed (SOLSTREAM_PROGRAMS; parsed and checked by programs/registry.ts parseProgramsConfig). */
  readonly programs: string | undefined;
  /** Seconds a live update may wait to be written before the ingester counts as lagging (SOLSTREAM_INGEST_MAX_LAG_SECONDS). */
  readonly maxLagSeconds: number;
  /**
   * The live source (SOLSTREAM_SOURCE): websocket RPC subscriptions, or a Yellowstone Geyser gRPC
   * stream at `geyserUrl`. `auto`, the default, means geyser when SOLSTREAM_GEYSER_URL is set.
   */
  readonly source: 'rpc-websocket' | 'geyser';
  /** Yellowstone endpoint (SOLSTREAM_GEYSER_URL), e.g. http://127.0.0.1:10000; null when not set. */
  readonly geyserUrl: string | null;
  /** x-token the Yellowstone endpoint requires (SOLSTREAM_GEYSER_X_TOKEN); null for none. */
  readonly geyserXToken: string | null;
  /**
   * The processed stream (SOLSTREAM_PROCESSED): what the chain shows at `processed`, announced to
   * processed subscriptions ahead of the database, through a Yellowstone stream (accounts and
   * transactions) or websocket RPC (accounts only); `auto` picks geyser when an endpoint is known.
   * `off`: none (finalized slots are still followed).
   */
  readonly processed: 'auto' | 'geyser' | 'rpc-websocket' | 'off';
}

/** The websocket URL web3.js derives from an RPC URL: ws(s) scheme, and port + 1 when a port is given. */
export function deriveWsUrl(rpcUrl: string): string {
  const url = new URL(rpcUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (url.port !== '') url.port = String(Number(url.port) + 1);
  return url.toString().replace(/\/$/, '');
}

function readUrl(env: Env, name: string, fallback: string, protocols: readonly string[]): string {
  const raw = env[name]?.trim() || fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL (${protocols.join(' or ')}), got "${raw}"`);
  }
  if (!protocols.includes(url.protocol.replace(/:$/, ''))) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => `${p}://`).join(' or ')}, got "${raw}"`);
  }
  return raw;
}

export function loadSolanaConfig(env: Env): SolanaConfig {
  const rpcUrl = readUrl(env, 'SOLANA_RPC_URL', 'http://127.0.0.1:8899', ['http', 'https']);
  const wsUrl = readUrl(env, 'SOLANA_WS_URL', deriveWsUrl(rpcUrl), ['ws', 'wss']);
  const commitment = (env.SOLANA_COMMITMENT?.trim() || 'confirmed') as Commitment;
  if (commitment === 'processed') {
    throw new ConfigError(
      'SOLANA_COMMITMENT=processed would store rows of slots that may still die; the database holds ' +
        'confirmed (or finalized) data, and processed changes reach subscriptions that ask for them ' +
        'through the processed stream (SOLSTREAM_PROCESSED)',
    );
  }
  if (!COMMITMENTS.includes(commitment)) {
    throw new ConfigError(`SOLANA_COMMITMENT must be confirmed or finalized, got "${env.SOLANA_COMMITMENT}"`);
  }
  const processed = env.SOLSTREAM_PROCESSED?.trim().toLowerCase() || 'auto';
  if (!['auto', 'geyser', 'rpc-websocket', 'off'].includes(processed)) {
    throw new ConfigError(
      `SOLSTREAM_PROCESSED must be auto, geyser, rpc-websocket or off, got "${env.SOLSTREAM_PROCESSED}"`,
    );
  }
  return {
    rpcUrl,
    wsUrl,
    commitment,
    batchSize: readInt(env, 'SOLSTREAM_INGEST_BATCH_SIZE', 2000, 1, 100_000),
    flushMs: readInt(env, 'SOLSTREAM_INGEST_FLUSH_MS', 20, 0, 10_000),
    backfillPageSize: readInt(env, 'SOLSTREAM_BACKFILL_PAGE_SIZE', 1000, 1, 1000),
    rpcConcurrency: readInt(env, 'SOLSTREAM_RPC_CONCURRENCY', 8, 1, 256),
    initialHistoryLimit: readInt(env, 'SOLSTREAM_BACKFILL_INITIAL_LIMIT', 1000, 0, 10_000_000),
    rpcMaxRetries: readInt(env, 'SOLSTREAM_RPC_MAX_RETRIES', 8, 1, 100),
    rpcRetryBaseMs: readInt(env, 'SOLSTREAM_RPC_RETRY_BASE_MS', 250, 1, 60_000),
    programs: env.SOLSTREAM_PROGRAMS,
    maxLagSeconds: readInt(env, 'SOLSTREAM_INGEST_MAX_LAG_SECONDS', 30, 1, 86_400),
    processed: processed as SolanaConfig['processed'],
    ...readSource(env),
  };
}

function readSource(env: Env): Pick<SolanaConfig, 'source' | 'geyserUrl' | 'geyserXToken'> {
  const geyserUrl = env.SOLSTREAM_GEYSER_URL?.trim()
    ? readUrl(env, 'SOLSTREAM_GEYSER_URL', '', ['http', 'https'])
    : null;
  const raw = env.SOLSTREAM_SOURCE?.trim().toLowerCase() || 'auto';
  if (!['auto', 'rpc-websocket', 'geyser'].includes(raw)) {
    throw new ConfigError(`SOLSTREAM_SOURCE must be auto, rpc-websocket or geyser, got "${env.SOLSTREAM_SOURCE}"`);
  }
  const source = raw === 'auto' ? (geyserUrl === null ? 'rpc-websocket' : 'geyser') : (raw as SolanaConfig['source']);
  return { source, geyserUrl, geyserXToken: env.SOLSTREAM_GEYSER_X_TOKEN?.trim() || null };
}
// --- end ingest settings ---

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

function readFraction(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.trim());
  if (!/^\d*\.?\d+$/.test(raw.trim()) || value > 1)
    throw new ConfigError(`${name} must be a number from 0 to 1, got "${raw}"`);
  return value;
}

function readDelay(env: Env, name: string, fallback: string): CommitmentDelay {
  try {
    return parseCommitmentDelay(env[name]?.trim() || fallback, name);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

/** The local cluster's settings (SOLSTREAM_LOCAL_*). */
export function loadLocalClusterConfig(env: Env): LocalClusterConfig {
  const grpcPortRaw = env.SOLSTREAM_LOCAL_GRPC_PORT?.trim() ?? '';
  const replayRaw = env.SOLSTREAM_LOCAL_REPLAY_SLOTS?.trim().toLowerCase() ?? '';
  const confirmAfter = readDelay(env, 'SOLSTREAM_LOCAL_CONFIRM_AFTER', '2s');
  const finalizeAfter = readDelay(env, 'SOLSTREAM_LOCAL_FINALIZE_AFTER', '15s');
  return {
    seed: readInt(env, 'SOLSTREAM_LOCAL_SEED', 1, 0, Number.MAX_SAFE_INTEGER),
    rate: readInt(env, 'SOLSTREAM_LOCAL_RATE', 5, 0, 10_000),
    grpcPort: grpcPortRaw === '' ? null : readInt(env, 'SOLSTREAM_LOCAL_GRPC_PORT', 0, 0, 65535),
    grpcXToken: env.SOLSTREAM_LOCAL_GRPC_X_TOKEN?.trim() || null,
    replaySlots: replayRaw === 'off' ? null : readInt(env, 'SOLSTREAM_LOCAL_REPLAY_SLOTS', 150, 1, 1_000_000),
    confirmAfter,
    finalizeAfter,
    forkRate: readFraction(env, 'SOLSTREAM_LOCAL_FORK_RATE', 0.05),
    forkSlots: readInt(env, 'SOLSTREAM_LOCAL_FORK_SLOTS', 2, 1, 64),
  };
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
      return {
        key,
        topics: topics
          .split(',')
          .map((t) => t.trim())
          .filter((t) => t !== ''),
      };
    });
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const databaseUrl = env.DATABASE_URL?.trim() || 'sqlite:data/solstream.sqlite';
  const { dialect, sqlitePath } = parseDatabaseUrl(databaseUrl, cwd);
  const logLevel = (env.LOG_LEVEL?.trim() || 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  }
  const logFormat = (env.SOLSTREAM_LOG_FORMAT?.trim().toLowerCase() || 'auto') as Config['logFormat'];
  if (!['auto', 'json', 'pretty'].includes(logFormat)) {
    throw new ConfigError(`SOLSTREAM_LOG_FORMAT must be auto, json or pretty, got "${env.SOLSTREAM_LOG_FORMAT}"`);
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
  const ingestRaw = env.SOLSTREAM_INGEST?.trim().toLowerCase() || 'auto';
  if (!['auto', 'rpc', 'local', 'off'].includes(ingestRaw)) {
    throw new ConfigError(`SOLSTREAM_INGEST must be auto, rpc, local or off, got "${env.SOLSTREAM_INGEST}"`);
  }
  const ingest =
    ingestRaw === 'auto' ? (env.SOLANA_RPC_URL?.trim() ? 'rpc' : 'local') : (ingestRaw as Config['ingest']);
  return {
    databaseUrl,
    dialect,
    sqlitePath,
    host,
    port: readInt(env, 'PORT', 8080, 0, 65535),
    logLevel,
    logFormat,
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
    ingest,
    localCluster: loadLocalClusterConfig(env),
    solana: loadSolanaConfig(env), // ingest settings (owned by src/ingest)
    ...loadScaleOut(env, dialect), // scale-out settings (owned by src/nats)
  };
}
