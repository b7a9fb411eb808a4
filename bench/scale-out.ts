// Scale-out: 1, 2 and 4 gateway processes on one PostgreSQL database, in direct mode (each gateway
// LISTENs) and in NATS mode (one relay publishes to JetStream, every gateway consumes), under the
// same load: 100 clients per gateway, each subscribed to swaps of one of 10 pools, 2,000 swaps
// written at 500/s. Per configuration: deliveries per second, commit→client p50/p99, the CPU time
// the gateway processes and the database's backends spent (from /proc/<pid>/stat of each) and how
// many connections the database had. Every figure is read beside direct mode with one gateway
// of the same run. `node --import=tsx bench/scale-out.ts` runs it alone.
import crypto from 'node:crypto';
import fs from 'node:fs';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../test/support/database.ts';
import { Writer } from '../test/support/gateway.ts';
import { killGateway, spawnGateway, type GatewayProcess } from '../test/support/gateway-process.ts';
import { deleteStream, NATS_URL, requireNats } from '../test/support/nats.ts';
import { openClients, percentile, writeAtRate } from './gateway.ts';

export interface ScaleOutFigures {
  readonly mode: 'direct' | 'nats';
  readonly gateways: number;
  readonly clients: number;
  readonly changes: number;
  readonly deliveries: number;
  readonly deliveriesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time of all the bench database's backends during the write phase (the writer's included), ms. */
  readonly postgresCpuMs: number;
  /** CPU time of the backends serving the gateways (their pools, LISTEN, the relay), ms per 1,000 changes. */
  readonly servingCpuMsPer1000Changes: number;
  /** CPU time of the gateway processes together during the write phase, µs per delivery. */
  readonly gatewayCpuUsPerDelivery: number;
  /** Connections the gateways hold to the database during the phase (the most seen). */
  readonly gatewayConnections: number;
}

const CLIENTS_PER_GATEWAY = 100;
const POOLS = 10;
const CHANGES = 2000;
const RATE = 500;
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (n: number) => Math.round(n * 100) / 100;

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`bench: gave up waiting for ${what}`);
    await sleep(20);
  }
}

