// Change capture as the configuration asks for it: direct mode (this process LISTENs, or polls
// SQLite) or NATS mode (live changes from JetStream; this process stands for relay), each with an
// optional read replica for replays and snapshots. Every piece it starts is handed to `track` in
// start order, so the caller closes them in reverse.
import { createChangeFeed, directSource } from '../capture/feed.ts';
import { openDatabaseLogReader } from '../capture/log-reader.ts';
import type { ChangeFeed } from '../capture/types.ts';
import type { Config } from '../config.ts';
import { openDatabase, type Database } from '../db/connection.ts';
import type { Logger } from '../log.ts';
import { readLogIdentity } from '../capture/log-identity.ts';
import { startRelayElection, type RelayStatus } from './relay.ts';
import { jetstreamSource } from './source.ts';
import { connectNats } from './stream.ts';

export type Track = (name: string, close: () => Promise<void>) => void;

/** How often the log's epoch is read again, to notice a restore under a running process. */
export const EPOCH_CHECK_MS = 10_000;

export interface CaptureOptions {
  /**
   * Runs once if the database's epoch changes while this process runs (it was restored from a
   * backup, a standby was promoted): the feed's cursors now name positions of another log, so the
   * process must stop serving them (serve exits, to be restarted with the new epoch).
   */
  readonly onEpochChange?: (previous: string, current: string) => void;
  readonly epochCheckMs?: number;
}

export interface Capture {
  readonly mode: 'direct' | 'nats';
  readonly feed: ChangeFeed;
  /** This process's part in relaying (NATS mode only). */
  readonly relay: RelayStatus | null;
}

export async function openCapture(
  db: Database,
  config: Config,
  logger: Logger,
  track: Track,
  options: CaptureOptions = {},
): Promise<Capture> {
  let replica: Database | null = null;
  if (config.readReplicaUrl !== null) {
    replica = await openDatabase({ databaseUrl: config.readReplicaUrl, dialect: 'postgres', sqlitePath: null });
    track('read replica', () => (replica as Database).close());
  }
  const reader = await openDatabaseLogReader(db, { replica });
  const retentionSeconds = config.changeRetentionSeconds;
  watchEpoch(db, reader.epoch, logger, track, options);
  if (config.nats === null) {
    const feed = await createChangeFeed({ source: directSource(db, config), reader, logger, retentionSeconds });
    track('change feed', () => feed.close());
    return { mode: 'direct', feed, relay: null };
  }
  const nats = await connectNats(config.nats, logger);
  track('NATS connection', () => nats.close());
  // The relay reads the primary's log (a replica may lag): a reader without the replica.
  const primary = replica === null ? reader : await openDatabaseLogReader(db);
  const relay = startRelayElection({
    db,
    reader: primary,
    nats,
    logger,
    pollMs: db.dialect === 'sqlite' ? Math.min(config.sqlitePollMs, config.nats.relayPollMs) : config.nats.relayPollMs,
    retryMs: config.nats.relayRetryMs,
  });
  track('relay', () => relay.close());
  const source = jetstreamSource({ nats, reader, logger, onPoke: () => relay.poke() });
  const feed = await createChangeFeed({ source, reader, logger, retentionSeconds });
  track('change feed', () => feed.close());
  logger.info(
    { stream: config.nats.stream, subjects: `${config.nats.subjectPrefix}.>`, epoch: reader.epoch },
    'NATS mode: live changes from JetStream',
  );
  return { mode: 'nats', feed, relay };
}

function watchEpoch(db: Database, epoch: string, logger: Logger, track: Track, options: CaptureOptions): void {
  let reported = false;
  const timer = setInterval(() => {
    readLogIdentity(db).then(
      (now) => {
        if (now.epoch === epoch || reported) return;
        reported = true;
        logger.error(
          { previous: epoch, current: now.epoch, parts: now.parts },
          "the database's change log epoch changed (restored from a backup, or a standby promoted): its cursors are no longer this process's",
        );
        options.onEpochChange?.(epoch, now.epoch);
      },
      // The database being away is the feed's business (it reports itself down); try again later.
      () => undefined,
    );
  }, options.epochCheckMs ?? EPOCH_CHECK_MS);
  timer.unref();
  track('epoch watch', async () => clearInterval(timer));
}
