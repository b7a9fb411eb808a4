// The `ws` adapter: upgrades HTTP requests on /ws (after the Origin and API-key checks), feeds
// frames to the protocol core, keeps connections alive with ws ping/pong, and closes everything
// with 1001 on shutdown.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { authenticate, originAllowed } from './auth.ts';
import { rawSocketOf, TurnBatcher, type RawSocket } from './batching.ts';
import { CloseCode, SUBPROTOCOL } from '../wire/protocol.ts';
import type { ConnectionHandle, Gateway, GatewaySocket } from './types.ts';

export interface WebSocketGatewayOptions {
  readonly gateway: Gateway;
  readonly config: Pick<Config, 'ws' | 'apiKeys' | 'allowedOrigins'>;
  readonly logger: Logger;
}

export interface WebSocketGateway {
  /** Handles an HTTP upgrade request for the gateway's path. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Open websocket connections. */
  readonly size: number;
  /**
   * Stops accepting, closes every connection with 1001 and waits (at most `graceMs`) for the
   * closing handshakes, so frames already queued are written first; stragglers are terminated.
   */
  close(graceMs?: number): Promise<void>;
}

/** How long a slow consumer gets to take the close frame before its socket is destroyed. */
const SLOW_CONSUMER_GRACE_MS = 1000;

/**
 * The upgrading socket's error listener. Module-level on purpose: a closure made inside
 * handleUpgrade would share its scope's context with the upgrade callback, which holds the request,
 * and so keep every connection's IncomingMessage alive for as long as its socket (~1 KiB each).
 */
const ignoreError = (): void => undefined;

/** Text frames, also when given as bytes. */
const TEXT = { binary: false } as const;

function rejectUpgrade(socket: Duplex, status: number, reason: string, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

/**
 * The core's view of one `ws` connection. Every open connection has one, so it is one small object
 * with its methods on the prototype, and the listeners below are shared functions that find it on
 * the WebSocket (`this`): no closures or contexts per connection.
 */
class WsSocket implements GatewaySocket {
  /** A pong or message arrived since the last heartbeat ping. */
  alive = true;
  connection: ConnectionHandle | null = null;
  private readonly raw: RawSocket | null;

  constructor(
    private readonly ws: WebSocket,
    private readonly batcher: TurnBatcher,
  ) {
    this.raw = rawSocketOf(ws);
  }

  send(data: string | Buffer, sent?: (error?: Error) => void): void {
    const { raw } = this;
    if (raw === null) return this.ws.send(data, TEXT, sent);
    this.batcher.before(raw);
    this.ws.send(data, TEXT, sent);
    this.batcher.after(raw);
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  close(code: number, reason: string): void {
    const { ws } = this;
    ws.close(code, reason);
    if (code === CloseCode.SlowConsumer) {
      setTimeout(() => ws.readyState !== WebSocket.CLOSED && ws.terminate(), SLOW_CONSUMER_GRACE_MS).unref();
    }
  }
}

const SOCKET = Symbol('solstream.socket');
type Tagged = WebSocket & { [SOCKET]?: WsSocket };
const socketOf = (ws: WebSocket): WsSocket | undefined => (ws as Tagged)[SOCKET];

function onPong(this: WebSocket): void {
  const socket = socketOf(this);
  if (socket !== undefined) socket.alive = true;
}

function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const socket = socketOf(this);
  if (socket?.connection == null) return;
  socket.alive = true;
  if (isBinary) socket.connection.binary();
  else socket.connection.message(data.toString());
}

function onClose(this: WebSocket): void {
  socketOf(this)?.connection?.closed();
}

export function createWebSocketGateway(options: WebSocketGatewayOptions): WebSocketGateway {
  const { gateway, config, logger } = options;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.ws.maxFrameBytes,
    perMessageDeflate: false,
    // Prefer our subprotocol; a browser that offered only the key entry must get one of its own back.
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : ([...protocols][0] ?? false)),
  });
  const batcher = new TurnBatcher();
  let accepting = true;

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      const socket = socketOf(ws);
      if (socket === undefined) continue; // refused, closing
      if (!socket.alive) {
        // No pong since the last ping: the peer is gone without a close (cable pulled, NAT timeout).
        ws.terminate();
        continue;
      }
      socket.alive = false;
      ws.ping();
    }
  }, config.ws.heartbeatMs);
  heartbeat.unref();

  // `ws` closes the connection itself (1009 for an oversized frame, 1002 for a protocol error).
  const onError = (error: Error & { code?: string }): void => logger.debug({ code: error.code }, error.message);

  const attach = (ws: WebSocket, request: IncomingMessage): void => {
    const principal = authenticate(request, config.apiKeys);
    if (principal === null) {
      ws.close(CloseCode.Unauthorized, 'unauthorized');
      return;
    }
    const socket = new WsSocket(ws, batcher);
    socket.connection = gateway.opened(socket, principal);
    (ws as Tagged)[SOCKET] = socket;
    ws.on('pong', onPong);
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.on('error', onError);
  };

  return {
    handleUpgrade(request, socket, head) {
      socket.on('error', ignoreError);
      if (!accepting) {
        rejectUpgrade(socket, 503, 'Service Unavailable', 'shutting_down', 'the server is shutting down');
        return;
      }
      if (!originAllowed(request, config.allowedOrigins)) {
        rejectUpgrade(socket, 403, 'Forbidden', 'forbidden_origin', 'this Origin may not connect');
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => attach(ws, request));
    },
    get size() {
      return wss.clients.size;
    },
    async close(graceMs = 5000) {
      accepting = false;
      clearInterval(heartbeat);
      const closing = [...wss.clients].map(
        (ws) =>
          new Promise<void>((resolve) =>
            ws.readyState === WebSocket.CLOSED ? resolve() : ws.once('close', () => resolve()),
          ),
      );
      gateway.closeAll(CloseCode.GoingAway, 'server shutting down');
      for (const ws of wss.clients) if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(closing),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
