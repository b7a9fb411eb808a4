// Gateway benchmarks on PostgreSQL: commit→client latency under filtered load, fan-out, idle
// connections and their memory, and a 10,000-row snapshot, each beside the wall-clock figure the
// CPU time the server process (and for the snapshot PostgreSQL) spent on it. Loopback only; every
// loop is bounded.
// bench/run.ts calls benchGateway() and records the figures; `node --import=tsx bench/gateway.ts` runs it alone.
import fs from 'node:fs';
import WebSocket from 'ws';
import type { ServerMessage } from '../src/wire/protocol.ts';
import { freshDatabase, type Writer } from '../test/gateway/harness.ts';
import { POSTGRES_ADMIN_URL } from '../test/support/database.ts';
import { childCpu, postgresCpu } from './cpu.ts';
import { spawnServer, type ServerKind, type ServerProcess } from './server-process.ts';

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
  /** Changes that reached a subscriber (the first arrival of each counts for the latency). */
  readonly delivered: number;
  /** Messages carrying a change received by all the clients (the baseline sends each to every client). */
  readonly deliveries: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** CPU time of the server process from the first write until the last change arrived, ms. */
  readonly cpuMs: number;
  readonly cpuUsPerChange: number;
  readonly cpuUsPerDelivery: number;
}

/** Commit→client latency: 100 subscribers each filtered to its own pool, 1,000 changes/s for 3 s. */
async function measureLatency(
  target: Target,
  server: ServerProcess,
  writer: Writer,
  pools: readonly string[],
  firstSlot: number,
  changes = 3000,
): Promise<LatencyResult> {
  const received = new Map<number, number>();
  let acks = 0;
  let deliveries = 0;
  const clients = await openClients(target.url, pools.length, (_i, raw) => {
    if (target.isAck(raw)) acks++;
    if (target.isChange(raw)) deliveries++;
    const slot = target.slotOf(raw);
    // The first arrival of each change (the baseline sends every change to every client).
    if (slot !== undefined && !received.has(slot)) received.set(slot, performance.now());
  });
  try {
    const expected = target.subscribe(clients, (i) => pools[i] as string);
    await waitFor(() => acks >= expected, 30_000);
    const cpuBefore = childCpu(server.pid);
    deliveries = 0;
    const committed = await writeAtRate(writer, pools, changes, 1000, firstSlot);
    await waitFor(() => [...committed.keys()].every((slot) => received.has(slot)), 30_000);
    const cpuMs = childCpu(server.pid) - cpuBefore;
    const lags = [...committed]
      .map(([slot, at]) => (received.get(slot) ?? NaN) - at)
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    return {
      ratePerSecond: 1000,
      subscribers: pools.length,
      changes,
      delivered: lags.length,
      deliveries,
      p50Ms: round(percentile(lags, 50)),
      p99Ms: round(percentile(lags, 99)),
      maxMs: round(lags.at(-1) ?? NaN),
      cpuMs,
      cpuUsPerChange: round((cpuMs * 1000) / lags.length),
      cpuUsPerDelivery: round((cpuMs * 1000) / deliveries),
    };
  } finally {
    for (const ws of clients) ws.terminate();
  }
}

export interface FanOutRun {
  readonly delivered: number;
  readonly deliveriesPerSecond: number;
  /** CPU time of the server process from the first write until the last delivery, ms. */
  readonly cpuMs: number;
  readonly cpuUsPerDelivery: number;
  readonly deliveriesPerCpuSecond: number;
}

export interface FanOutResult {
  readonly subscribers: number;
  readonly changes: number;
  /** The run with the most deliveries per second. */
  readonly deliveriesPerSecond: number;
  /** The run with the least CPU per delivery (interference on a shared box only adds to it). */
  readonly cpuUsPerDelivery: number;
  readonly deliveriesPerCpuSecond: number;
  readonly runs: readonly FanOutRun[];
}

/** Fan-out: 1,000 subscribers all matching, 300 changes at 300/s; deliveries per second until the last arrives. */
async function measureFanOut(
  target: Target,
  server: ServerProcess,
  writer: Writer,
  pool: string,
  firstSlot: number,
): Promise<FanOutRun> {
  let deliveries = 0;
  let acks = 0;
  let lastDelivery = 0;
  const subscribers = FAN_OUT_SUBSCRIBERS;
  const clients = await openClients(target.url, subscribers, (_i, raw) => {
    if (target.isChange(raw)) {
      deliveries++;
      lastDelivery = performance.now();
    } else if (target.isAck(raw)) acks++;
  });
  try {
    const expected = target.subscribe(clients, () => pool);
    await waitFor(() => acks >= expected, 60_000);
    const changes = FAN_OUT_CHANGES;
    const cpuBefore = childCpu(server.pid);
    const start = performance.now();
    await writeAtRate(writer, [pool], changes, 300, firstSlot);
    await waitFor(() => deliveries >= changes * subscribers, 120_000);
    const cpuMs = childCpu(server.pid) - cpuBefore;
    return {
      delivered: deliveries,
      deliveriesPerSecond: Math.round(deliveries / ((lastDelivery - start) / 1000)),
      cpuMs,
      cpuUsPerDelivery: round((cpuMs * 1000) / deliveries),
      deliveriesPerCpuSecond: Math.round(deliveries / (cpuMs / 1000)),
    };
  } finally {
    for (const ws of clients) ws.terminate();
  }
}

