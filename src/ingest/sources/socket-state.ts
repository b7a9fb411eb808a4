// What web3.js 1.x does not expose publicly: when its PubSub websocket drops, and whether each
// subscription is live on the server again. The ingester needs both to know when a gap may have
// opened and when a catch-up can start without leaving a new one. Kept to this one module, typed
// narrowly, and checked at start so a web3.js upgrade that moves them fails loudly.
import type { Connection } from '@solana/web3.js';

type SubscriptionState = 'pending' | 'subscribing' | 'subscribed' | 'unsubscribing' | 'unsubscribed';

interface ConnectionInternals {
  _rpcWebSocket: {
    on(event: 'open' | 'close', listener: () => void): void;
    off?(event: string, listener: () => void): void;
    close(): void;
    reconnect: boolean;
    reconnect_timer_id?: ReturnType<typeof setTimeout>;
  };
  _subscriptionsByHash: Record<string, { state: SubscriptionState } | undefined>;
  _subscriptionHashByClientSubscriptionId: Record<number, string | undefined>;
}

function internals(connection: Connection): ConnectionInternals {
  const c = connection as unknown as Partial<ConnectionInternals>;
  if (
    typeof c._rpcWebSocket?.on !== 'function' ||
    typeof c._subscriptionsByHash !== 'object' ||
    typeof c._subscriptionHashByClientSubscriptionId !== 'object'
  ) {
    throw new Error(
      'this version of @solana/web3.js does not expose its websocket state; solstream needs web3.js 1.x (>= 1.98)',
    );
  }
  return c as ConnectionInternals;
}

export interface SocketWatch {
  /** True when every given subscription is confirmed by the server. */
  allSubscribed(ids: readonly number[]): boolean;
  stop(): void;
  /** Closes the websocket now rather than after web3.js's idle delay (at shutdown). */
  closeSocket(): void;
}

/** Calls `onDrop` whenever the PubSub websocket closes (web3.js then reconnects and resubscribes). */
export function watchSocket(connection: Connection, onDrop: () => void): SocketWatch {
  const c = internals(connection);
  let stopped = false;
  const listener = () => {
    if (!stopped) onDrop();
  };
  c._rpcWebSocket.on('close', listener);
  return {
    allSubscribed(ids) {
      return ids.every((id) => {
        const hash = c._subscriptionHashByClientSubscriptionId[id];
        return hash !== undefined && c._subscriptionsByHash[hash]?.state === 'subscribed';
      });
    },
    stop() {
      stopped = true;
      c._rpcWebSocket.off?.('close', listener);
    },
    closeSocket() {
      // For good: web3.js would otherwise keep reconnecting to an endpoint nobody listens to.
      c._rpcWebSocket.reconnect = false;
      clearTimeout(c._rpcWebSocket.reconnect_timer_id);
      try {
        c._rpcWebSocket.close();
      } catch {
        // already closed
      }
    },
  };
}
