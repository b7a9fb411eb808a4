// NATS mode end to end: three gateway processes on one PostgreSQL database and the machine's
// NATS JetStream, clients on each, writers on raw SQL connections. Every client gets every
// matching change once, in cursor order; a client resumes on another gateway; the relay's process
// is killed with SIGKILL; NATS itself is restarted mid-stream. Each test has a stream of its own.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { ChangeMessage, ErrorMessage, SnapshotMessage, SubscribedMessage } from '../../src/wire/protocol.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startGateway, Writer } from '../support/gateway.ts';
import { killGateway, spawnGateway, type GatewayProcess } from '../support/gateway-process.ts';
import { byType, TestClient } from '../gateway/harness.ts';
import {
  deleteStream,
  ensureNatsRunning,
  eventually,
  natsEnv,
  readStream,
  requireNats,
  stopNats,
} from '../support/nats.ts';

const exec = promisify(execFile);

interface Readiness {
  ready: boolean;
  feed: string;
  relay?: 'leader' | 'standby';
}

async function readiness(gateway: GatewayProcess): Promise<Readiness> {
  return (await (await fetch(`${gateway.httpUrl}/readyz`)).json()) as Readiness;
}

/** The one gateway that is the relay (waits until exactly one says so). */
async function leaderOf(gateways: readonly GatewayProcess[]): Promise<GatewayProcess> {
  let leader: GatewayProcess | undefined;
  await eventually(async () => {
    const states = await Promise.all(gateways.map((g) => readiness(g).catch(() => null)));
    const leaders = gateways.filter((_, i) => states[i]?.relay === 'leader');
    leader = leaders[0];
    return leaders.length === 1;
  }, 'exactly one relay');
  return leader as GatewayProcess;
}

/** Collects the changes of subscription `id` until `count` have arrived. */
async function collect(client: TestClient, id: string, count: number): Promise<ChangeMessage[]> {
  const got: ChangeMessage[] = [];
  while (got.length < count) got.push(await client.take<ChangeMessage>(byType('change', id), 60_000));
  return got;
}

/** No duplicate, no gap against `expected`, strictly increasing cursors. */
function expectExactlyOnceInOrder(changes: readonly ChangeMessage[], expected: readonly number[], who: string): void {
  for (let i = 1; i < changes.length; i++) {
    expect(BigInt(changes[i]!.cursor) > BigInt(changes[i - 1]!.cursor), `${who}: cursor order at ${i}`).to.equal(true);
  }
  expect(
    changes.map((c) => c.row.slot as number).sort((a, b) => a - b),
    who,
  ).to.deep.equal([...expected].sort((a, b) => a - b));
}

