// The ceiling the gateway is measured against: pg-listen on the capture channel and a ws server that
// broadcasts every raw NOTIFY payload to every connected client. No filters, no change log reads,
// no cursors, no per-subscription state, no metrics. It runs on the same database, with the same
// capture triggers and the same load generator as the gateway benchmarks, so the difference between
// the two is what solstream's own pipeline costs.
//   node --import=tsx bench/baseline.ts serve   (a child process: prints {"port":…}, for the memory figure)
import http from 'node:http';
import pg from 'pg';
import pgListen from 'pg-listen';
import { WebSocketServer } from 'ws';

/** Must match migrations/0002-change-capture.ts. */
const CHANNEL = 'solstream_changes';

export interface Baseline {
  readonly wsUrl: string;
  readonly port: number;
  readonly connections: () => number;
  close(): Promise<void>;
}

/**
 * Starts the baseline on `databaseUrl`. A client that sends the text `snapshot` gets the funded
 * escrows (the gateway snapshot benchmark's rows) read with a plain pg query and sent as one JSON
 * frame: the floor for the snapshot figure.
 */
export async function startBaseline(databaseUrl: string): Promise<Baseline> {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      if (data.toString() !== 'snapshot') return;
      pool
        .query('SELECT * FROM escrows WHERE state = $1 ORDER BY id LIMIT 10001', ['funded'])
        .then((result) => ws.send(JSON.stringify({ type: 'snapshot', rows: result.rows })))
        .catch(() => ws.close(1011));
    });
  });
  const subscriber = pgListen.default({ connectionString: databaseUrl }, { parse: (raw: string) => raw });
  subscriber.notifications.on(CHANNEL, (payload: string) => {
    for (const client of wss.clients) client.send(payload);
  });
  subscriber.events.on('error', () => undefined);
  await subscriber.connect();
  await subscriber.listenTo(CHANNEL);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    port,
    connections: () => wss.clients.size,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await subscriber.close().catch(() => undefined);
      await pool.end();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] === 'serve') {
  const url = process.env.DATABASE_URL;
  if (url === undefined) throw new Error('DATABASE_URL is required');
  const baseline = await startBaseline(url);
  process.stdout.write(`${JSON.stringify({ port: baseline.port })}\n`);
  process.on('SIGTERM', () => void baseline.close().then(() => process.exit(0)));
}