const FAN_OUT_SUBSCRIBERS = 1000;
const FAN_OUT_CHANGES = 300;

function fanOutOf(runs: readonly FanOutRun[]): FanOutResult {
  const fastest = runs.reduce((a, b) => (b.deliveriesPerSecond > a.deliveriesPerSecond ? b : a));
  const leanest = runs.reduce((a, b) => (b.cpuUsPerDelivery < a.cpuUsPerDelivery ? b : a));
  return {
    subscribers: FAN_OUT_SUBSCRIBERS,
    changes: FAN_OUT_CHANGES,
    deliveriesPerSecond: fastest.deliveriesPerSecond,
    cpuUsPerDelivery: leanest.cpuUsPerDelivery,
    deliveriesPerCpuSecond: leanest.deliveriesPerCpuSecond,
    runs,
  };
}

export interface SnapshotResult {
  readonly rows: number;
  /** Median of the runs, request sent → frame received and parsed by the client. */
  readonly ms: number;
  readonly runsMs: readonly number[];
  /** All the runs together: CPU of the server process and of the database's backends, ms per 1,000 rows. */
  readonly serverCpuMsPer1000Rows: number;
  readonly postgresCpuMsPer1000Rows: number;
  readonly runsServerCpuMs: readonly number[];
  readonly runsPostgresCpuMs: readonly number[];
}

/**
 * Asks once to warm up, then `runs` times, for the 10,000 funded escrows; `request` sends the
 * target's snapshot request. A snapshot costs the server a few ticks of 10 ms and PostgreSQL two
 * or three, so the CPU figures are the runs' sums over their rows, not a median.
 */
