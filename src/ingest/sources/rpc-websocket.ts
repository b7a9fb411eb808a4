// The websocket RPC source: per program, a program-account subscription and a logs subscription
// through web3.js; a logged signature is fetched with getTransaction. web3.js reconnects a dropped
// websocket and resubscribes; the drop itself is reported as a gap.
import { PublicKey } from '@solana/web3.js';
import type { Commitment } from '../../config.ts';
import type { Logger } from '../../log.ts';
import type { ChainReader } from '../chain.ts';
import { watchSocket, type SocketWatch } from './socket-state.ts';
import type { LiveEvents, LiveSource } from './types.ts';

export interface RpcWebSocketSourceOptions {
  readonly chain: ChainReader;
  readonly programIds: readonly string[];
  readonly commitment: Commitment;
  readonly logger: Logger;
  /** Also follow slots (`slotSubscribe`: each slot's parent, the root), for the processed stream. */
  readonly slotStatuses?: boolean;
  /**
   * Follow transactions (logs subscriptions and getTransaction; default true). The processed stream
   * turns them off: getTransaction answers at confirmed at the earliest, too late to be ahead.
   */
  readonly transactions?: boolean;
}

export function rpcWebSocketSource(options: RpcWebSocketSourceOptions): LiveSource {
  const { chain, logger } = options;
  const connection = chain.connection;
  const subscriptionIds: number[] = [];
  const removals: (() => Promise<void>)[] = [];
  let watch: SocketWatch | null = null;
  let closed = false;

  return {
    name: 'rpc-websocket',
    replays: false,
    start(events: LiveEvents) {
      watch = watchSocket(connection, () => {
        if (!closed) events.gap('the RPC websocket dropped');
      });
      for (const programId of options.programIds) {
        const key = new PublicKey(programId);
        const accountId = connection.onProgramAccountChange(
          key,
          (info, context) => {
            events.slot(context.slot);
            events.account(programId, info.accountId.toBase58(), info.accountInfo.data, context.slot);
          },
          { commitment: options.commitment, encoding: 'base64' },
        );
        subscriptionIds.push(accountId);
        removals.push(() => connection.removeProgramAccountChangeListener(accountId));
        if (options.transactions === false) continue;
        const logsId = connection.onLogs(
          key,
          (logs, context) => {
            events.slot(context.slot);
            const fetched = chain.transaction(logs.signature).catch((error: unknown) => {
              if (closed) return null;
              // Without this transaction the stretch since the checkpoint is no longer complete.
              logger.warn(
                { signature: logs.signature, program: programId, err: (error as Error).message },
                'live transaction unavailable; catching up',
              );
              events.gap(`transaction ${logs.signature} unavailable`);
              return null;
            });
            events.transaction(programId, logs.signature, fetched);
          },
          options.commitment,
        );
        subscriptionIds.push(logsId);
        removals.push(() => connection.removeOnLogsListener(logsId));
      }
      if (options.slotStatuses === true) {
        // slotSubscribe, which every node serves (slotsUpdatesSubscribe is unstable and often
        // turned off by providers): each new bank with its parent, and the node's root. Not
        // counted in `subscribed()`: it only settles speculative changes, and confirmations are
        // read (getSlot at confirmed) by the processed stream itself.
        const slotsId = connection.onSlotChange(({ slot, parent, root }) => {
          events.slotStatus?.(slot, 'processed', parent);
          events.slotStatus?.(root, 'finalized');
        });
        removals.push(() => connection.removeSlotChangeListener(slotsId));
      }
    },
    subscribed: () => watch !== null && watch.allSubscribed(subscriptionIds),
    async close() {
      closed = true;
      watch?.stop();
      await Promise.allSettled(removals.map((remove) => remove()));
      watch?.closeSocket();
    },
  };
}
