// web3.js 1.x cannot close a Connection, and its websocket client reconnects whenever the server
// goes away. Turning that (private) client's reconnection off before a test stops its cluster
// leaves no client knocking on a closed port.
import type { Connection } from '@solana/web3.js';

export function stopReconnecting(connection: Connection): void {
  (connection as unknown as { _rpcWebSocket: { setAutoReconnect(on: boolean): void } })._rpcWebSocket.setAutoReconnect(
    false,
  );
}
