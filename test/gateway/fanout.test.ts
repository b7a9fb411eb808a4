// What a change's subscribers have in common is worked out once while it is handed out (the filter's
// verdict, the frame's bytes), and the frames one turn sends to a socket leave in one write.
import { expect } from 'chai';
import { Writable } from 'node:stream';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import type { Change, ChangeFeed } from '../../src/capture/types.ts';
import { loadConfig } from '../../src/config.ts';
import { CORK_FLUSH_BYTES, TurnBatcher, type RawSocket } from '../../src/gateway/batching.ts';
import { FanOut } from '../../src/gateway/fanout.ts';
import { compileFilter, type CompiledFilter } from '../../src/gateway/filters.ts';
import { makeGateway } from '../../src/gateway/gateway.ts';
import { noMetrics } from '../../src/gateway/types.ts';
import { silentLogger } from '../../src/log.ts';
import type { ChangeMessage } from '../../src/wire/protocol.ts';
import { FakeSocket, fakeFeed, swapRow, type ManualSource, type MemoryLog } from '../support/fake-feed.ts';
import { pubkey } from '../support/keys.ts';
import { freshDatabase, startGateway } from './harness.ts';

const limits = loadConfig({}).ws;
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await turn();
  expect(done()).to.equal(true);
}

/**
 * For real sockets and a real database, which answer in time rather than in event-loop turns: a
 * thousand turns can pass before a loaded machine's PostgreSQL has answered at all.
 */
async function within(ms: number, done: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(done()).to.equal(true);
}

describe('fan-out: shared work per change', () => {
  let log: MemoryLog;
  let source: ManualSource;
  let feed: ChangeFeed;
  const pool = pubkey();

  beforeEach(async () => {
    ({ log, source, feed } = await fakeFeed());
  });
  afterEach(() => feed.close());

  it('hands subscribers with the same id, filter and commitment the same bytes, and the others their own', async () => {
    const gateway = makeGateway({ feed, dialect: 'sqlite', limits, logger: silentLogger });
    const sockets = [new FakeSocket(), new FakeSocket(), new FakeSocket()];
    const ids = ['a', 'a', 'b'];
    sockets.forEach((socket, i) =>
      gateway
        .opened(socket, { key: null, topics: '*' })
        .message(JSON.stringify({ type: 'subscribe', id: ids[i], topic: 'swaps', filter: { pool_pubkey: pool } })),
    );
    await until(() => sockets.every((s) => s.frames.some((m) => m.type === 'subscribed')));
    source.publish(log.commit('swaps', 'insert', swapRow(pool, 7), undefined, 7));
    await until(() => sockets.every((s) => s.frames.some((m) => m.type === 'change')));

    const frameOf = (s: FakeSocket) => s.sent.at(-1);
    expect(frameOf(sockets[0]!)).to.be.instanceOf(Buffer);
    expect(frameOf(sockets[0]!)).to.equal(frameOf(sockets[1]!)); // the same object, encoded once
    expect(frameOf(sockets[2]!)).to.not.equal(frameOf(sockets[0]!));
    const a = sockets[0]!.frames.at(-1) as ChangeMessage;
    const b = sockets[2]!.frames.at(-1) as ChangeMessage;
    expect(a.id).to.equal('a');
    expect(b.id).to.equal('b');
    expect({ ...a, id: 'b' }).to.deep.equal(b);
  });

  it('evaluates a filter once per change for every subscription that has it', () => {
    let evaluations = 0;
    const counted = (filter: CompiledFilter): CompiledFilter => ({
      ...filter,
      matches: (row) => {
        evaluations++;
        return filter.matches(row);
      },
    });
    const fanOut = new FanOut(feed, noMetrics);
    const same = [1, 2, 3].map(() => counted(compileFilter('swaps', { pool_pubkey: pool })));
    const other = counted(compileFilter('swaps', { pool_pubkey: pubkey() }));
    const verdicts: (string | null)[] = [];
    for (const filter of [...same, other]) {
      fanOut.attach('swaps', (change) => void verdicts.push(fanOut.view(filter, change)));
    }
    const change: Change = log.commit('swaps', 'insert', swapRow(pool, 8), undefined, 8);
    source.publish(change);
    return until(() => verdicts.length === 4).then(() => {
      expect(verdicts).to.deep.equal(['insert', 'insert', 'insert', null]);
      expect(evaluations).to.equal(2);
      // Outside a hand-out (a join's buffered changes) nothing is remembered.
      expect(fanOut.view(same[0]!, change)).to.equal('insert');
      expect(evaluations).to.equal(3);
    });
  });

  it('hands a change only to subscriptions whose equality its row (or the row before it) meets, and every one of those', async () => {
    const fanOut = new FanOut(feed, noMetrics);
    const pools = Array.from({ length: 1000 }, () => pubkey());
    const received = new Map<string, ChangeOpOrNull[]>();
    const attach = (name: string, filter: CompiledFilter) => {
      received.set(name, []);
      return fanOut.attach('swaps', (change) => void received.get(name)!.push(fanOut.view(filter, change)), filter);
    };
    pools.forEach((p, i) => attach(`pool ${i}`, compileFilter('swaps', { pool_pubkey: p })));
    // An equality beside a range is looked up by the equality; filters without one get every change.
    attach('pool 7 big', compileFilter('swaps', { input_amount: { gte: '100' }, pool_pubkey: pools[7] }));
    attach('big', compileFilter('swaps', { input_amount: { gte: '100' } }));
    attach('all', compileFilter('swaps', {}));
    const detach = attach('pool 7 again', compileFilter('swaps', { pool_pubkey: pools[7] }));

    source.publish(log.commit('swaps', 'insert', swapRow(pools[7]!, 9), undefined, 9));
    await until(() => received.get('all')!.length === 1);
    const handed = [...received].filter(([, ops]) => ops.length > 0).map(([name, ops]) => [name, ops]);
    expect(handed).to.have.deep.members([
      ['pool 7', ['insert']],
      ['pool 7 big', [null]], // input_amount 10
      ['big', [null]],
      ['all', ['insert']],
      ['pool 7 again', ['insert']],
    ]);

    // An update moving a row from pool 3 to pool 4 (a state-table shape; the index does not care):
    // it leaves pool 3's view and enters pool 4's.
    for (const ops of received.values()) ops.length = 0;
    detach();
    const before = swapRow(pools[3]!, 10);
    source.publish(log.commit('swaps', 'update', { ...before, pool_pubkey: pools[4] }, before, 10));
    await until(() => received.get('all')!.length === 1);
    const moved = [...received].filter(([, ops]) => ops.length > 0).map(([name, ops]) => [name, ops]);
    expect(moved).to.have.deep.members([
      ['pool 3', ['delete']],
      ['pool 4', ['insert']],
      ['big', [null]],
      ['all', ['update']],
    ]);
  });
});

