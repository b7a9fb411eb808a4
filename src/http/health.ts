// Readiness: the database answers and the change feed is receiving changes.
import type { ChangeFeed } from '../capture/types.ts';
import type { Database } from '../db/connection.ts';
import type { RelayStatus } from '../nats/relay.ts';

export interface Readiness {
  readonly ready: boolean;
  readonly database: 'up' | 'down';
  readonly feed: 'live' | 'down';
  /** Why the database check failed, when it did. */
  readonly error?: string;
  /** NATS mode only: whether this process is the relay or stands by (either is ready). */
  readonly relay?: 'leader' | 'standby';
}

/** How long the database gets to answer `SELECT 1` before it counts as down. */
const DATABASE_TIMEOUT_MS = 2000;

export async function checkReadiness(
  db: Database,
  feed: ChangeFeed,
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
  return {
    ready: database === 'up' && live === 'live',
    database,
    feed: live,
    ...(error === undefined ? {} : { error }),
    ...(relay === null ? {} : { relay: relay.leading ? 'leader' : 'standby' }),
  };
}
