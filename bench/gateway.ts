// Gateway benchmarks on PostgreSQL: commit→client latency under filtered load, fan-out, idle
// connections and their memory, and a 10,000-row snapshot. Loopback only; every loop is bounded.
// bench/run.ts calls benchGateway() and records the figures; `node --import=tsx bench/gateway.ts` runs it alone.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import WebSocket from 'ws';
import type { ServerMessage } from '../src/gateway/protocol.ts';
import { freshDatabase, startGateway, type Writer } from '../test/gateway/harness.ts';

export interface GatewayBenchResult {
  readonly latency: { readonly ratePerSecond: number; readonly subscribers: number; readonly changes: number; readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number };
  readonly fanOut: { readonly subscribers: number; readonly changes: number; readonly deliveriesPerSecond: number };
  readonly idle: { readonly target: number; readonly held: number; readonly rssBeforeMb: number; readonly rssAfterMb: number; readonly kbPerConnection: number };
  readonly snapshot: { readonly rows: number; readonly ms: number };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Opens `n` websocket clients in batches; each client's messages go to `onMessage`. */
export async function openClients(url: string, n: number, onMessage?: (index: number, message: string) => void): Promise<WebSocket[]> {
  const clients: WebSocket[] = [];
  for (let start = 0; start < n; start += 200) {
    const batch = Array.from({ length: Math.min(200, n - start) }, (_, j) => {
      const index = start + j;
      const ws = new WebSocket(url);
      if (onMessage) ws.on('message', (data) => onMessage(index, data.toString()));
      return new Promise<WebSocket>((resolve, reject) => {
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    });
    clients.push(...(await Promise.all(batch)));
  }
  return clients;
}

function subscribeAll(clients: readonly WebSocket[], make: (i: number) => object): void {
  clients.forEach((ws, i) => ws.send(JSON.stringify({ type: 'subscribe', ...make(i) })));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

/** Inserts `total` swaps spread over `pools` at `ratePerSecond`; returns each slot's commit-ack time. */
export async function writeAtRate(writer: Writer, pools: readonly string[], total: number, ratePerSecond: number, firstSlot = 1) {
  const committed = new Map<number, number>();
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((ratePerSecond * tickMs) / 1000));
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i += perTick) {
    const due = start + (i / perTick) * tickMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    for (let j = i; j < Math.min(total, i + perTick); j++) {
      const slot = firstSlot + j;
      inFlight.push(writer.insertSwap(pools[j % pools.length] as string, slot).then(() => void committed.set(slot, performance.now())));
    }
    if (inFlight.length >= 50) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  return committed;
}

export async function benchGateway(options: { idleConnections?: number; log?: (line: string) => void } = {}): Promise<GatewayBenchResult> {
  const log = options.log ?? (() => undefined);
  const { database, writer } = await freshDatabase('postgres');
  const gateway = await startGateway(database, { SOLSTREAM_WS_MAX_BUFFERED_BYTES: String(64 * 1024 * 1024) });
  try {
    // 1. Latency: 100 subscribers, each filtered to its own pool; 1,000 changes/s for 3 s.
    const pools: string[] = [];
    for (let i = 0; i < 100; i++) pools.push(await writer.insertPool());
    const received = new Map<number, number>();
    let subscribed = 0;
    const latencyClients = await openClients(gateway.wsUrl, 100, (_i, raw) => {
      const m = JSON.parse(raw) as ServerMessage;
      if (m.type === 'subscribed') subscribed++;
      else if (m.type === 'change') received.set(m.row.slot as number, performance.now());
    });
    subscribeAll(latencyClients, (i) => ({ id: 'l', topic: 'swaps', filter: { pool_pubkey: pools[i] } }));
    await waitFor(() => subscribed === 100, 30_000);
    const changes = 3000;
    const committed = await writeAtRate(writer, pools, changes, 1000);
    await waitFor(() => received.size >= changes, 30_000);
    const lags = [...committed].map(([slot, at]) => (received.get(slot) ?? NaN) - at).filter(Number.isFinite).sort((a, b) => a - b);
    const latency = { ratePerSecond: 1000, subscribers: 100, changes, p50Ms: percentile(lags, 50), p99Ms: percentile(lags, 99), maxMs: lags.at(-1) ?? NaN };
    log(`latency: p50 ${latency.p50Ms.toFixed(2)} ms, p99 ${latency.p99Ms.toFixed(2)} ms (${lags.length}/${changes} delivered)`);
    for (const ws of latencyClients) ws.terminate();

    // 2. Fan-out: 1,000 unfiltered subscribers, 300 changes at 300/s.
    const fanPool = await writer.insertPool();
    let deliveries = 0;
    let fanSubscribed = 0;
    let lastDelivery = 0;
    const fanClients = await openClients(gateway.wsUrl, 1000, (_i, raw) => {
      if (raw.startsWith('{"type":"change"')) {
        deliveries++;
        lastDelivery = performance.now();
      } else if (raw.startsWith('{"type":"subscribed"')) fanSubscribed++;
    });
    subscribeAll(fanClients, () => ({ id: 'f', topic: 'swaps', filter: { pool_pubkey: fanPool } }));
    await waitFor(() => fanSubscribed === 1000, 60_000);
    const fanChanges = 300;
    const fanStart = performance.now();
    await writeAtRate(writer, [fanPool], fanChanges, 300, 1_000_000);
    await waitFor(() => deliveries >= fanChanges * 1000, 120_000);
    const fanOut = { subscribers: 1000, changes: fanChanges, deliveriesPerSecond: Math.round(deliveries / ((lastDelivery - fanStart) / 1000)) };
    log(`fan-out: ${fanOut.deliveriesPerSecond} deliveries/s (${deliveries} delivered)`);
    for (const ws of fanClients) ws.terminate();

    // 3. Snapshot of 10,000 state rows.
    await writer.sql(
      `INSERT INTO escrows (pubkey, escrow_id, maker, mint_a, mint_b, amount_a, amount_b, vault, state, created_slot)
       SELECT 'bench' || g, g, 'benchmaker', 'mintA', 'mintB', g * 1000, g, 'vault' || g, 'funded', g FROM generate_series(1, 10000) g`,
    );
    let snapshotAt = 0;
    let snapshotRows = 0;
    const [snapClient] = await openClients(gateway.wsUrl, 1, (_i, raw) => {
      const m = JSON.parse(raw) as ServerMessage;
      if (m.type === 'snapshot') {
        snapshotAt = performance.now();
        snapshotRows = m.rows.length;
      }
    });
    const askedAt = performance.now();
    snapClient!.send(JSON.stringify({ type: 'subscribe', id: 's', topic: 'escrows', filter: { state: 'funded' }, snapshot: true }));
    await waitFor(() => snapshotAt > 0, 30_000);
    const snapshot = { rows: snapshotRows, ms: Math.round((snapshotAt - askedAt) * 10) / 10 };
    log(`snapshot: ${snapshot.rows} rows in ${snapshot.ms} ms`);
    snapClient!.terminate();

    // 4. Idle connections, held by a gateway in its own process so its memory is its own.
    const idle = await benchIdle(database.url, options.idleConnections ?? 10_000);
    log(`idle: ${idle.held}/${idle.target} held, ${idle.kbPerConnection} KiB each (rss ${idle.rssBeforeMb} → ${idle.rssAfterMb} MB)`);
    return { latency, fanOut, idle, snapshot };
  } finally {
    await gateway.close();
    await writer.close();
    await database.drop();
  }
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return Math.round(kb / 102.4) / 10;
}

async function benchIdle(databaseUrl: string, target: number): Promise<GatewayBenchResult['idle']> {
  const fixture = new URL('../test/gateway/fixtures/gateway-process.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--import=tsx', fixture], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: '0', LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const line = await new Promise<string>((resolve) => readline.createInterface({ input: child.stdout }).once('line', resolve));
    const url = `ws://127.0.0.1:${(JSON.parse(line) as { port: number }).port}/ws`;
    await sleep(500);
    const before = rssMb(child.pid!);
    const clients = await openClients(url, target).catch(() => [] as WebSocket[]);
    await sleep(1000);
    const after = rssMb(child.pid!);
    for (const ws of clients) ws.terminate();
    return {
      target,
      held: clients.length,
      rssBeforeMb: before,
      rssAfterMb: after,
      kbPerConnection: clients.length === 0 ? NaN : Math.round(((after - before) * 1024) / clients.length * 10) / 10,
    };
  } finally {
    child.kill('SIGKILL');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchGateway({ log: (line) => console.log(line) });
  console.log(JSON.stringify(result, null, 2));
  process.exit(0);
}
