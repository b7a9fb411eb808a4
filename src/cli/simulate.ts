// `solstream simulate [--seed N] [--rate TX_PER_SECOND] [--port PORT] [--host HOST]`: the offline
// local cluster, speaking Solana JSON-RPC on PORT and PubSub on PORT + 1, playing program activity.
// SIGUSR1 pauses the activity, SIGUSR2 resumes it, SIGHUP drops every PubSub connection (as a
// validator drops a lagging client).
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { createLogger } from '../log.ts';
import { startLocalCluster } from '../simulate/cluster.ts';

function wholeNumber(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) > max)
    throw new Error(`--${name} must be a number between 0 and ${max}, got "${raw}"`);
  return Number(raw);
}

export async function run(argv: string[], config: Config): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { seed: { type: 'string' }, rate: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
    strict: true,
  });
  const logger = createLogger(config, 'solstream-simulate');
  const cluster = await startLocalCluster({
    seed: wholeNumber('seed', values.seed, 1, Number.MAX_SAFE_INTEGER),
    rate: wholeNumber('rate', values.rate, 5, 100_000),
    port: wholeNumber('port', values.port, 8899, 65534),
    host: values.host ?? '127.0.0.1',
    onError: (error) => logger.error({ err: (error as Error).message }, 'activity step failed'),
  });
  logger.info(
    { rpcUrl: cluster.rpcUrl, wsUrl: cluster.wsUrl },
    'local cluster running (SOLANA_RPC_URL / SOLANA_WS_URL)',
  );
  // SIGUSR1 pauses the activity and SIGUSR2 resumes it (the RPC keeps serving): a still chain to
  // compare a database with. SIGHUP cuts every PubSub connection.
  const pause = () => {
    cluster.player?.stop();
    logger.info({ transactions: cluster.ledger.transactionCount(), slot: cluster.ledger.slot() }, 'activity paused');
  };
  const resume = () => {
    cluster.player?.start();
    logger.info('activity resumed');
  };
  const drop = () => {
    cluster.dropConnections();
    logger.info('websockets dropped');
  };
  process.on('SIGUSR1', pause);
  process.on('SIGUSR2', resume);
  process.on('SIGHUP', drop);
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal, transactions: cluster.ledger.transactionCount() }, 'stopping the local cluster');
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      process.off('SIGUSR1', pause);
      process.off('SIGUSR2', resume);
      process.off('SIGHUP', drop);
      void cluster.close().then(() => resolve(0));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
