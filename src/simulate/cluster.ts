// The whole offline local cluster in one call: ledger, JSON-RPC + PubSub server, Yellowstone
// (Geyser gRPC) endpoint, commitment clock and activity player. `solstream simulate` runs it
// alone; `solstream serve` starts it on a first run with no RPC configured. Its methods are the
// handles an end-to-end test needs: fork now, kill the fork, wait for a commitment, break streams.
import type { LocalClusterConfig } from '../config.ts';
import { AT_ONCE, type Commitment, type CommitmentDelay } from './commitment.ts';
import { startCommitmentClock, type CommitmentClock } from './commitment-clock.ts';
import { startGeyserServer, type GeyserServer, type StreamBreak } from './geyser/server.ts';
import { LocalLedger, type LedgerSlot } from './ledger.ts';
import { startRpcServer, type RpcServer } from './rpc-server.ts';
import {
  createActivityPlayer,
  type ActivityOptions,
  type ActivityPlayer,
  type ForkOptions,
} from './activity/player.ts';

export interface GeyserOptions {
  /** gRPC port; 0 (the default) for any free port. */
  readonly port?: number;
  /** Slots kept for `from_slot` (default 150); null: the endpoint answers that from_slot is not supported. */
  readonly replaySlots?: number | null;
  /** How often the endpoint pings each stream (default 10 000 ms, the real server's). */
  readonly pingIntervalMs?: number;
  /** An `x-token` every call must carry (default: none required). */
  readonly xToken?: string;
}

export interface LocalClusterOptions {
  /** JSON-RPC port (the websocket listens on port + 1); 0 for any free ports. */
  readonly port: number;
  readonly host?: string;
  /** Same seed, same activity, forks and signatures. */
  readonly seed: number;
  /** Transactions per second the activity player submits; 0 to leave stepping to the caller. */
  readonly rate: number;
  /** Programs to play and their ids (defaults: all, at their mainnet ids). */
  readonly programs?: ActivityOptions['programs'];
  /** When a processed slot is confirmed (default: at once, so every commitment reads alike). */
  readonly confirmation?: CommitmentDelay;
  /** When a processed slot is finalized (default: at once). */
  readonly finalization?: CommitmentDelay;
  /** Minority forks in the played activity (default: none). */
  readonly forks?: ForkOptions;
  /** The Yellowstone endpoint (default: on, any free port); false for none. */
  readonly geyser?: GeyserOptions | false;
  readonly onError?: (error: unknown) => void;
}

export interface LocalCluster {
  readonly rpcUrl: string;
  readonly wsUrl: string;
  /** The Yellowstone endpoint, or null when it was turned off. */
  readonly geyserUrl: string | null;
  readonly ledger: LocalLedger;
  /** Plays the activity: on its own at `rate`, or one `step()` at a time. */
  readonly player: ActivityPlayer;
  readonly rpc: RpcServer;
  readonly geyser: GeyserServer | null;
  /** The player's next `slots` transactions (default 1) land on a minority fork that later dies. */
  forkNext(slots?: number): void;
  /** Kills the live minority fork now; returns its slots (now dead), oldest first. */
  abandonFork(): LedgerSlot[];
  /** Resolves once `slot` reaches `commitment` (rejects if it dies); waits for a slot not yet produced. */
  waitForCommitment(slot: number, commitment: Commitment): Promise<LedgerSlot>;
  /** Ends every open Geyser Subscribe stream (UNAVAILABLE by default); returns how many. */
  breakGeyserStreams(status?: StreamBreak): number;
  /** Terminates every PubSub websocket, as a provider dropping its clients would; returns how many. */
  dropWebsockets(): number;
  close(): Promise<void>;
}

/**
 * The cluster a `SOLSTREAM_LOCAL_*` configuration describes (ports and error handling are the
 * caller's). `grpcPort` null means any free port.
 */
export function localClusterOptions(
  config: LocalClusterConfig,
): Omit<LocalClusterOptions, 'port' | 'host' | 'onError'> {
  return {
    seed: config.seed,
    rate: config.rate,
    confirmation: config.confirmAfter,
    finalization: config.finalizeAfter,
    forks: { rate: config.forkRate, maxSlots: config.forkSlots },
    geyser: {
      port: config.grpcPort ?? 0,
      replaySlots: config.replaySlots,
      ...(config.grpcXToken === null ? {} : { xToken: config.grpcXToken }),
    },
  };
}

/** The ledger's depth for a delay, or null when the delay is a time the clock keeps. */
const depthOf = (delay: CommitmentDelay): number | null => ('slots' in delay ? delay.slots : null);
const msOf = (delay: CommitmentDelay): number | null => ('ms' in delay ? delay.ms : null);

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const confirmation = options.confirmation ?? AT_ONCE;
  const finalization = options.finalization ?? AT_ONCE;
  const ledger = new LocalLedger({
    seed: options.seed,
    confirmationDepth: depthOf(confirmation),
    finalizationDepth: depthOf(finalization),
  });
  const closers: (() => Promise<void> | void)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close();
  };
  try {
    let clock: CommitmentClock | null = null;
    if (msOf(confirmation) !== null || msOf(finalization) !== null) {
      clock = startCommitmentClock({
        ledger,
        confirmMs: msOf(confirmation),
        finalizeMs: msOf(finalization),
        ...(options.onError === undefined ? {} : { onError: options.onError }),
      });
      closers.push(() => clock?.close());
    }
    const rpc = await startRpcServer({
      ledger,
      port: options.port,
      ...(options.host === undefined ? {} : { host: options.host }),
    });
    closers.push(() => rpc.close());
    const geyserOptions = options.geyser ?? {};
    const geyser =
      geyserOptions === false
        ? null
        : await startGeyserServer({
            ledger,
            ...geyserOptions,
            ...(options.host === undefined ? {} : { host: options.host }),
          });
    if (geyser !== null) closers.push(() => geyser.close());
    const player = createActivityPlayer({
      ledger,
      seed: options.seed,
      ratePerSecond: options.rate,
      ...(options.programs === undefined ? {} : { programs: options.programs }),
      ...(options.forks === undefined ? {} : { forks: options.forks }),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
    });
    closers.push(() => player.stop());
    if (options.rate > 0) player.start();
    return {
      rpcUrl: rpc.rpcUrl,
      wsUrl: rpc.wsUrl,
      geyserUrl: geyser?.url ?? null,
      ledger,
      player,
      rpc,
      geyser,
      forkNext: (slots = 1) => player.forkNext(slots),
      abandonFork: () => ledger.abandonFork(),
      waitForCommitment: (slot, commitment) => ledger.whenSlotReaches(slot, commitment),
      breakGeyserStreams: (status) => geyser?.breakStreams(status) ?? 0,
      dropWebsockets() {
        const count = rpc.pubsub.connections().length;
        rpc.dropConnections();
        return count;
      },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