async function measureSnapshot(
  server: ServerProcess,
  database: DatabaseUnderTest,
  request: (ws: WebSocket, n: number) => void,
  runs = 5,
): Promise<SnapshotResult> {
  let arrived: ((rows: number) => void) | null = null;
  const [client] = await openClients(server.wsUrl, 1, (_i, raw) => {
    const m = JSON.parse(raw) as { type?: string; rows?: unknown[] };
    if (m.type === 'snapshot') arrived?.((m.rows ?? []).length);
  });
  try {
    const times: number[] = [];
    const serverCpuMs: number[] = [];
    const postgresCpuMs: number[] = [];
    let rows = 0;
    for (let n = 0; n <= runs; n++) {
      const postgres = await postgresCpu(database.adminUrl, database.name);
      const cpuBefore = childCpu(server.pid);
      const asked = performance.now();
      rows = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no snapshot within 30 s')), 30_000);
        arrived = (count) => {
          clearTimeout(timer);
          resolve(count);
        };
        request(client!, n);
      });
      const ms = round(performance.now() - asked);
      const serverMs = childCpu(server.pid) - cpuBefore;
      const postgresMs = await postgres.stop();
      if (n > 0) {
        times.push(ms);
        serverCpuMs.push(serverMs);
        postgresCpuMs.push(postgresMs);
      }
      await sleep(100);
    }
    const perThousandRows = (ms: readonly number[]) => round((sum(ms) * 1000) / (rows * ms.length));
    return {
      rows,
      ms: median(times),
      runsMs: times,
      serverCpuMsPer1000Rows: perThousandRows(serverCpuMs),
      postgresCpuMsPer1000Rows: perThousandRows(postgresCpuMs),
      runsServerCpuMs: serverCpuMs,
      runsPostgresCpuMs: postgresCpuMs,
    };
  } finally {
    client!.terminate();
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** The bench database, named for reading its backends' CPU time. */
interface DatabaseUnderTest {
  readonly url: string;
  readonly adminUrl: string;
  readonly name: string;
}

export interface GatewayBenchOptions {
  readonly idleConnections?: number;
  readonly log?: (line: string) => void;
}

type Side = 'gateway' | 'baseline';
const SIDES: readonly Side[] = ['gateway', 'baseline'];

/** The gateway's figures and, on the same database with the same load, the baseline's. */
export async function benchGateway(options: GatewayBenchOptions = {}): Promise<GatewayBenchResult> {
  const log = options.log ?? (() => undefined);
  const idleTarget = options.idleConnections ?? 10_000;
  const { database, writer } = await freshDatabase('postgres');
  try {
    const bench: DatabaseUnderTest = {
      url: database.url,
      adminUrl: POSTGRES_ADMIN_URL,
      name: new URL(database.url).pathname.slice(1),
    };
    const pools: string[] = [];
    for (let i = 0; i < 100; i++) pools.push(await writer.insertPool());
    const fanPool = await writer.insertPool();
    await writer.sql(
      `INSERT INTO escrows (pubkey, escrow_id, maker, mint_a, mint_b, amount_a, amount_b, vault, state, created_slot)
       SELECT 'bench' || g, g, 'benchmaker', 'mintA', 'mintB', g * 1000, g, 'vault' || g, 'funded', g FROM generate_series(1, 10000) g`,
    );

    // Each server in its own process, so that its CPU time is its own (the load generator and the
    // clients run here); both side by side on the same database (one with no clients does next to
    // nothing per change), and the phases alternate between them so that neither gets a quieter
    // moment of this shared box. Fan-out runs twice each.
    const servers: Partial<Record<Side, ServerProcess>> = {};
    let figures: Record<Side, Omit<TargetFigures, 'idle'>>;
    try {
      servers.gateway = await spawnServer('gateway', database.url);
      servers.baseline = await spawnServer('baseline', database.url);
      const running = servers as Record<Side, ServerProcess>;
      const targets = {
        gateway: gatewayTarget(running.gateway.wsUrl),
        baseline: baselineTarget(running.baseline.wsUrl),
      };
      // A fresh process spends its first second of load compiling (the gateway's CPU per change
      // halves after it): one unrecorded second of the latency load on each first.
      for (const side of SIDES) {
        await measureLatency(targets[side], running[side], writer, pools, side === 'gateway' ? 50_000 : 150_000, 1000);
      }
      const firstSlots = { gateway: 1, baseline: 100_000 };
      const latency = {} as Record<Side, LatencyResult>;
      for (const side of SIDES) {
        const l = await measureLatency(targets[side], running[side], writer, pools, firstSlots[side]);
        latency[side] = l;
        log(
          `${side} latency: p50 ${l.p50Ms} ms, p99 ${l.p99Ms} ms (${l.delivered}/${l.changes} delivered, ${l.deliveries} deliveries), ` +
            `CPU ${l.cpuUsPerChange} µs per change`,
        );
      }
      const fanRuns: Record<Side, FanOutRun[]> = { gateway: [], baseline: [] };
      let slot = 1_000_000;
      for (let run = 0; run < 2; run++) {
        for (const side of SIDES) {
          const result = await measureFanOut(targets[side], running[side], writer, fanPool, slot);
          slot += 100_000;
          fanRuns[side].push(result);
          log(
            `${side} fan-out: ${result.deliveriesPerSecond} deliveries/s (${result.delivered} delivered), ` +
              `CPU ${result.cpuUsPerDelivery} µs per delivery`,
          );
        }
      }
      const requests: Record<Side, (ws: WebSocket, n: number) => void> = {
        gateway: (ws, n) =>
          ws.send(
            JSON.stringify({
              type: 'subscribe',
              id: `s${n}`,
              topic: 'escrows',
              filter: { state: 'funded' },
              snapshot: true,
            }),
          ),
        baseline: (ws) => ws.send('snapshot'),
      };
      const snapshot = {} as Record<Side, SnapshotResult>;
      for (const side of SIDES) {
        const r = await measureSnapshot(running[side], bench, requests[side]);
        snapshot[side] = r;
        log(
          `${side} snapshot: ${r.rows} rows in ${r.ms} ms (runs ${r.runsMs.join(', ')}), CPU per 1,000 rows ` +
            `${r.serverCpuMsPer1000Rows} ms server, ${r.postgresCpuMsPer1000Rows} ms PostgreSQL`,
        );
      }
      figures = {
        gateway: { latency: latency.gateway, fanOut: fanOutOf(fanRuns.gateway), snapshot: snapshot.gateway },
        baseline: { latency: latency.baseline, fanOut: fanOutOf(fanRuns.baseline), snapshot: snapshot.baseline },
      };
    } finally {
      await servers.baseline?.kill();
      await servers.gateway?.kill();
    }

    // Idle connections, each server in a fresh process so that its memory is its own.
    const idle = {} as Record<Side, IdleResult>;
    for (const side of SIDES) {
      const r = await benchIdle(side, database.url, idleTarget);
      idle[side] = r;
      log(
        `${side} idle: ${r.held}/${r.target} held, ${r.kbPerConnection} KiB each (rss ${r.rssBeforeMb} → ${r.rssAfterMb} MB)`,
      );
    }
    return {
      gateway: { ...figures.gateway, idle: idle.gateway },
      baseline: { ...figures.baseline, idle: idle.baseline },
    };
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

async function benchIdle(kind: ServerKind, databaseUrl: string, target: number): Promise<IdleResult> {
  const server = await spawnServer(kind, databaseUrl);
  try {
    await sleep(500);
    const before = rssMb(server.pid);
    const clients = await openClients(server.wsUrl, target).catch(() => [] as WebSocket[]);
    await sleep(1000);
    const after = rssMb(server.pid);
    for (const ws of clients) ws.terminate();
    return {
      target,
      held: clients.length,
      rssBeforeMb: before,
      rssAfterMb: after,
      kbPerConnection: clients.length === 0 ? NaN : Math.round((((after - before) * 1024) / clients.length) * 10) / 10,
    };
  } finally {
    await server.kill();
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
