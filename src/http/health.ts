// Readiness: the database answers, the change feed is receiving changes, and, in the process that
// ingests, the ingester keeps up (the ingest state of the whole deployment is reported either way).
import type { ChangeFeed } from '../capture/types.ts';
import type { Database } from '../db/connection.ts';
import type { IngestReport } from '../ingest/ownership.ts';
import type { RelayStatus } from '../nats/relay.ts';

export interface Readiness {
  readonly ready: boolean;
  readonly database: 'up' | 'down';
  readonly feed: 'live' | 'down';
  /** Who ingests and how this process's ingester is doing; absent when ingest is off. */
  readonly ingest?: IngestReport;
  /** Why the database check failed, when it did. */
  readonly error?: string;
  /** NATS mode only: whether this process is the relay or stands by (either is ready). */
  readonly relay?: 'leader' | 'standby';
}

/** What readiness reads of ingest. */
export interface IngestReporter {
  report(): Promise<IngestReport>;
}

/** How long the database gets to answer `SELECT 1` before it counts as down. */
const DATABASE_TIMEOUT_MS = 2000;

export async function checkReadiness(
  db: Database,
  feed: ChangeFeed,
  ingest?: IngestReporter,
  relay: RelayStatus | null = null,
): Promise<Readiness> {
  let database: Readiness['database'] = 'up';
  let error: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      db.sequelize.query('SELECT 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${DATABASE_TIMEOUT_MS} ms`)), DATABASE_TIMEOUT_MS);
      }),
    ]);
  } catch (failure) {
    database = 'down';
    error = (failure as Error).message;
  } finally {
    clearTimeout(timer);
  }
  const live = feed.isLive() ? 'live' : 'down';
  const report = ingest === undefined || database === 'down' ? undefined : await ingest.report();
  // A lagging ingester makes its own process unready, so an orchestrator may restart it and let
  // a standby take over; standbys stay ready whatever the ingester does.
  const lagging = report?.ingester?.phase === 'lagging';
  return {
    ready: database === 'up' && live === 'live' && !lagging,
    database,
    feed: live,
    ...(report === undefined ? {} : { ingest: report }),
    ...(error === undefined ? {} : { error }),
    ...(relay === null ? {} : { relay: relay.leading ? 'leader' : 'standby' }),
  };
}
