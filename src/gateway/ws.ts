// The `ws` adapter: upgrades HTTP requests on /ws (after the Origin and API-key checks), feeds
// frames to the protocol core, keeps connections alive with ws ping/pong, and closes everything
// with 1001 on shutdown.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { authenticate, originAllowed } from './auth.ts';
import { rawSocketOf, TurnBatcher } from './batching.ts';
import { CloseCode, SUBPROTOCOL } from '../wire/protocol.ts';
import type { Gateway, GatewaySocket } from './types.ts';

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

/** Text frames, also when given as bytes. */
const TEXT = { binary: false } as const;

function rejectUpgrade(socket: Duplex, status: number, reason: string, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
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
  const alive = new WeakMap<WebSocket, boolean>();
  const batcher = new TurnBatcher();
  let accepting = true;

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        // No pong since the last ping: the peer is gone without a close (cable pulled, NAT timeout).
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, config.ws.heartbeatMs);
  heartbeat.unref();

  const attach = (ws: WebSocket, request: IncomingMessage): void => {
    const principal = authenticate(request, config.apiKeys);
    if (principal === null) {
      ws.close(CloseCode.Unauthorized, 'unauthorized');
      return;
    }
    alive.set(ws, true);
    const raw = rawSocketOf(ws);
    const socket: GatewaySocket = {
      send: (data, sent) => {
        if (raw === null) return ws.send(data, TEXT, sent);
        batcher.before(raw);
        ws.send(data, TEXT, sent);
        batcher.after(raw);
      },
      get bufferedAmount() {
        return ws.bufferedAmount;
      },
      get isOpen() {
        return ws.readyState === WebSocket.OPEN;
      },
      close: (code, reason) => {
        ws.close(code, reason);
        if (code === CloseCode.SlowConsumer) {
          setTimeout(() => ws.readyState !== WebSocket.CLOSED && ws.terminate(), SLOW_CONSUMER_GRACE_MS).unref();
        }
      },
    };
    const connection = gateway.opened(socket, principal);
    ws.on('pong', () => alive.set(ws, true));
    ws.on('message', (data, isBinary) => {
      alive.set(ws, true);
      if (isBinary) connection.binary();
      else connection.message(data.toString());
    });
    ws.on('close', () => connection.closed());
    // `ws` closes the connection itself (1009 for an oversized frame, 1002 for a protocol error).
    ws.on('error', (error: Error & { code?: string }) => logger.debug({ code: error.code }, error.message));
  };

  return {
    handleUpgrade(request, socket, head) {
      socket.on('error', () => undefined);
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
