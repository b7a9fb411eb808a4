// One HTTP server on the configured port: websocket upgrades on /ws, health and readiness,
// Prometheus metrics, read-only REST, and (optionally) static files for the dashboard.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { SpeculativeFeed } from '../capture/speculative.ts';
import type { ChangeFeed } from '../capture/types.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/connection.ts';
import type { Logger } from '../log.ts';
import type { RelayStatus } from '../nats/relay.ts';
import { authenticate } from '../gateway/auth.ts';
import { makeGateway } from '../gateway/gateway.ts';
import { createWebSocketGateway } from '../gateway/ws.ts';
import type client from 'prom-client';
import { checkReadiness, type IngestReporter } from './health.ts';
import { createMetrics } from './metrics.ts';
import { errorResponse, getEscrow, getMakerEscrows, listTopic, type JsonResponse } from './rest.ts';

export interface ServerOptions {
  readonly config: Config;
  readonly db: Database;
  readonly feed: ChangeFeed;
  /** Processed changes and slot fates for processed and finalized subscriptions (none: refused / committed only). */
  readonly speculative?: SpeculativeFeed;
  /** NATS mode: this process's part in relaying, for /readyz and /metrics. */
  readonly relay?: RelayStatus | null;
  readonly logger: Logger;
  /** A directory served for GET requests no route claims (`/` → index.html); none by default. */
  readonly staticDir?: string;
  /** The registry /metrics serves (shared with the ingester's metrics); a new one unless given. */
  readonly registry?: client.Registry;
  /** Who ingests, for /readyz; absent when this process does not take part in ingest. */
  readonly ingest?: IngestReporter;
}

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8080 (websocket clients use ws://…/ws). */
  readonly url: string;
  readonly port: number;
  /** Open websocket connections. */
  readonly connections: number;
  /** Stops accepting, closes websockets with 1001 (letting queued frames flush), then the HTTP server. */
  close(graceMs?: number): Promise<void>;
}

/** Path of the websocket endpoint. */
export const WS_PATH = '/ws';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
};

function sendJson(response: http.ServerResponse, result: JsonResponse): void {
  const body = JSON.stringify(result.body);
  response.writeHead(result.status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  response.end(body);
}

/** Serves a file below `root`, or returns false when there is none (never outside `root`). */
function serveStatic(root: string, pathname: string, response: http.ServerResponse): boolean {
  const relative = decodeURIComponent(pathname).replace(/^\/+/, '') || 'index.html';
  const file = path.resolve(root, relative);
  if (file !== root && !file.startsWith(root + path.sep)) return false;
  let target = file;
  try {
    if (fs.statSync(target).isDirectory()) target = path.join(target, 'index.html');
    const data = fs.readFileSync(target);
    response.writeHead(200, {
      'Content-Type': CONTENT_TYPES[path.extname(target)] ?? 'application/octet-stream',
      'Content-Length': data.length,
    });
    response.end(data);
    return true;
  } catch {
    return false;
  }
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { config, db, feed, logger } = options;
  const relay = options.relay ?? null;
  const metrics = createMetrics(options.registry, relay);
  const gateway = makeGateway({
    feed,
    speculative: options.speculative,
    dialect: db.dialect,
    limits: config.ws,
    logger,
    metrics,
  });
  const websockets = createWebSocketGateway({ gateway, config, logger });
  const staticRoot = options.staticDir === undefined ? null : path.resolve(options.staticDir);

  if (config.apiKeys.length === 0) {
    logger.warn('no API keys configured: the gateway is open to anyone who can reach it (development only)');
  }

  const route = async (request: http.IncomingMessage, response: http.ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const pathname = url.pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      sendJson(response, errorResponse(405, 'method_not_allowed', 'this server is read-only: use GET'));
      return;
    }
    if (pathname === '/healthz') {
      sendJson(response, { status: 200, body: { status: 'ok' } });
      return;
    }
    if (pathname === '/readyz') {
      const readiness = await checkReadiness(db, feed, options.ingest, relay);
      sendJson(response, { status: readiness.ready ? 200 : 503, body: readiness });
      return;
    }
    if (pathname === '/metrics') {
      const text = await metrics.registry.metrics();
      response.writeHead(200, { 'Content-Type': metrics.registry.contentType });
      response.end(text);
      return;
    }
    const api = /^\/api\/([^/]+)\/?$/.exec(pathname);
    const maker = /^\/escrows\/maker\/([^/]+)\/?$/.exec(pathname);
    const escrow = /^\/escrows\/([^/]+)\/?$/.exec(pathname);
    if (api !== null || maker !== null || escrow !== null) {
      const principal = authenticate(request, config.apiKeys);
      if (principal === null) {
        sendJson(response, errorResponse(401, 'unauthorized', 'a valid API key is required'));
        return;
      }
      const context = { db, feed, limits: config.ws, topics: principal.topics };
      if (api !== null)
        sendJson(response, await listTopic(context, decodeURIComponent(api[1] as string), url.searchParams));
      else if (maker !== null) {
        sendJson(response, await getMakerEscrows(context, decodeURIComponent(maker[1] as string), url.searchParams));
      } else sendJson(response, await getEscrow(context, decodeURIComponent((escrow as RegExpExecArray)[1] as string)));
      return;
    }
    if (staticRoot !== null && serveStatic(staticRoot, pathname, response)) return;
    sendJson(response, errorResponse(404, 'not_found', `no route for ${pathname.slice(0, 200)}`));
  };

  const server = http.createServer((request, response) => {
    route(request, response).catch((error: Error) => {
      logger.error({ err: error.message, url: request.url }, 'HTTP request failed');
      if (!response.headersSent) sendJson(response, errorResponse(500, 'internal_error', 'the request failed'));
      else response.destroy();
    });
  });
  server.on('upgrade', (request, socket, head) => {
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (pathname !== WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    websockets.handleUpgrade(request, socket, head);
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  logger.info({ url, websocket: `ws://${host}:${port}${WS_PATH}` }, 'listening');

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    get connections() {
      return websockets.size;
    },
    close(graceMs?: number) {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await websockets.close(graceMs);
        server.closeIdleConnections();
        await stopped;
      })();
      return closing;
    },
  };
}
