// One ingester per database, whichever of the processes sharing it that is: each `serve` (or
// `ingest`) process runs this supervisor; the one holding the database's `ingest` lock ingests,
// the others stand by and take over within about a second of the holder's death, continuing from
// the checkpoints it wrote. The holder also claims the ingest lease, which every write checks, so a
// holder that lost its lock without noticing cannot write beside its successor.
import type { Database } from '../db/connection.ts';
import { claimLease, databaseLock, PROCESS_IDENTITY, readLease, type Lease } from '../db/locks.ts';
import type { Logger } from '../log.ts';
import type { Ingester, IngesterStatus } from './ingester.ts';
import { noIngestMetrics, type IngestMetrics, type IngestRole } from './metrics.ts';

export interface IngestOwnershipOptions {
  readonly db: Database;
  readonly logger: Logger;
  readonly metrics?: IngestMetrics;
  /** Starts this process's ingester once it holds the lock; `failed` stops it from the inside. */
  readonly start: (lease: Lease, failed: (error: Error) => void) => Ingester;
  /** How often a standby tries the lock, in ms. */
  readonly retryMs?: number;
}

/** What /readyz says about ingest, seen from this process. */
export interface IngestReport {
  readonly role: IngestRole;
  /** This process, as lock holders are named (host:pid). */
  readonly process: string;
  /** The process that holds the ingest lease (the one ingesting, or the last one that did). */
  readonly holder: string | null;
  readonly epoch: number | null;
  /** This process's ingester, while it ingests. */
  readonly ingester?: IngesterStatus;
}

export interface IngestOwnership {
  readonly role: IngestRole;
  /** The ingester while this process ingests. */
  readonly ingester: Ingester | null;
  /** Resolves when this process ingests and its ingester is ready (tests, benchmarks). */
  readonly ingesting: Promise<Ingester>;
  report(): Promise<IngestReport>;
  close(): Promise<void>;
}

export function superviseIngest(options: IngestOwnershipOptions): IngestOwnership {
  const { db, logger } = options;
  const metrics = options.metrics ?? noIngestMetrics;
  const retryMs = options.retryMs ?? 1000;
  const lock = databaseLock(db, 'ingest');
  const abort = new AbortController();
  let role: IngestRole = 'standby';
  let ingester: Ingester | null = null;
  let closing = false;
  let resolveIngesting!: (ingester: Ingester) => void;
  const ingesting = new Promise<Ingester>((resolve) => (resolveIngesting = resolve));

  const setRole = (next: IngestRole) => {
    role = next;
    metrics.role(next);
  };

  /** Stops this process's ingester and goes back to waiting for the lock. */
  const stepDown = async (why: string) => {
    const current = ingester;
    ingester = null;
    if (current === null) return;
    logger.warn({ why }, 'this process stops ingesting');
    await current.close().catch(() => undefined);
    await lock.release();
    if (!closing) {
      setRole('standby');
      void loop();
    }
  };

  const loop = async (): Promise<void> => {
    try {
      if (role === 'standby')
        logger.info({ process: PROCESS_IDENTITY }, 'waiting for the ingest lock (another process may be ingesting)');
      await lock.acquire({ retryMs, signal: abort.signal });
    } catch {
      return; // closed while waiting
    }
    if (closing) {
      await lock.release();
      return;
    }
    lock.onLost((error) => void stepDown(`the ingest lock was lost: ${error.message}`));
    try {
      const lease = await claimLease(db, 'ingest');
      logger.info({ epoch: lease.epoch, process: lease.holder }, 'this process ingests');
      setRole('ingesting');
      const started = options.start(lease, (error) => void stepDown(error.message));
      ingester = started;
      started.ready.then(
        () => resolveIngesting(started),
        () => undefined,
      );
    } catch (error) {
      logger.error({ err: (error as Error).message }, 'could not start ingesting; retrying');
      await lock.release();
      setTimeout(() => void loop(), retryMs).unref();
    }
  };

  setRole('standby');
  void loop();

  return {
    get role() {
      return role;
    },
    get ingester() {
      return ingester;
    },
    ingesting,
    async report() {
      const lease = await readLease(db, 'ingest').catch(() => null);
      return {
        role,
        process: PROCESS_IDENTITY,
        holder: lease?.holder ?? null,
        epoch: lease?.epoch ?? null,
        ...(ingester === null ? {} : { ingester: ingester.status() }),
      };
    },
    async close() {
      closing = true;
      abort.abort();
      const current = ingester;
      ingester = null;
      await current?.close();
      await lock.release();
      setRole('stopped');
    },
  };
}
