// `solstream serve`: migrate (by default), then run change capture and the gateway on one port;
// stop cleanly on SIGTERM / SIGINT, closing in the reverse order of start.
import type { Config } from '../config.ts';
import { openChangeFeed } from '../capture/index.ts';
import { describeTarget, openDatabase } from '../db/connection.ts';
import { migrateUp } from '../db/migrator.ts';
import { startServer } from '../http/server.ts';
import { createLogger } from '../log.ts';

export async function run(_argv: string[], config: Config): Promise<number> {
  const logger = createLogger(config);
  const stack: { name: string; close: () => Promise<void> }[] = [];
  const shutdown = async () => {
    for (const item of stack.reverse()) {
      await item.close().catch((error: Error) => logger.error({ err: error.message }, `closing ${item.name} failed`));
    }
  };
  try {
    const db = await openDatabase(config);
    stack.push({ name: 'database', close: () => db.close() });
    logger.info({ database: describeTarget(config) }, 'database connected');
    if (config.migrateOnStart) {
      const applied = await migrateUp(db);
      if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    }
    const feed = await openChangeFeed(db, config, logger);
    stack.push({ name: 'change feed', close: () => feed.close() });
    const server = await startServer({ config, db, feed, logger });
    stack.push({ name: 'server', close: () => server.close() });
    logger.info({ url: server.url }, 'solstream is serving');
  } catch (error) {
    logger.error({ err: (error as Error).message }, 'start failed');
    await shutdown();
    return 1;
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down');
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      void shutdown().then(() => resolve(0));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
