// The protocol core, independent of the websocket library: `makeGateway(options).opened(socket)`
// handles one connection's messages and subscriptions (connection.ts), the join of each new
// subscription (join.ts) and the per-topic fan-out (fanout.ts). src/gateway/ws.ts adapts `ws`
// sockets to it.
import type { Change, ChangeOp } from '../capture/types.ts';
import type { Topic } from '../db/schema.ts';
import { CloseCode } from '../wire/protocol.ts';
import { Connection, type ConnectionHost } from './connection.ts';
import { FanOut } from './fanout.ts';
import type { CompiledFilter } from './filters.ts';
import {
  noMetrics,
  type ConnectionHandle,
  type Gateway,
  type GatewayMetrics,
  type GatewayOptions,
  type GatewaySocket,
  type Principal,
} from './types.ts';

class GatewayCore implements Gateway, ConnectionHost {
  readonly metrics: GatewayMetrics;
  private readonly open = new Set<Connection>();
  private readonly fanOut: FanOut;
  private closing = false;

  constructor(readonly options: GatewayOptions) {
    this.metrics = options.metrics ?? noMetrics;
    this.fanOut = new FanOut(options.feed, this.metrics);
  }

  get connections(): number {
    return this.open.size;
  }

  attach(topic: Topic, target: (change: Change) => void, filter?: CompiledFilter): () => void {
    return this.fanOut.attach(topic, target, filter);
  }

  delivered(change: Change): void {
    this.fanOut.delivered(change);
  }

  view(filter: CompiledFilter, change: Change): ChangeOp | null {
    return this.fanOut.view(filter, change);
  }

  frame(change: Change, key: string, build: () => string): Buffer | string {
    return this.fanOut.frame(change, key, build);
  }

  opened(socket: GatewaySocket, principal: Principal): ConnectionHandle {
    const connection = new Connection(this, socket, principal);
    this.open.add(connection);
    this.metrics.connectionOpened();
    if (this.closing) connection.disconnect(CloseCode.GoingAway, 'server shutting down');
    return connection;
  }

  forget(connection: Connection): void {
    if (this.open.delete(connection)) this.metrics.connectionClosed();
  }

  closeAll(code: number, reason: string): void {
    this.closing = true;
    for (const connection of [...this.open]) connection.disconnect(code, reason);
  }
}

export function makeGateway(options: GatewayOptions): Gateway {
  return new GatewayCore(options);
}
