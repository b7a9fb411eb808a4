// Gateway benchmarks on PostgreSQL: commit→client latency under filtered load, fan-out, idle
// connections and their memory, and a 10,000-row snapshot. Loopback only; every loop is bounded.
// bench/run.ts calls benchGateway() and records the figures; `node --import=tsx bench/gateway.ts` runs it alone.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import WebSocket from 'ws';
import type { ServerMessage } from '../src/wire/protocol.ts';
import { freshDatabase, startGateway, type Writer } from '../test/gateway/harness.ts';
import { startBaseline } from './baseline.ts';

export interface IdleResult {
  readonly target: number;
  readonly held: number;
  readonly rssBeforeMb: number;
  readonly rssAfterMb: number;
  readonly kbPerConnection: number;
}

export interface TargetFigures {
  readonly latency: LatencyResult;
  readonly fanOut: FanOutResult;
  readonly snapshot: SnapshotResult;
  readonly idle: IdleResult;
}

export interface GatewayBenchResult {
  readonly gateway: TargetFigures;
  readonly baseline: TargetFigures;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Opens `n` websocket clients in batches; each client's messages go to `onMessage`. */
export async function openClients(
  url: string,
  n: number,
  onMessage?: (index: number, message: string) => void,
): Promise<WebSocket[]> {
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
export async function writeAtRate(
  writer: Writer,
  pools: readonly string[],
  total: number,
  ratePerSecond: number,
  firstSlot = 1,
) {
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
      inFlight.push(
        writer
          .insertSwap(pools[j % pools.length] as string, slot)
          .then(() => void committed.set(slot, performance.now())),
      );
    }
    if (inFlight.length >= 50) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  return committed;
}

/** What a benchmark phase talks to: the gateway, or the baseline broadcaster. */
interface Target {
  readonly url: string;
  /** Sends client `i`'s subscription (if the target has any) and returns how many acks to await. */
  subscribe(clients: readonly WebSocket[], pool: (i: number) => string): number;
  /** A live swap's slot, or undefined for any other message. */
  slotOf(raw: string): number | undefined;
  /** Whether a message delivers a change (the bench writes one swap per transaction). */
  isChange(raw: string): boolean;
  isAck(raw: string): boolean;
}

export const gatewayTarget = (url: string): Target => ({
  url,
  subscribe: (clients, pool) => {
    subscribeAll(clients, (i) => ({ id: 'b', topic: 'swaps', filter: { pool_pubkey: pool(i) } }));
    return clients.length;
  },
  slotOf: (raw) => {
    const m = JSON.parse(raw) as ServerMessage;
    return m.type === 'change' ? (m.row.slot as number) : undefined;
  },
  isChange: (raw) => raw.startsWith('{"type":"change"'),
  isAck: (raw) => raw.startsWith('{"type":"subscribed"'),
});

/**
 * The capture's NOTIFY payload (migrations/0007-statement-capture.ts), one per transaction, which
 * the baseline forwards as it is: its changes in `ch` when they are few and small, else only its
 * cursor range. PostgreSQL's json_build_object writes `"key" : value`, so it is parsed, not matched.
 */
interface CapturePayload {
  readonly ch?: readonly { readonly t: string; readonly s: number | null; readonly r: { readonly slot?: unknown } }[];
}

export const baselineTarget = (url: string): Target => ({
  url,
  subscribe: () => 0,
  slotOf: (raw) => {
    const swap = (JSON.parse(raw) as CapturePayload).ch?.find((change) => change.t === 'swaps');
    return typeof swap?.r.slot === 'number' ? swap.r.slot : undefined;
  },
  // One swap per transaction: a payload with changes carries exactly one (no column is named "ch").
  isChange: (raw) => raw.includes('"ch"'),
  isAck: () => false,
});

export interface LatencyResult {
  readonly ratePerSecond: number;
  readonly subscribers: number;
  readonly changes: number;
  readonly delivered: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Commit→client latency: 100 subscribers each filtered to its own pool, 1,000 changes/s for 3 s. */
async function measureLatency(
  target: Target,
  writer: Writer,
  pools: readonly string[],
  firstSlot: number,
): Promise<LatencyResult> {
  const received = new Map<number, number>();
  let acks = 0;
  const clients = await openClients(target.url, pools.length, (_i, raw) => {
    if (target.isAck(raw)) acks++;
    const slot = target.slotOf(raw);
    // The first arrival of each change (the baseline sends every change to every client).
    if (slot !== undefined && !received.has(slot)) received.set(slot, performance.now());
  });
  const expected = target.subscribe(clients, (i) => pools[i] as string);
  await waitFor(() => acks >= expected, 30_000);
  const changes = 3000;
  const committed = await writeAtRate(writer, pools, changes, 1000, firstSlot);
  await waitFor(() => [...committed.keys()].every((slot) => received.has(slot)), 30_000);
  const lags = [...committed]
    .map(([slot, at]) => (received.get(slot) ?? NaN) - at)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  for (const ws of clients) ws.terminate();
  return {
    ratePerSecond: 1000,
    subscribers: pools.length,
    changes,
    delivered: lags.length,
    p50Ms: round(percentile(lags, 50)),
    p99Ms: round(percentile(lags, 99)),
    maxMs: round(lags.at(-1) ?? NaN),
  };
}

export interface FanOutResult {
  readonly subscribers: number;
  readonly changes: number;
  readonly delivered: number;
  readonly deliveriesPerSecond: number;
  /** Every run's deliveries per second (the best one is reported). */
  readonly runs?: readonly number[];
}

/** Fan-out: 1,000 subscribers all matching, 300 changes at 300/s; deliveries per second until the last arrives. */
export async function measureFanOut(
  target: Target,
  writer: Writer,
  pool: string,
  firstSlot: number,
): Promise<FanOutResult> {
  let deliveries = 0;
  let acks = 0;
  let lastDelivery = 0;
  const subscribers = 1000;
  const clients = await openClients(target.url, subscribers, (_i, raw) => {
    if (target.isChange(raw)) {
      deliveries++;
      lastDelivery = performance.now();
    } else if (target.isAck(raw)) acks++;
  });
  const expected = target.subscribe(clients, () => pool);
  await waitFor(() => acks >= expected, 60_000);
  const changes = 300;
  const start = performance.now();
  await writeAtRate(writer, [pool], changes, 300, firstSlot);
  await waitFor(() => deliveries >= changes * subscribers, 120_000);
  for (const ws of clients) ws.terminate();
  return {
    subscribers,
    changes,
    delivered: deliveries,
    deliveriesPerSecond: Math.round(deliveries / ((lastDelivery - start) / 1000)),
  };
}

export interface SnapshotResult {
  readonly rows: number;
  /** Median of the runs, request sent → frame received and parsed by the client. */
  readonly ms: number;
  readonly runsMs: readonly number[];
}

/** Asks `runs` times for the 10,000 funded escrows; `request` sends the target's snapshot request. */
async function measureSnapshot(
  url: string,
  request: (ws: WebSocket, n: number) => void,
  runs = 3,
): Promise<SnapshotResult> {
  let arrived: ((rows: number) => void) | null = null;
  const [client] = await openClients(url, 1, (_i, raw) => {
    const m = JSON.parse(raw) as { type?: string; rows?: unknown[] };
    if (m.type === 'snapshot') arrived?.((m.rows ?? []).length);
  });
  const times: number[] = [];
  let rows = 0;
  for (let n = 0; n < runs; n++) {
    const asked = performance.now();
    rows = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no snapshot within 30 s')), 30_000);
      arrived = (count) => {
        clearTimeout(timer);
        resolve(count);
      };
      request(client!, n);
    });
    times.push(round(performance.now() - asked));
    await sleep(100);
  }
  client!.terminate();
  const sorted = [...times].sort((a, b) => a - b);
  return { rows, ms: sorted[Math.floor(sorted.length / 2)] as number, runsMs: times };
}

