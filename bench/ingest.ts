// Ingest throughput on PostgreSQL: transactions of the real programs (played by the local
// cluster's activity script) decoded and mapped by the real programs (their chain reads answered
// from the ledger in memory), then persisted through the ingester's batch writer (idempotent
// upserts, per-column positions, checkpoints) in batches.
//   node --import=tsx bench/ingest.ts [transactions] [batchSize]
import { openDatabase } from '../src/db/connection.ts';
import { TOPICS } from '../src/db/schema.ts';
import { startGateway } from '../test/gateway/harness.ts';
import { openClients } from './gateway.ts';
import { migrateUp } from '../src/db/migrator.ts';
import { upsertRows } from '../src/db/repositories/index.ts';
import { BatchWriter, type Update } from '../src/ingest/writer.ts';
import { silentLogger } from '../src/log.ts';
import { postgresCpu, processCpu } from './cpu.ts';
import { createScratchDatabase } from './database.ts';
import { buildPrograms, parseProgramsConfig } from '../src/programs/registry.ts';
import { ActivityScript } from '../src/simulate/activity/player.ts';
import { memoryContext, MemoryRows, PlayedLedger } from '../test/support/program-harness.ts';

export interface IngestBenchOptions {
  /** Server to create the scratch database on. */
  readonly postgresAdminUrl?: string;
  readonly transactions?: number;
  readonly batchSize?: number;
  readonly seed?: number;
  /** Run a gateway on the database with a client subscribed to every topic, for the streamed figure. */
  readonly stream?: boolean;
  /** With false, the capture triggers are disabled: the write path's cost without change capture. */
  readonly capture?: boolean;
}

export interface IngestBenchResults {
  readonly transactions: number;
  /** Decoded updates: one per account write and one per transaction. */
  readonly updates: number;
  readonly rows: number;
  /** Updates the database rejected (logged and skipped by the ingester). */
  readonly failedUpdates: number;
  readonly decodedPerSecond: number;
  readonly persistedUpdatesPerSecond: number;
  readonly persistedRowsPerSecond: number;
  /** Changes the writes produced (captured by the triggers). */
  readonly changes: number;
  /** With `stream`: changes received, and per second from the first write, by a websocket subscriber of every topic. */
  readonly changesStreamed: number;
  readonly streamedChangesPerSecond: number;
  readonly batchSize: number;
  readonly capture: boolean;
  /** CPU time of this process (decode and map / the writer's side of persisting), per update, µs. */
  readonly decodeCpuUsPerUpdate: number;
  readonly persistCpuUsPerUpdate: number;
  /** CPU time of PostgreSQL's backends while persisting, per update, µs. */
  readonly postgresCpuUsPerUpdate: number;
  /** Updates persisted per second of CPU (this process and PostgreSQL's backends together). */
  readonly persistedUpdatesPerCpuSecond: number;
}

