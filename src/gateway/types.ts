// The gateway core's boundary: what it needs from a transport socket, who is connected, what it
// reports to metrics, and what it offers to the transport adapter (src/gateway/ws.ts).
import type { SpeculativeFeed } from '../capture/speculative.ts';
import type { ChangeFeed } from '../capture/types.ts';
import type { Config, Dialect } from '../config.ts';
import type { Topic } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import type { MessageType } from '../wire/protocol.ts';

/** What the core needs from a transport connection. */
export interface GatewaySocket {
  /**
   * Queues a text frame (a string, or its UTF-8 bytes, which may be shared with other sockets and
   * must not be changed); `sent` runs once it is handed to the operating system.
   */
  send(data: string | Buffer, sent?: (error?: Error) => void): void;
  /** Bytes queued and not yet handed to the operating system. */
  readonly bufferedAmount: number;
  readonly isOpen: boolean;
  close(code: number, reason: string): void;
}

/** Who is connected: the API key's name (null on an open gateway) and the topics it may read. */
export interface Principal {
  readonly key: string | null;
  readonly topics: readonly string[] | '*';
}

/** Counters the core reports to; src/http/metrics.ts implements them with prom-client. */
export interface GatewayMetrics {
  connectionOpened(): void;
  connectionClosed(): void;
  subscriptionAdded(topic: Topic): void;
  subscriptionRemoved(topic: Topic): void;
  /** One server message handed to a socket, by message type. */
  messageSent(type: MessageType): void;
  /** Changes not delivered because the connection was cut off, by reason. */
  messagesDropped(reason: 'slow_consumer' | 'closed', count: number): void;
  /** A live change handed to its first socket; `committedAt` is when its transaction committed. */
  changeDelivered(committedAt: number): void;
}

export const noMetrics: GatewayMetrics = {
  connectionOpened: () => undefined,
  connectionClosed: () => undefined,
  subscriptionAdded: () => undefined,
  subscriptionRemoved: () => undefined,
  messageSent: () => undefined,
  messagesDropped: () => undefined,
  changeDelivered: () => undefined,
};

export interface GatewayOptions {
  readonly feed: ChangeFeed;
  /**
   * What is processed but not yet committed, and the finalized slot; without it, processed
   * subscriptions get only committed changes and finalized ones are refused.
   */
  readonly speculative?: SpeculativeFeed | undefined;
  readonly dialect: Dialect;
  readonly limits: Config['ws'];
  readonly logger: Logger;
  readonly metrics?: GatewayMetrics;
}

export interface ConnectionHandle {
  /** A text frame arrived. */
  message(data: string): void;
  /** A binary frame arrived (the protocol is text-only). */
  binary(): void;
  /** The transport closed; release every subscription. */
  closed(): void;
}

export interface Gateway {
  opened(socket: GatewaySocket, principal: Principal): ConnectionHandle;
  /** Open connections. */
  readonly connections: number;
  /** Closes every connection with `code` (1001 on shutdown) and stops accepting messages. */
  closeAll(code: number, reason: string): void;
}
