// The local cluster's transport: JSON-RPC over HTTP POST and PubSub over a websocket, on two ports
// like solana-test-validator (RPC on `port`, websocket on `port + 1`), so that web3.js's default
// websocket URL for an RPC URL points at it. The websocket server also accepts upgrades on the
// RPC port, which is what an explicit SOLANA_WS_URL with the same port expects.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { LocalLedger } from './ledger.ts';
import { PubSub, type PubSubOptions } from './pubsub.ts';
import { RpcError, callMethod } from './rpc-methods.ts';

export interface RpcServerOptions extends PubSubOptions {
  readonly ledger: LocalLedger;
  readonly host?: string;
  /** HTTP JSON-RPC port; 0 for any free port. */
  readonly port?: number;
  /** Websocket port; defaults to `port + 1` (any free port when `port` is 0). */
  readonly wsPort?: number;
}

export interface RpcServer {
  readonly rpcUrl: string;
  readonly wsUrl: string;
  readonly pubsub: PubSub;
  /** Terminates every websocket connection as a provider dropping its clients would. */
  dropConnections(): void;
  /** Answers the next `count` HTTP requests with `status` (429 by default) instead of serving them. */
  failNextRequests(count: number, status?: number): void;
  /** HTTP requests served so far, by method. */
  readonly requestCounts: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function startRpcServer(options: RpcServerOptions): Promise<RpcServer> {
  const { ledger } = options;
  const host = options.host ?? '127.0.0.1';
  const pubsub = new PubSub(ledger, options);
  const requestCounts = new Map<string, number>();
  let failures: { remaining: number; status: number } = {
    remaining: 0,
    status: 429,
  };

  const answer = (request: { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown }) => {
    const id = request.id ?? null;
    if (request.jsonrpc !== '2.0' || typeof request.method !== 'string') {
      return {
        jsonrpc: '2.0',
        error: { code: -32600, message: 'Invalid request' },
        id,
      };
    }
    requestCounts.set(request.method, (requestCounts.get(request.method) ?? 0) + 1);
    try {
      return {
        jsonrpc: '2.0',
        result: callMethod(ledger, request.method, request.params),
        id,
      };
    } catch (error) {
      const rpc = error instanceof RpcError ? error : new RpcError(-32603, (error as Error).message);
      return {
        jsonrpc: '2.0',
        error: { code: rpc.code, message: rpc.message, ...(rpc.data === undefined ? {} : { data: rpc.data }) },
        id,
      };
    }
  };

  const server = http.createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    if (failures.remaining > 0) {
      failures.remaining--;
      res
        .writeHead(failures.status, { 'content-type': 'text/plain' })
        .end(http.STATUS_CODES[failures.status] ?? 'error');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        reply(res, {
          jsonrpc: '2.0',
          error: { code: -32700, message: 'Parse error' },
          id: null,
        });
        return;
      }
      reply(res, Array.isArray(body) ? body.map((r) => answer(r as object)) : answer(body as object));
    });
  });

  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (socket) => pubsub.attach(socket));
  const upgrade = (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => {
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  server.on('upgrade', upgrade);
  const wsServer = http.createServer((_req, res) => res.writeHead(426).end());
  wsServer.on('upgrade', upgrade);

  await listen(server, options.port ?? 0, host);
  const port = (server.address() as AddressInfo).port;
  const requestedWsPort = options.wsPort ?? (options.port === undefined || options.port === 0 ? 0 : port + 1);
  try {
    await listen(wsServer, requestedWsPort, host);
  } catch (error) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw error;
  }
  const wsPort = (wsServer.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    rpcUrl: `http://${urlHost}:${port}`,
    wsUrl: `ws://${urlHost}:${wsPort}`,
    pubsub,
    requestCounts,
    dropConnections() {
      for (const socket of pubsub.connections()) socket.terminate();
    },
    failNextRequests(count, status = 429) {
      failures = { remaining: count, status };
    },
    async close() {
      pubsub.close();
      for (const socket of pubsub.connections()) socket.terminate();
      wss.close();
      server.closeAllConnections();
      await Promise.all([
        new Promise<void>((resolve) => server.close(() => resolve())),
        new Promise<void>((resolve) => wsServer.close(() => resolve())),
      ]);
    },
  };
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function reply(res: http.ServerResponse, body: unknown): void {
  const json = JSON.stringify(body);
  res
    .writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(json),
    })
    .end(json);
}