/** utime + stime of a process, in ms; null once it is gone. */
function cpuMs(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** Gateways connect with this application_name (the relay lock's connection names itself `solstream relay`). */
const GATEWAY_APPLICATION = 'solstream-gateway';

interface Backend {
  readonly cpuMs: number;
  /** A connection of a gateway (pool, LISTEN, relay), not of the bench's writer. */
  readonly serving: boolean;
}

/** The backends of one database: pid → CPU ms so far. */
async function backends(admin: pg.Client, database: string): Promise<Map<number, Backend>> {
  const { rows } = await admin.query<{ pid: number; application_name: string }>(
    'SELECT pid, application_name FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [database],
  );
  const out = new Map<number, Backend>();
  for (const { pid, application_name: name } of rows) {
    const ms = cpuMs(pid);
    if (ms !== null) out.set(pid, { cpuMs: ms, serving: name.startsWith('solstream') });
  }
  return out;
}

const servingCount = (all: Map<number, Backend>) => [...all.values()].filter((b) => b.serving).length;

async function phase(
  database: TestDatabase,
  writer: Writer,
  admin: pg.Client,
  mode: 'direct' | 'nats',
  count: number,
  firstSlot: number,
  log: (line: string) => void,
): Promise<ScaleOutFigures> {
  const id = crypto.randomBytes(4).toString('hex');
  const stream = `BENCH_${id}`;
  const url = new URL(database.url);
  url.searchParams.set('application_name', GATEWAY_APPLICATION);
  const env: Record<string, string> = {
    DATABASE_URL: url.toString(),
    ...(mode === 'nats'
      ? {
          NATS_URL,
          SOLSTREAM_NATS_STREAM: stream,
          SOLSTREAM_NATS_SUBJECT_PREFIX: `bench_${id}`,
          SOLSTREAM_RELAY_RETRY_MS: '200',
        }
      : {}),
  };
  const gateways: GatewayProcess[] = await Promise.all(
    Array.from({ length: count }, () => spawnGateway(database, env)),
  );
  const dbName = new URL(database.url).pathname.slice(1);
  try {
    if (mode === 'nats') {
      await waitFor(
        async () => {
          const states = await Promise.all(
            gateways.map(
              async (g) => ((await (await fetch(`${g.httpUrl}/readyz`)).json()) as { relay?: string }).relay,
            ),
          );
          return states.filter((s) => s === 'leader').length === 1;
        },
        30_000,
        'a relay',
      );
    }
    const pools = Array.from({ length: POOLS }, () => '');
    for (let i = 0; i < POOLS; i++) pools[i] = await writer.insertPool();
    const received = new Map<number, number>();
    let deliveries = 0;
    let acks = 0;
    let lastDelivery = 0;
    const sockets = [];
    for (const gateway of gateways) {
      const clients = await openClients(gateway.wsUrl, CLIENTS_PER_GATEWAY, (_i, raw) => {
        if (raw.startsWith('{"type":"change"')) {
          deliveries++;
          lastDelivery = performance.now();
          const slot = (JSON.parse(raw) as { row: { slot: number } }).row.slot;
          if (!received.has(slot)) received.set(slot, performance.now());
        } else if (raw.startsWith('{"type":"subscribed"')) acks++;
      });
      clients.forEach((ws, i) =>
        ws.send(
          JSON.stringify({ type: 'subscribe', id: 's', topic: 'swaps', filter: { pool_pubkey: pools[i % POOLS] } }),
        ),
      );
      sockets.push(...clients);
    }
    await waitFor(() => acks >= sockets.length, 60_000, 'subscriptions');
    const expected = CHANGES * (CLIENTS_PER_GATEWAY / POOLS) * count;
    const before = await backends(admin, dbName);
    let connections = servingCount(before);
    const gatewaysCpu = () => gateways.reduce((total, g) => total + (cpuMs(g.pid) ?? 0), 0);
    const gatewaysCpuBefore = gatewaysCpu();
    const start = performance.now();
    const committed = await writeAtRate(writer, pools, CHANGES, RATE, firstSlot);
    await waitFor(() => deliveries >= expected, 120_000, 'every delivery');
    const gatewaysCpuMs = gatewaysCpu() - gatewaysCpuBefore;
    const after = await backends(admin, dbName);
    connections = Math.max(connections, servingCount(after));
    let cpu = 0;
    let serving = 0;
    for (const [pid, backend] of after) {
      const used = backend.cpuMs - (before.get(pid)?.cpuMs ?? 0);
      cpu += used;
      if (backend.serving) serving += used;
    }
    const lags = [...committed]
      .map(([slot, at]) => (received.get(slot) ?? NaN) - at)
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    for (const ws of sockets) ws.terminate();
    const figures: ScaleOutFigures = {
      mode,
      gateways: count,
      clients: sockets.length,
      changes: CHANGES,
      deliveries,
      deliveriesPerSecond: Math.round(deliveries / ((lastDelivery - start) / 1000)),
      p50Ms: round(percentile(lags, 50)),
      p99Ms: round(percentile(lags, 99)),
      postgresCpuMs: Math.round(cpu),
      servingCpuMsPer1000Changes: round(serving / (CHANGES / 1000)),
      gatewayCpuUsPerDelivery: round((gatewaysCpuMs * 1000) / deliveries),
      gatewayConnections: connections,
    };
    log(
      `scale-out ${mode} ×${count}: ${figures.deliveriesPerSecond} deliveries/s, p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms, ` +
        `PostgreSQL ${figures.postgresCpuMs} ms CPU (serving ${figures.servingCpuMsPer1000Changes} ms/1,000 changes), ` +
        `gateways ${figures.gatewayCpuUsPerDelivery} µs CPU per delivery, ${figures.gatewayConnections} gateway connections`,
    );
    return figures;
  } finally {
    await Promise.all(gateways.map(killGateway));
    if (mode === 'nats') await deleteStream(stream);
  }
}

export async function benchScaleOut(options: { log: (line: string) => void }): Promise<ScaleOutFigures[]> {
  await requireNats();
  const database = await createTestDatabase('postgres');
  const writer = await Writer.open(database);
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  const results: ScaleOutFigures[] = [];
  try {
    let slot = 1;
    // Modes alternate at each size, so a busier moment of the box does not favour one of them.
    for (const count of [1, 2, 4]) {
      for (const mode of ['direct', 'nats'] as const) {
        results.push(await phase(database, writer, admin, mode, count, slot, options.log));
        slot += CHANGES;
      }
    }
  } finally {
    await admin.end();
    await writer.close();
    await database.drop();
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await benchScaleOut({ log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  process.exit(0);
}