export async function runIngestBench(options: IngestBenchOptions = {}): Promise<IngestBenchResults> {
  const adminUrl =
    options.postgresAdminUrl ?? process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const count = options.transactions ?? 20_000;
  const batchSize = options.batchSize ?? 500;
  const scratch = await createScratchDatabase(adminUrl);
  const name = scratch.name;
  const db = await openDatabase({ databaseUrl: scratch.url, dialect: 'postgres', sqlitePath: null, poolMax: 4 });
  try {
    await migrateUp(db);
    const capture = options.capture ?? true;
    // Without capture: the seed tables' own triggers off (foreign keys are system triggers and stay).
    if (!capture) for (const topic of TOPICS) await db.sequelize.query(`ALTER TABLE ${topic} DISABLE TRIGGER USER`);
    const programs = buildPrograms(parseProgramsConfig(undefined));
    const byProgram = new Map(programs.map((p) => [p.programId, p]));
    const chain = new PlayedLedger(`bench-${options.seed ?? 1}`);
    const script = new ActivityScript({ seed: options.seed ?? 1 });
    const played = chain.play(script, count);

    // Decode and map, as the ingester does: each account write and each transaction is one update.
    const context = memoryContext(chain, new MemoryRows());
    const decodeCpu = processCpu();
    const decodeStart = process.hrtime.bigint();
    const updates: Update[] = [];
    for (const { tx, submitted, input } of played) {
      for (const write of tx.accountWrites) {
        const program = byProgram.get(write.owner);
        const decoded: unknown = program?.decodeAccount(write.pubkey, write.data) ?? null;
        if (program === undefined || decoded === null) continue;
        const account = {
          pubkey: write.pubkey,
          data: write.data,
          slot: submitted.slot,
          origin: 'notification' as const,
        };
        updates.push({ rows: await program.mapAccount(decoded, account, context), source: write.pubkey });
      }
      for (const programId of new Set(tx.instructions.map((ix) => ix.programId))) {
        const program = byProgram.get(programId);
        const decoded: unknown = program?.decodeTransaction(input) ?? null;
        if (program === undefined || decoded === null) continue;
        updates.push({
          rows: await program.mapTransaction(decoded, input, context),
          source: submitted.signature,
          checkpoint: { programId, slot: submitted.slot, signature: submitted.signature },
        });
      }
    }
    const decodeSeconds = Number(process.hrtime.bigint() - decodeStart) / 1e9;
    const decodeCpuMs = decodeCpu();

    // Streamed: a gateway on the same database and one client subscribed to every topic, as a
    // dashboard would be; the figure is changes received per second from the first write.
    // Without it, the figure is the write path alone (the gateway shares the box's two cores).
    const gateway = options.stream
      ? await startGateway({
          db,
          dialect: 'postgres',
          url: scratch.url,
          sqlitePath: null,
          drop: async () => undefined,
        })
      : null;
    let streamed = 0;
    let lastStreamed = 0;
    let acks = 0;
    const [client] = gateway
      ? await openClients(gateway.wsUrl, 1, (_i, raw) => {
          if (raw.startsWith('{"type":"change"')) {
            streamed++;
            lastStreamed = performance.now();
          } else if (raw.startsWith('{"type":"subscribed"')) acks++;
        })
      : [];
    TOPICS.forEach((topic) => client?.send(JSON.stringify({ type: 'subscribe', id: topic, topic })));
    while (client && acks < TOPICS.length) await new Promise((resolve) => setTimeout(resolve, 10));
    const [{ before }] = (
      await db.sequelize.query('SELECT COALESCE(MAX(cursor), 0) AS before FROM solstream_change_log')
    )[0] as [{ before: string }];

    const writer = new BatchWriter(db, { upsert: upsertRows, logger: silentLogger });
    // Open the writer's connections before counting, so their start-up is not the work measured.
    await writer.write([]);
    const postgres = await postgresCpu(adminUrl, name);
    const persistCpu = processCpu();
    const session = process.env.PROFILE_PERSIST ? await startProfile() : null;
    const writeStarted = performance.now();
    const writeStart = process.hrtime.bigint();
    let rows = 0;
    let failedUpdates = 0;
    for (let i = 0; i < updates.length; i += batchSize) {
      const result = await writer.write(updates.slice(i, i + batchSize));
      rows += result.rowsWritten;
      failedUpdates += result.failedUpdates;
      if ((i / batchSize) % 5 === 0) await postgres.sample();
    }
    const writeSeconds = Number(process.hrtime.bigint() - writeStart) / 1e9;
    const persistCpuMs = persistCpu();
    if (session) await stopProfile(session, process.env.PROFILE_PERSIST as string);
    const postgresCpuMs = await postgres.stop();
    const [{ after }] = (
      await db.sequelize.query('SELECT COALESCE(MAX(cursor), 0) AS after FROM solstream_change_log')
    )[0] as [{ after: string }];
    const changes = Number(after) - Number(before);
    const deadline = Date.now() + 60_000;
    while (client && streamed < changes && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    client?.terminate();
    await gateway?.close();
    return {
      transactions: count,
      updates: updates.length,
      rows,
      failedUpdates,
      decodedPerSecond: Math.round(updates.length / decodeSeconds),
      persistedUpdatesPerSecond: Math.round(updates.length / writeSeconds),
      persistedRowsPerSecond: Math.round(rows / writeSeconds),
      changes,
      changesStreamed: streamed,
      streamedChangesPerSecond: client ? Math.round(streamed / ((lastStreamed - writeStarted) / 1000)) : NaN,
      batchSize,
      capture,
      decodeCpuUsPerUpdate: round((decodeCpuMs * 1000) / updates.length),
      persistCpuUsPerUpdate: round((persistCpuMs * 1000) / updates.length),
      postgresCpuUsPerUpdate: round((postgresCpuMs * 1000) / updates.length),
      persistedUpdatesPerCpuSecond: Math.round(updates.length / ((persistCpuMs + postgresCpuMs) / 1000)),
    };
  } finally {
    await db.close();
    await scratch.drop();
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

if (import.meta.url === `file://${process.argv[1]}`) {
  const [transactions, batchSize] = process.argv.slice(2).map(Number);
  const results = await runIngestBench({
    ...(transactions ? { transactions } : {}),
    ...(batchSize ? { batchSize } : {}),
    stream: process.argv.includes('--stream'),
    capture: !process.argv.includes('--no-capture'),
  });
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  process.exit(0);
}

async function startProfile() {
  const inspector = await import('node:inspector/promises');
  const session = new inspector.Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return session;
}

async function stopProfile(session: Awaited<ReturnType<typeof startProfile>>, file: string) {
  const { profile } = await session.post('Profiler.stop');
  (await import('node:fs')).writeFileSync(file, JSON.stringify(profile));
}
