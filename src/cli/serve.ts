// `solstream serve`: migrate (by default, under the database's migrate lock), then run change
// capture and the gateway on one port, and take part in ingest: the one process per database that
// holds the ingest lock ingests (from SOLANA_RPC_URL, or from an in-process local cluster on a
// first run), the others stand by. Stops cleanly on SIGTERM / SIGINT, closing in the reverse order
// of start.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import client from 'prom-client';
import type { Config } from '../config.ts';
import { describeTarget, openDatabase } from '../db/connection.ts';
import { migrateUp } from '../db/migrator.ts';
import { startServer } from '../http/server.ts';
import { startIngester } from '../ingest/ingester.ts';
import { createIngestMetrics } from '../ingest/metrics.ts';
import { superviseIngest } from '../ingest/ownership.ts';
import { createLogger } from '../log.ts';
import { openCapture } from '../nats/capture.ts';
import { SpeculativeFeed } from '../capture/speculative.ts';
import { openSpeculativeBus } from '../capture/speculative-bus.ts';
import { buildPrograms, parseProgramsConfig } from '../programs/registry.ts';
import { localClusterOptions, startLocalCluster } from '../simulate/cluster.ts';

/** Where `npm run build` puts the dashboard that the gateway serves at `/`. */
const DASHBOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../clients/dashboard/dist');

export async function run(_argv: string[], config: Config): Promise<number> {
  const logger = createLogger(config);
  const stack: { name: string; close: () => Promise<void> }[] = [];
  /** Non-zero when the process stops on its own account (the database's epoch changed), so a supervisor restarts it. */
  let exitCode = 0;
  const shutdown = async () => {
    for (const item of stack.reverse()) {
      await item.close().catch((error: Error) => logger.error({ err: error.message }, `closing ${item.name} failed`));
    }
  };
  try {
    // Programs are checked before anything starts, so a bad SOLSTREAM_PROGRAMS stops the start at once.
    const programs =
      config.ingest === 'off'
        ? []
        : buildPrograms(parseProgramsConfig(config.solana.programs), {
            onUnknown: (report) => logger.warn(report, 'unknown discriminator; skipped'),
          });
    const db = await openDatabase(config);
    stack.push({ name: 'database', close: () => db.close() });
    logger.info({ database: describeTarget(config) }, 'database connected');
    if (config.migrateOnStart) {
      const applied = await migrateUp(db);
      if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    }
    // Direct mode, or NATS mode when NATS_URL is set (then also the relay, when this process holds its lock).
    // A restore under the running process changes the log's epoch: stop, to come back with the new one.
    const { feed, relay } = await openCapture(db, config, logger, (name, close) => stack.push({ name, close }), {
      onEpochChange: () => {
        exitCode = 1;
        process.kill(process.pid, 'SIGTERM');
      },
    });
    const registry = new client.Registry();
    // Processed changes and slot fates, from whichever process ingests, to this gateway.
    const bus = openSpeculativeBus(db, logger);
    stack.push({ name: 'speculative bus', close: () => bus.close() });
    const speculative = new SpeculativeFeed({ bus, feed, logger });
    stack.push({ name: 'speculative feed', close: () => speculative.close() });

    let solana = config.solana;
    if (config.ingest === 'local') {
      const cluster = await startLocalCluster({
        ...localClusterOptions(config.localCluster),
        port: 0,
        onError: (error) => logger.error({ err: (error as Error).message }, 'local cluster activity failed'),
      });
      stack.push({ name: 'local cluster', close: () => cluster.close() });
      solana = {
        ...solana,
        rpcUrl: cluster.rpcUrl,
        wsUrl: cluster.wsUrl,
        // SOLSTREAM_SOURCE=geyser with no endpoint of its own follows the local cluster's.
        geyserUrl: solana.geyserUrl ?? cluster.geyserUrl,
      };
      logger.info(
        {
          rpcUrl: cluster.rpcUrl,
          geyserUrl: cluster.geyserUrl,
          seed: config.localCluster.seed,
          rate: config.localCluster.rate,
          forkRate: config.localCluster.forkRate,
        },
        'no SOLANA_RPC_URL: ingesting from the offline local cluster (set SOLSTREAM_INGEST=off to serve without it)',
      );
    }
    const ingestMetrics = createIngestMetrics(registry);
    const ownership =
      config.ingest === 'off'
        ? undefined
        : superviseIngest({
            db,
            logger,
            metrics: ingestMetrics,
            start: (lease, failed) =>
              startIngester({
                db,
                config: { solana },
                programs,
                feed,
                logger,
                lease,
                metrics: ingestMetrics,
                onFailure: failed,
                speculative: bus,
              }),
          });
    if (ownership !== undefined) stack.push({ name: 'ingest', close: () => ownership.close() });

    const dashboard = fs.existsSync(path.join(DASHBOARD_DIR, 'index.html')) ? DASHBOARD_DIR : undefined;
    if (dashboard === undefined) logger.warn('the dashboard is not built (npm run build): / is not served');
    const server = await startServer({
      config,
      db,
      feed,
      speculative,
      relay,
      logger,
      registry,
      ...(ownership === undefined ? {} : { ingest: ownership }),
      ...(dashboard ? { staticDir: dashboard } : {}),
    });
    // Stops accepting connections before ingest and capture go.
    stack.push({ name: 'server', close: () => server.close() });
    logger.info({ url: server.url, programs: programs.map((p) => p.name) }, 'solstream is serving');
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
      void shutdown().then(() => resolve(exitCode));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
