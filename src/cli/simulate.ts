// `solstream simulate`: the offline local cluster, speaking Solana JSON-RPC on --port and PubSub on
// --port + 1, Yellowstone gRPC on --grpc-port, playing program activity with commitment delays and
// minority forks. Flags override the SOLSTREAM_LOCAL_* settings, which give the defaults.
// SIGUSR1 pauses the activity, SIGUSR2 resumes it, SIGHUP drops every PubSub connection (as a
// validator drops a lagging client).
import { parseArgs } from 'node:util';
import { formatCommitmentDelay, parseCommitmentDelay } from '../simulate/commitment.ts';
import type { Config } from '../config.ts';
import { createLogger } from '../log.ts';
import { localClusterOptions, startLocalCluster } from '../simulate/cluster.ts';

const USAGE = `solstream simulate [options]
  --seed N              seed of the activity, forks and signatures (SOLSTREAM_LOCAL_SEED, 1)
  --rate TX_PER_SECOND  transactions played per second (SOLSTREAM_LOCAL_RATE, 5)
  --port PORT           JSON-RPC port; PubSub listens on PORT + 1 (8899)
  --host HOST           address to listen on (127.0.0.1)
  --grpc-port PORT      Yellowstone gRPC port (SOLSTREAM_LOCAL_GRPC_PORT, 10000)
  --confirm-after D     processed -> confirmed: 0, 3slots, 1500ms, 2s (SOLSTREAM_LOCAL_CONFIRM_AFTER, 2s)
  --finalize-after D    processed -> finalized (SOLSTREAM_LOCAL_FINALIZE_AFTER, 15s)
  --fork-rate P         chance a transaction opens a minority fork, 0 to 1 (SOLSTREAM_LOCAL_FORK_RATE, 0.05)
  --fork-slots N        longest fork in slots (SOLSTREAM_LOCAL_FORK_SLOTS, 2)
  --replay-slots N|off  slots kept for gRPC from_slot; off: not supported (SOLSTREAM_LOCAL_REPLAY_SLOTS, 150)`;

function number(name: string, raw: string | undefined, fallback: number, max: number, whole = true): number {
  if (raw === undefined) return fallback;
  const pattern = whole ? /^\d+$/ : /^\d*\.?\d+$/;
  if (!pattern.test(raw) || Number(raw) > max)
    throw new Error(`--${name} must be a ${whole ? 'whole ' : ''}number between 0 and ${max}, got "${raw}"`);
  return Number(raw);
}

export async function run(argv: string[], config: Config): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string' },
      rate: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'grpc-port': { type: 'string' },
      'confirm-after': { type: 'string' },
      'finalize-after': { type: 'string' },
      'fork-rate': { type: 'string' },
      'fork-slots': { type: 'string' },
      'replay-slots': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const local = config.localCluster;
  const delay = (flag: string, raw: string | undefined) =>
    raw === undefined ? undefined : parseCommitmentDelay(raw, `--${flag}`);
  const replayRaw = values['replay-slots'];
  const settings = {
    ...local,
    seed: number('seed', values.seed, local.seed, Number.MAX_SAFE_INTEGER),
    rate: number('rate', values.rate, local.rate, 100_000, false),
    grpcPort: number('grpc-port', values['grpc-port'], local.grpcPort ?? 10_000, 65535),
    confirmAfter: delay('confirm-after', values['confirm-after']) ?? local.confirmAfter,
    finalizeAfter: delay('finalize-after', values['finalize-after']) ?? local.finalizeAfter,
    forkRate: number('fork-rate', values['fork-rate'], local.forkRate, 1, false),
    forkSlots: number('fork-slots', values['fork-slots'], local.forkSlots, 64),
    replaySlots:
      replayRaw === undefined
        ? local.replaySlots
        : replayRaw === 'off'
          ? null
          : number('replay-slots', replayRaw, 150, 1_000_000),
  };
  const logger = createLogger(config, 'solstream-simulate');
  const cluster = await startLocalCluster({
    ...localClusterOptions(settings),
    port: number('port', values.port, 8899, 65534),
    host: values.host ?? '127.0.0.1',
    onError: (error) => logger.error({ err: (error as Error).message }, 'activity step failed'),
  });
  logger.info(
    {
      rpcUrl: cluster.rpcUrl,
      wsUrl: cluster.wsUrl,
      geyserUrl: cluster.geyserUrl,
      confirmAfter: formatCommitmentDelay(settings.confirmAfter),
      finalizeAfter: formatCommitmentDelay(settings.finalizeAfter),
      forkRate: settings.forkRate,
      replaySlots: settings.replaySlots ?? 'off',
    },
    'local cluster running (SOLANA_RPC_URL / SOLANA_WS_URL / Yellowstone endpoint)',
  );
  // SIGUSR1 pauses the activity and SIGUSR2 resumes it (the RPC keeps serving): a still chain to
  // compare a database with. SIGHUP cuts every PubSub connection.
  const pause = () => {
    cluster.player.stop();
    logger.info({ transactions: cluster.ledger.transactionCount(), slot: cluster.ledger.slot() }, 'activity paused');
  };
  const resume = () => {
    cluster.player.start();
    logger.info('activity resumed');
  };
  const drop = () => {
    logger.info({ connections: cluster.dropWebsockets() }, 'websockets dropped');
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