/** Inserts swaps with slots `from`…`to` on `writers` connections at once (commits interleave). */
async function writeSwaps(writers: readonly Writer[], pool: string, from: number, to: number): Promise<void> {
  let next = from;
  await Promise.all(
    writers.map(async (writer) => {
      while (next <= to) {
        const slot = next++;
        await writer.insertSwap(pool, slot);
      }
    }),
  );
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('NATS mode: several gateways on one database (postgres, JetStream)', function () {
  this.timeout(180_000);
  let database: TestDatabase;
  const writers: Writer[] = [];
  const children: GatewayProcess[] = [];
  const clients: TestClient[] = [];
  const streams: string[] = [];

  const startGateways = async (n: number, env: Record<string, string>): Promise<GatewayProcess[]> => {
    const started = await Promise.all(Array.from({ length: n }, () => spawnGateway(database, env)));
    children.push(...started);
    return started;
  };

  const connect = async (url: string): Promise<TestClient> => {
    const client = await TestClient.connect(url);
    clients.push(client);
    return client;
  };

  const subscribe = async (client: TestClient, message: Record<string, unknown>) => {
    client.send({ type: 'subscribe', ...message });
    return client.take<SubscribedMessage>(byType('subscribed', message.id as string));
  };

  before(async () => {
    await requireNats();
    database = await createTestDatabase('postgres');
    for (let i = 0; i < 3; i++) writers.push(await Writer.open(database));
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await Promise.all(children.splice(0).map(killGateway));
    await ensureNatsRunning();
    for (const stream of streams.splice(0)) await deleteStream(stream);
  });
  after(async () => {
    await ensureNatsRunning();
    for (const writer of writers) await writer.close();
    await database?.drop();
  });

  it('delivers every matching change once, in cursor order, to clients on each of three gateways', async () => {
    const { env, stream } = natsEnv();
    streams.push(stream);
    // Messages of at most 4 KiB: the large row below goes as a cursor-only reference, read from the log.
    const gateways = await startGateways(3, { ...env, SOLSTREAM_NATS_MAX_PAYLOAD_BYTES: '4096' });
    const pool = await writers[0]!.insertPool();
    const other = await writers[0]!.insertPool();
    const subscribers: TestClient[] = [];
    for (const gateway of gateways) {
      for (const id of ['a', 'b']) {
        const client = await connect(gateway.wsUrl);
        await subscribe(client, { id, topic: 'swaps', filter: { pool_pubkey: pool } });
        subscribers.push(client);
      }
    }
    await writeSwaps(writers, pool, 1, 120);
    await writers[0]!.insertSwap(other, 999);
    // A row larger than a message reaches clients whole as well.
    const big = 'x'.repeat(20_000);
    const client = await connect(gateways[2]!.wsUrl);
    await subscribe(client, { id: 'tx', topic: 'transactions' });
    await writers[1]!.sql(
      `INSERT INTO transactions (signature, slot, fee, status, raw_data) VALUES ($1, 1, 0, 'success', $2::jsonb)`,
      ['5'.repeat(64), JSON.stringify({ blob: big })],
    );
    for (const [i, subscriber] of subscribers.entries()) {
      const id = i % 2 === 0 ? 'a' : 'b';
      expectExactlyOnceInOrder(await collect(subscriber, id, 120), range(1, 120), `client ${i}`);
      await subscriber.roundTrip();
      expect(
        subscriber.messages.filter((m) => m.type === 'change'),
        `client ${i}: nothing more`,
      ).to.have.length(0);
    }
    const [tx] = await collect(client, 'tx', 1);
    expect(tx?.row.raw_data).to.deep.equal({ blob: big });
    // The stream holds each change of the log once, in cursor order, with one relay publishing.
    const published = await readStream(stream);
    const cursors = published.map((m) => BigInt(m.cursor));
    expect(cursors.every((c, i) => i === 0 || c > (cursors[i - 1] as bigint))).to.equal(true);
    expect(published.length).to.equal(new Set(cursors).size);
  });

  it('resumes a client on another gateway from its last cursor: no gap, no duplicate; a snapshot joins exactly there too', async () => {
    const { env, stream } = natsEnv();
    streams.push(stream);
    const [first, second, third] = await startGateways(3, env);
    const pool = await writers[0]!.insertPool();
    const client = await connect(first!.wsUrl);
    await subscribe(client, { id: 'r', topic: 'swaps', filter: { pool_pubkey: pool } });
    const writing = writeSwaps(writers, pool, 1, 200);
    const before = await collect(client, 'r', 40);
    client.close();
    await client.closed;
    const last = before.at(-1)!.cursor;
    const resumed = await connect(second!.wsUrl);
    const subscribed = await subscribe(resumed, {
      id: 'r',
      topic: 'swaps',
      filter: { pool_pubkey: pool },
      since: last,
    });
    expect(subscribed.cursor).to.equal(last);
    // Meanwhile a snapshot on the third gateway, taken while writes go on.
    const snapshotClient = await connect(third!.wsUrl);
    // Swaps are an append topic: a snapshot of the latest 1,000 holds every row written so far.
    snapshotClient.send({
      type: 'subscribe',
      id: 's',
      topic: 'swaps',
      filter: { pool_pubkey: pool },
      snapshot: { limit: 1000 },
    });
    const snapshot = await snapshotClient.take<SnapshotMessage>(byType('snapshot', 's'));
    await writing;
    const after = await collect(resumed, 'r', 160);
    expect(BigInt(after[0]!.cursor) > BigInt(last)).to.equal(true);
    expectExactlyOnceInOrder([...before, ...after], range(1, 200), 'resumed client');
    const seen = snapshot.rows.length;
    const rest = await collect(snapshotClient, 's', 200 - seen);
    expectExactlyOnceInOrder(
      rest,
      range(1, 200).filter((slot) => !snapshot.rows.some((r) => r.slot === slot)),
      'snapshot client',
    );
    expect(rest.every((c) => BigInt(c.cursor) > BigInt(snapshot.cursor))).to.equal(true);
  });

  it('survives kill -9 of the relay mid-stream: another gateway takes over, nothing lost or repeated', async () => {
    const { env, stream } = natsEnv();
    streams.push(stream);
    const gateways = await startGateways(3, env);
    const pool = await writers[0]!.insertPool();
    const leader = await leaderOf(gateways);
    const survivors = gateways.filter((g) => g !== leader);
    const watchers: TestClient[] = [];
    for (const gateway of survivors) {
      const client = await connect(gateway.wsUrl);
      await subscribe(client, { id: 'k', topic: 'swaps', filter: { pool_pubkey: pool } });
      watchers.push(client);
    }
    const writing = writeSwaps(writers, pool, 1, 300);
    await collect(watchers[0]!, 'k', 50).then((got) => watchers[0]!.messages.unshift(...got));
    await killGateway(leader);
    await writing;
    const next = await leaderOf(survivors);
    expect(next).to.not.equal(leader);
    for (const [i, watcher] of watchers.entries()) {
      expectExactlyOnceInOrder(await collect(watcher, 'k', 300), range(1, 300), `watcher ${i}`);
    }
    const published = await readStream(stream);
    const cursors = published.map((m) => m.cursor);
    expect(new Set(cursors).size, 'no change twice in the stream').to.equal(cursors.length);
    const ordered = cursors.map(BigInt);
    expect(ordered.every((c, i) => i === 0 || c > (ordered[i - 1] as bigint))).to.equal(true);
  });

  it('recovers when NATS restarts mid-stream: the gateways catch up and every client gets every change once', async () => {
    const { env, stream } = natsEnv();
    streams.push(stream);
    const gateways = await startGateways(3, env);
    const pool = await writers[0]!.insertPool();
    const watchers: TestClient[] = [];
    for (const gateway of gateways) {
      const client = await connect(gateway.wsUrl);
      await subscribe(client, { id: 'n', topic: 'swaps', filter: { pool_pubkey: pool } });
      watchers.push(client);
    }
    await writeSwaps(writers, pool, 1, 50);
    try {
      await stopNats();
      // Writes go on while NATS is away; the change log keeps them.
      await writeSwaps(writers, pool, 51, 120);
      await eventually(
        async () => (await Promise.all(gateways.map(readiness))).every((r) => !r.ready),
        'every gateway to report its feed down',
      );
    } finally {
      await ensureNatsRunning();
    }
    await writeSwaps(writers, pool, 121, 150);
    for (const [i, watcher] of watchers.entries()) {
      expectExactlyOnceInOrder(await collect(watcher, 'n', 150), range(1, 150), `watcher ${i}`);
    }
    await eventually(
      async () => (await Promise.all(gateways.map(readiness))).every((r) => r.ready),
      'every gateway ready again',
    );
  });

  it('refuses a cursor issued by another database with cursor_epoch_mismatch', async () => {
    const { env, stream } = natsEnv();
    streams.push(stream);
    const [gateway] = await startGateways(1, env);
    const elsewhere = await createTestDatabase('postgres');
    const foreign = await startGateway(elsewhere);
    try {
      const there = await connect(foreign.wsUrl);
      const cursor = (await subscribe(there, { id: 'f', topic: 'swaps', snapshot: true })).cursor;
      const here = await connect(gateway!.wsUrl);
      here.send({ type: 'subscribe', id: 'f', topic: 'swaps', since: cursor });
      const error = await here.take<ErrorMessage>(byType('error', 'f'));
      expect(error.code).to.equal('cursor_epoch_mismatch');
      // The same offset as a bare cursor is taken as a position in this database's log.
      const bare = BigInt(cursor) % 10n ** 19n;
      here.send({ type: 'subscribe', id: 'g', topic: 'swaps', since: bare.toString() });
      const answer = await here.take((m) => 'id' in m && m.id === 'g');
      expect(answer.type === 'subscribed' || (answer as ErrorMessage).code === 'invalid_cursor').to.equal(true);
    } finally {
      await foreign.close();
      await elsewhere.drop();
    }
  });

  it('writes from psql reach NATS-mode clients like any other writer', async () => {
    const { env, stream } = natsEnv();
    streams.push(stream);
    const [gateway] = await startGateways(1, env);
    const pool = await writers[0]!.insertPool();
    const client = await connect(gateway!.wsUrl);
    await subscribe(client, { id: 'p', topic: 'swaps', filter: { pool_pubkey: pool } });
    const values = range(1, 5)
      .map((slot) => `('${pool}', '${pool}', '${pool}', '${pool}', 10, 20, 1, '${slot}${'1'.repeat(80)}', ${slot})`)
      .join(', ');
    await exec('psql', [
      database.url,
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      `INSERT INTO swaps (pool_pubkey, user_address, input_mint, output_mint, input_amount, output_amount, fee_amount, signature, slot) VALUES ${values}`,
    ]);
    expectExactlyOnceInOrder(await collect(client, 'p', 5), range(1, 5), 'psql writes');
  });
});