const round = (n: number) => Math.round(n * 100) / 100;

export interface GatewayBenchOptions {
  readonly idleConnections?: number;
  readonly log?: (line: string) => void;
}

/** The gateway's figures and, on the same database with the same load, the baseline's. */
export async function benchGateway(options: GatewayBenchOptions = {}): Promise<GatewayBenchResult> {
  const log = options.log ?? (() => undefined);
  const idleTarget = options.idleConnections ?? 10_000;
  const { database, writer } = await freshDatabase('postgres');
  try {
    const pools: string[] = [];
    for (let i = 0; i < 100; i++) pools.push(await writer.insertPool());
    const fanPool = await writer.insertPool();
    await writer.sql(
      `INSERT INTO escrows (pubkey, escrow_id, maker, mint_a, mint_b, amount_a, amount_b, vault, state, created_slot)
       SELECT 'bench' || g, g, 'benchmaker', 'mintA', 'mintB', g * 1000, g, 'vault' || g, 'funded', g FROM generate_series(1, 10000) g`,
    );

    // Both servers run in this process, like the load generator, side by side on the same database
    // (one with no clients does next to nothing per change), and the phases alternate between them
    // so that neither gets a quieter moment of this shared box. Fan-out runs twice each; the better
    // run counts.
    const gateway = await startGateway(database, {
      env: { SOLSTREAM_WS_MAX_BUFFERED_BYTES: String(64 * 1024 * 1024) },
    });
    const baseline = await startBaseline(database.url);
    let gatewayFigures: Omit<TargetFigures, 'idle'>;
    let baselineFigures: Omit<TargetFigures, 'idle'>;
    try {
      const targets = { gateway: gatewayTarget(gateway.wsUrl), baseline: baselineTarget(baseline.wsUrl) };
      const latency = {
        gateway: await measureLatency(targets.gateway, writer, pools, 1),
        baseline: await measureLatency(targets.baseline, writer, pools, 100_000),
      };
      for (const [name, l] of Object.entries(latency)) {
        log(`${name} latency: p50 ${l.p50Ms} ms, p99 ${l.p99Ms} ms (${l.delivered}/${l.changes} delivered)`);
      }
      const fanRuns: Record<'gateway' | 'baseline', FanOutResult[]> = { gateway: [], baseline: [] };
      let slot = 1_000_000;
      for (let run = 0; run < 2; run++) {
        for (const name of ['gateway', 'baseline'] as const) {
          const result = await measureFanOut(targets[name], writer, fanPool, slot);
          slot += 100_000;
          fanRuns[name].push(result);
          log(`${name} fan-out: ${result.deliveriesPerSecond} deliveries/s (${result.delivered} delivered)`);
        }
      }
      const best = (runs: FanOutResult[]) =>
        runs.reduce((a, b) => (b.deliveriesPerSecond > a.deliveriesPerSecond ? b : a));
      const snapshot = {
        gateway: await measureSnapshot(gateway.wsUrl, (ws, n) =>
          ws.send(
            JSON.stringify({
              type: 'subscribe',
              id: `s${n}`,
              topic: 'escrows',
              filter: { state: 'funded' },
              snapshot: true,
            }),
          ),
        ),
        baseline: await measureSnapshot(baseline.wsUrl, (ws) => ws.send('snapshot')),
      };
      for (const [name, r] of Object.entries(snapshot)) {
        log(`${name} snapshot: ${r.rows} rows in ${r.ms} ms (runs ${r.runsMs.join(', ')})`);
      }
      gatewayFigures = {
        latency: latency.gateway,
        fanOut: { ...best(fanRuns.gateway), runs: fanRuns.gateway.map((r) => r.deliveriesPerSecond) },
        snapshot: snapshot.gateway,
      };
      baselineFigures = {
        latency: latency.baseline,
        fanOut: { ...best(fanRuns.baseline), runs: fanRuns.baseline.map((r) => r.deliveriesPerSecond) },
        snapshot: snapshot.baseline,
      };
    } finally {
      await baseline.close();
      await gateway.close();
    }

    // Idle connections, each server in its own process so that its memory is its own.
    const gatewayProcess = new URL('../test/gateway/fixtures/gateway-process.ts', import.meta.url).pathname;
    const baselineProcess = new URL('./baseline.ts', import.meta.url).pathname;
    const gatewayIdle = await benchIdle([gatewayProcess], database.url, idleTarget);
    log(
      `gateway idle: ${gatewayIdle.held}/${gatewayIdle.target} held, ${gatewayIdle.kbPerConnection} KiB each (rss ${gatewayIdle.rssBeforeMb} → ${gatewayIdle.rssAfterMb} MB)`,
    );
    const baselineIdle = await benchIdle([baselineProcess, 'serve'], database.url, idleTarget);
    log(
      `baseline idle: ${baselineIdle.held}/${baselineIdle.target} held, ${baselineIdle.kbPerConnection} KiB each (rss ${baselineIdle.rssBeforeMb} → ${baselineIdle.rssAfterMb} MB)`,
    );
    return { gateway: { ...gatewayFigures, idle: gatewayIdle }, baseline: { ...baselineFigures, idle: baselineIdle } };
  } finally {
    await writer.close();
    await database.drop();
  }
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return Math.round(kb / 102.4) / 10;
}

async function benchIdle(script: readonly string[], databaseUrl: string, target: number): Promise<IdleResult> {
  const child = spawn(process.execPath, ['--import=tsx', ...script], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: '0', LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const line = await new Promise<string>((resolve) =>
      readline.createInterface({ input: child.stdout }).once('line', resolve),
    );
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
      kbPerConnection: clients.length === 0 ? NaN : Math.round((((after - before) * 1024) / clients.length) * 10) / 10,
    };
  } finally {
    child.kill('SIGKILL');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchGateway({
    log: (line) => console.log(line),
    ...(process.argv[2] ? { idleConnections: Number(process.argv[2]) } : {}),
  });
  console.log(JSON.stringify(result, null, 2));
  process.exit(0);
}
