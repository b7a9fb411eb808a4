// The whole offline local cluster in one call: ledger, JSON-RPC + PubSub server, activity player.
// `solstream simulate` runs it alone; `solstream serve` starts it on a first run with no RPC configured.
import { LocalLedger } from './ledger.ts';
import { startRpcServer } from './rpc-server.ts';
import { createActivityPlayer, type ActivityOptions, type ActivityPlayer } from './activity/player.ts';

export interface LocalClusterOptions {
  /** JSON-RPC port (the websocket listens on port + 1); 0 for any free ports. */
  readonly port: number;
  readonly host?: string;
  /** Same seed, same activity and signatures. */
  readonly seed: number;
  /** Transactions per second the activity player submits; 0 to serve the ledger without activity. */
  readonly rate: number;
  /** Programs to play and their ids (defaults: all, at their mainnet ids). */
  readonly programs?: ActivityOptions['programs'];
  readonly onError?: (error: unknown) => void;
}

export interface LocalCluster {
  readonly rpcUrl: string;
  readonly wsUrl: string;
  readonly ledger: LocalLedger;
  readonly player: ActivityPlayer | null;
  /** Terminates every PubSub connection, as a validator drops a lagging client. */
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const ledger = new LocalLedger({ seed: options.seed });
  const server = await startRpcServer({
    ledger,
    port: options.port,
    ...(options.host === undefined ? {} : { host: options.host }),
  });
  const player =
    options.rate > 0
      ? createActivityPlayer({
          ledger,
          seed: options.seed,
          ratePerSecond: options.rate,
          ...(options.programs === undefined ? {} : { programs: options.programs }),
          ...(options.onError === undefined ? {} : { onError: options.onError }),
        })
      : null;
  player?.start();
  return {
    rpcUrl: server.rpcUrl,
    wsUrl: server.wsUrl,
    ledger,
    player,
    dropConnections: () => server.dropConnections(),
    async close() {
      player?.stop();
      await server.close();
    },
  };
}
