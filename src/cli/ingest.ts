// `solstream ingest`: the ingester alone, writing into DATABASE_URL from SOLANA_RPC_URL /
// SOLANA_WS_URL for the programs of SOLSTREAM_PROGRAMS. Like `serve`, it ingests only while it
// holds the database's ingest lock and stands by otherwise. Stops cleanly on SIGTERM / SIGINT.
import type { Config } from '../config.ts';
import { describeTarget, openDatabase } from '../db/connection.ts';
import { migrateUp } from '../db/migrator.ts';
import { startIngester } from '../ingest/ingester.ts';
import { superviseIngest } from '../ingest/ownership.ts';
import { createLogger } from '../log.ts';
import { openSpeculativeBus } from '../capture/speculative-bus.ts';
import { buildPrograms, parseProgramsConfig } from '../programs/registry.ts';

export async function run(_argv: string[], config: Config): Promise<number> {
  const logger = createLogger(config, 'solstream-ingest');
  const programs = buildPrograms(parseProgramsConfig(config.solana.programs), {
    onUnknown: (report) => logger.warn(report, 'unknown discriminator; skipped'),
  });
  const db = await openDatabase(config);
  logger.info(
    { database: describeTarget(config), rpc: config.solana.rpcUrl, ws: config.solana.wsUrl },
    'ingest starting',
  );
  if (config.migrateOnStart) await migrateUp(db);
  // Gateways of other processes hear the processed stream through the database (PostgreSQL NOTIFY);
  // an SQLite database has no such channel, so the ingester alone announces nothing.
  const bus = db.dialect === 'postgres' ? openSpeculativeBus(db, logger) : undefined;
  const ownership = superviseIngest({
    db,
    logger,
    start: (lease, failed) =>
      startIngester({ db, config, programs, logger, lease, onFailure: failed, speculative: bus }),
  });
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal, stats: ownership.ingester?.stats }, 'ingest stopping');
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      void ownership
        .close()
        .then(() => bus?.close())
        .then(() => db.close())
        .then(() => resolve(0));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
