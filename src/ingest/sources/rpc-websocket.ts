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
        subscriptionIds.push(accountId, logsId);
        removals.push(
          () => connection.removeProgramAccountChangeListener(accountId),
          () => connection.removeOnLogsListener(logsId),
        );
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
