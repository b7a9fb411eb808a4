// Slot production → client receipt, at processed and at confirmed, through each source: the local
// cluster as `npm start` runs it (confirmed 2 s after a slot, finalized after 15 s, forks at 5 %),
// the ingester reading it through websocket RPC or through the Yellowstone stream (the writing
// source and the processed stream alike), a gateway on PostgreSQL, and two websocket clients in
// this process subscribed to pools and swaps, one at processed and one at confirmed. A change's
// latency is its receipt time minus the wall-clock time its slot was processed on the cluster.
//   node --import=tsx bench/commitment.ts [SECONDS]
import WebSocket from 'ws';
import { openChangeFeed } from '../src/capture/index.ts';
import { openSpeculativeBus } from '../src/capture/speculative-bus.ts';
import { SpeculativeFeed } from '../src/capture/speculative.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/connection.ts';
import { migrateUp } from '../src/db/migrator.ts';
import { startServer } from '../src/http/server.ts';
import { startIngester } from '../src/ingest/ingester.ts';
import { silentLogger } from '../src/log.ts';
import { buildPrograms, parseProgramsConfig } from '../src/programs/registry.ts';
import { localClusterOptions, startLocalCluster } from '../src/simulate/cluster.ts';
import { createScratchDatabase } from './database.ts';

export interface CommitmentLatency {
  readonly source: 'geyser' | 'rpc-websocket';
  readonly commitment: 'processed' | 'confirmed';
  readonly topic: 'pools' | 'swaps';
  readonly changes: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface CommitmentBenchOptions {
  /** Seconds of activity measured per source. */
  readonly seconds?: number;
  /** Transactions per second the cluster plays. */
  readonly rate?: number;
  readonly postgresAdminUrl?: string;
  readonly log?: (line: string) => void;
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);

export async function benchCommitment(options: CommitmentBenchOptions = {}): Promise<CommitmentLatency[]> {
  const out: CommitmentLatency[] = [];
  for (const source of ['rpc-websocket', 'geyser'] as const) {
    options.log?.(`commitment: ${source}`);
    out.push(...(await benchSource(source, options)));
  }
  return out;
}

async function benchSource(
  source: 'geyser' | 'rpc-websocket',
  options: CommitmentBenchOptions,
): Promise<CommitmentLatency[]> {
  const scratch = await createScratchDatabase(options.postgresAdminUrl);
  const cluster = await startLocalCluster({
    ...localClusterOptions(loadConfig({}).localCluster),
    rate: options.rate ?? 20,
    port: 0,
  });
  const config = loadConfig({
    DATABASE_URL: scratch.url,
    PORT: '0',
    LOG_LEVEL: 'silent',
    SOLANA_RPC_URL: cluster.rpcUrl,
    SOLANA_WS_URL: cluster.wsUrl,
    SOLSTREAM_GEYSER_URL: cluster.geyserUrl ?? '',
    SOLSTREAM_SOURCE: source,
    SOLSTREAM_PROCESSED: source,
    SOLSTREAM_BACKFILL_INITIAL_LIMIT: '0',
  });
  const db = await openDatabase(config);
  const sockets: WebSocket[] = [];
  const latencies = new Map<string, number[]>();
  let measuring = false;
  try {
    await migrateUp(db);
    const feed = await openChangeFeed(db, config, silentLogger);
    const bus = openSpeculativeBus(db, silentLogger);
    const speculative = new SpeculativeFeed({ bus, feed, logger: silentLogger });
    const server = await startServer({ config, db, feed, speculative, logger: silentLogger });
    const ingester = startIngester({
      db,
      config,
      programs: buildPrograms(parseProgramsConfig(undefined)),
      feed,
      logger: silentLogger,
      speculative: bus,
    });
    try {
      await ingester.ready;
      for (const commitment of ['processed', 'confirmed'] as const) {
        const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws`);
        sockets.push(socket);
        await new Promise<void>((resolve, reject) => {
          socket.once('open', resolve);
          socket.once('error', reject);
        });
        socket.on('message', (data) => {
          const received = Date.now();
          if (!measuring) return;
          const message = JSON.parse(String(data)) as {
            type: string;
            id: string;
            slot?: number | null;
            commitment?: string;
          };
          if (message.type !== 'change' || typeof message.slot !== 'number') return;
          // The processed subscriber's figure is its speculative changes; the confirmed one's, its changes.
          if (commitment === 'processed' && message.commitment !== 'processed') return;
          const producedAt = cluster.ledger.slotInfo(message.slot)?.processedAt;
          if (producedAt === undefined) return;
          const key = `${commitment}:${message.id}`;
          const list = latencies.get(key) ?? [];
          list.push(received - producedAt);
          latencies.set(key, list);
        });
        for (const topic of ['pools', 'swaps'])
          socket.send(JSON.stringify({ type: 'subscribe', id: topic, topic, commitment }));
      }
      // Warm up (the first catch-up, caches), then measure.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      measuring = true;
      await new Promise((resolve) => setTimeout(resolve, (options.seconds ?? 20) * 1_000));
      measuring = false;
    } finally {
      for (const socket of sockets) socket.close();
      await ingester.close();
      await server.close();
      await speculative.close();
      await bus.close();
      await feed.close();
    }
  } finally {
    await cluster.close();
    await db.close();
    await scratch.drop();
  }
  const out: CommitmentLatency[] = [];
  for (const commitment of ['processed', 'confirmed'] as const) {
    for (const topic of ['pools', 'swaps'] as const) {
      const sorted = [...(latencies.get(`${commitment}:${topic}`) ?? [])].sort((a, b) => a - b);
      out.push({
        source,
        commitment,
        topic,
        changes: sorted.length,
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
      });
    }
  }
  return out;
}

export function renderCommitment(results: readonly CommitmentLatency[]): string {
  return [
    'Slot production → client receipt on the local cluster (confirmed 2 s after a slot, forks 5 %), PostgreSQL',
    '',
    '| source | subscriber | topic | changes | p50 | p99 |',
    '| --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.source} | ${r.commitment} | ${r.topic} | ${r.changes} | ${r.changes === 0 ? '—' : `${r.p50Ms} ms`} | ${r.changes === 0 ? '—' : `${r.p99Ms} ms`} |`,
    ),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = Number(process.argv[2] ?? 20);
  const results = await benchCommitment({ seconds, log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${renderCommitment(results)}\n`);
  process.exit(0);
}