type ChangeOpOrNull = string | null;

/** A writable that records each write it is asked to make (one per system call on a socket). */
class CountingSocket extends Writable implements RawSocket {
  readonly writes: number[] = [];
  constructor() {
    super({ highWaterMark: 1 << 30 });
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.writes.push(1);
    done();
  }
  override _writev(chunks: { chunk: Buffer }[], done: () => void): void {
    this.writes.push(chunks.length);
    done();
  }
}

describe('fan-out: frames of one turn leave a socket together', () => {
  const send = (batcher: TurnBatcher, socket: CountingSocket, bytes: number) => {
    batcher.before(socket);
    // What `ws` does per frame: header and payload under its own cork.
    socket.cork();
    socket.write(Buffer.alloc(2));
    socket.write(Buffer.alloc(bytes));
    socket.uncork();
    batcher.after(socket);
  };

  it('writes what one turn sent to a socket in one write, per socket', async () => {
    const batcher = new TurnBatcher();
    const [one, two] = [new CountingSocket(), new CountingSocket()];
    for (let i = 0; i < 10; i++) {
      send(batcher, one, 100);
      send(batcher, two, 100);
    }
    expect(one.writes).to.deep.equal([]);
    await turn();
    expect(one.writes).to.deep.equal([20]);
    expect(two.writes).to.deep.equal([20]);
    send(batcher, one, 100);
    await turn();
    expect(one.writes).to.deep.equal([20, 2]);
    expect(one.writableCorked).to.equal(0);
  });

  it('writes at once past the batching bound, and keeps batching what follows', async () => {
    const batcher = new TurnBatcher();
    const socket = new CountingSocket();
    send(batcher, socket, 100);
    send(batcher, socket, CORK_FLUSH_BYTES);
    expect(socket.writes).to.deep.equal([4]);
    send(batcher, socket, 100);
    expect(socket.writes).to.deep.equal([4]);
    await turn();
    expect(socket.writes).to.deep.equal([4, 2]);
    expect(socket.writableCorked).to.equal(0);
  });
});

describe('fan-out over real websockets (postgres)', function () {
  this.timeout(30_000);

  it('delivers a burst committed at once as text frames, each subscriber every change in order', async () => {
    const { database, writer } = await freshDatabase('postgres');
    const gateway = await startGateway(database);
    const clients: WebSocket[] = [];
    try {
      const poolKey = await writer.insertPool();
      const received: { binary: boolean; slot: number }[][] = [];
      for (let i = 0; i < 5; i++) {
        const ws = new WebSocket(gateway.wsUrl);
        const mine: { binary: boolean; slot: number }[] = [];
        received.push(mine);
        ws.on('message', (data, isBinary) => {
          const m = JSON.parse(data.toString()) as ChangeMessage;
          if (m.type === 'change') mine.push({ binary: isBinary, slot: m.row.slot as number });
          else if (m.type === 'subscribed') mine.push({ binary: isBinary, slot: -1 });
        });
        await once(ws, 'open');
        ws.send(JSON.stringify({ type: 'subscribe', id: 's', topic: 'swaps', filter: { pool_pubkey: poolKey } }));
        clients.push(ws);
      }
      await within(10_000, () => received.every((r) => r.length === 1));
      // 200 swaps in one transaction: one notification, 200 changes handed out in one turn.
      await writer.sql(
        `INSERT INTO swaps (pool_pubkey, user_address, input_mint, output_mint, input_amount, output_amount, fee_amount, signature, slot)
         SELECT $1, 'user', 'in', 'out', 10, 20, 1, 'sig' || g, g FROM generate_series(1, 200) g`,
        [poolKey],
      );
      const deadline = Date.now() + 10_000;
      while (received.some((r) => r.length < 201) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      for (const mine of received) {
        expect(mine.map((m) => m.slot)).to.deep.equal([-1, ...Array.from({ length: 200 }, (_, i) => i + 1)]);
        expect(mine.some((m) => m.binary)).to.equal(false);
      }
    } finally {
      for (const ws of clients) ws.terminate();
      await gateway.close();
      await writer.close();
      await database.drop();
    }
  });
});
