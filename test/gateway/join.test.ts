// The gateway's protocol core against a fake socket, an in-memory change log and a live source the
// test drives: races of subscribe, unsubscribe and close with snapshot and replay reads, changes
// that arrive late, twice or ahead, all without a database or a network.
import { expect } from 'chai';
import type { Change, ChangeFeed } from '../../src/capture/types.ts';
import { loadConfig } from '../../src/config.ts';
import { makeGateway } from '../../src/gateway/gateway.ts';
import type { ConnectionHandle, Gateway } from '../../src/gateway/types.ts';
import { silentLogger } from '../../src/log.ts';
import { formatCursor, parseCursor } from '../../src/wire/cursor.ts';
import type { ChangeMessage, ErrorMessage, ServerMessage, SnapshotMessage } from '../../src/wire/protocol.ts';
import {
  FAKE_EPOCH,
  FakeSocket,
  fakeFeed,
  Gate,
  swapRow,
  type ManualSource,
  type MemoryLog,
} from '../support/fake-feed.ts';
import { pubkey } from '../support/keys.ts';

const limits = loadConfig({}).ws;

/** Lets queued callbacks run until `done` holds; fails if it never does (nothing here waits on a clock). */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (done()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`never happened: ${what}`);
}

const offsetOf = (m: ServerMessage) => parseCursor((m as ChangeMessage).cursor)?.offset;
const changes = (frames: ServerMessage[]) => frames.filter((m): m is ChangeMessage => m.type === 'change');

describe('gateway core: the join against a fake socket and a fake feed', () => {
  let log: MemoryLog;
  let source: ManualSource;
  let feed: ChangeFeed;
  let gateway: Gateway;
  let socket: FakeSocket;
  let connection: ConnectionHandle;
  const pool = pubkey();

  beforeEach(async () => {
    ({ log, source, feed } = await fakeFeed());
    gateway = makeGateway({ feed, dialect: 'sqlite', limits, logger: silentLogger });
    socket = new FakeSocket();
    connection = gateway.opened(socket, { key: null, topics: '*' });
  });
  afterEach(async () => {
    await feed.close();
  });

  const subscribe = (message: Record<string, unknown>) =>
    connection.message(JSON.stringify({ type: 'subscribe', ...message }));

  it('joins a snapshot to the stream exactly while changes commit during the snapshot read', async () => {
    const before = log.commit('swaps', 'insert', swapRow(pool, 1));
    source.publish(before);
    // Committed but not yet published when the snapshot starts: the snapshot has it, the stream brings it late.
    const late = log.commit('swaps', 'insert', swapRow(pool, 2));
    log.snapshotGate = new Gate();
    const gate = log.snapshotGate;
    subscribe({ id: 's', topic: 'swaps', snapshot: true });
    await gate.reached;
    const during = [log.commit('swaps', 'insert', swapRow(pool, 3)), log.commit('swaps', 'insert', swapRow(pool, 4))];
    source.publish(late, ...during);
    await until(() => feed.position() === during[1]?.cursor, 'the feed emitted the changes');
    expect(socket.of('s')).to.deep.equal([]);
    gate.open();
    await until(() => changes(socket.of('s')).length === 2, 'the buffered changes were delivered');

    const [subscribed, snapshot, ...rest] = socket.of('s');
    expect(subscribed).to.deep.include({ type: 'subscribed', cursor: formatCursor(FAKE_EPOCH, late.cursor) });
    expect((snapshot as SnapshotMessage).rows.map((r) => r.slot)).to.deep.equal([1, 2]);
    expect((snapshot as SnapshotMessage).cursor).to.equal(formatCursor(FAKE_EPOCH, late.cursor));
    expect(rest.map(offsetOf)).to.deep.equal(during.map((c) => c.cursor));
    // Later changes flow live.
    const next = log.commit('swaps', 'insert', swapRow(pool, 5));
    source.publish(next);
    await until(() => changes(socket.of('s')).length === 3, 'a live change');
    expect(offsetOf(socket.of('s').at(-1) as ServerMessage)).to.equal(next.cursor);
  });

  it('resumes from a cursor: the replay, then the buffer, then live, each change once even when the source repeats it', async () => {
    const history = [1, 2, 3].map((slot) => log.commit('swaps', 'insert', swapRow(pool, slot)));
    source.publish(...history);
    await until(() => feed.position() === history[2]?.cursor, 'history emitted');
    log.replayGate = new Gate();
    const gate = log.replayGate;
    subscribe({ id: 'r', topic: 'swaps', since: formatCursor(FAKE_EPOCH, history[0]?.cursor as string) });
    await gate.reached;
    const live = [4, 5].map((slot) => log.commit('swaps', 'insert', swapRow(pool, slot)));
    // The source delivers a change twice, and an old one again after a reconnect of its own.
    source.publish(live[0]!, live[0]!, history[1]!, live[1]!);
    gate.open();
    await until(() => changes(socket.of('r')).length === 4, 'replay and live');
    await until(() => feed.position() === live[1]?.cursor, 'all emitted');
    expect(changes(socket.of('r')).map(offsetOf)).to.deep.equal(
      [history[1], history[2], ...live].map((c) => c?.cursor),
    );
  });

  it('sends nothing for a subscription after its unsubscribed, even when its snapshot read finishes later', async () => {
    log.commit('swaps', 'insert', swapRow(pool, 1));
    log.snapshotGate = new Gate();
    const gate = log.snapshotGate;
    subscribe({ id: 'u', topic: 'swaps', snapshot: true });
    await gate.reached;
    connection.message(JSON.stringify({ type: 'unsubscribe', id: 'u' }));
    source.publish(log.commit('swaps', 'insert', swapRow(pool, 2)));
    gate.open();
    await until(() => feed.position() === log.newest(), 'the change emitted');
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(socket.of('u').map((m) => m.type)).to.deep.equal(['unsubscribed']);
    // The id is free again.
    subscribe({ id: 'u', topic: 'swaps' });
    await until(() => socket.of('u').length === 2, 'subscribed again');
    expect(socket.of('u')[1]?.type).to.equal('subscribed');
  });

  it('releases a joining subscription when the connection closes, and later changes reach nobody', async () => {
    log.replayGate = new Gate();
    const gate = log.replayGate;
    const first = log.commit('swaps', 'insert', swapRow(pool, 1));
    source.publish(first);
    subscribe({ id: 'c', topic: 'swaps', since: '0' });
    await gate.reached;
    socket.isOpen = false;
    connection.closed();
    expect(gateway.connections).to.equal(0);
    source.publish(log.commit('swaps', 'insert', swapRow(pool, 2)));
    gate.open();
    await until(() => feed.position() === log.newest(), 'the change emitted');
    expect(socket.frames).to.deep.equal([]);
  });

  it('keeps each subscription in cursor order when two topics interleave', async () => {
    subscribe({ id: 'swaps', topic: 'swaps' });
    subscribe({ id: 'pools', topic: 'pools' });
    await until(() => socket.frames.length === 2, 'both subscribed');
    const written: Change[] = [];
    for (let i = 0; i < 20; i++) {
      written.push(
        i % 3 === 0
          ? log.commit('pools', 'insert', { id: 1000 + i, pubkey: pubkey(), fee_rate: 30 })
          : log.commit('swaps', 'insert', swapRow(pool, i)),
      );
    }
    // Two overlapping bursts (a source that re-sent some after a reconnect), then the rest read
    // from the log by a catch-up, as a source that fell behind does.
    source.publish(...written.slice(0, 7));
    source.publish(...written.slice(4, 12));
    await source.catchUp();
    await until(() => feed.position() === log.newest(), 'all emitted');
    const expected = (topic: string) => written.filter((c) => c.topic === topic).map((c) => c.cursor);
    const got = (id: string) => changes(socket.of(id)).map(offsetOf);
    expect(got('swaps')).to.deep.equal(expected('swaps'));
    expect(got('pools')).to.deep.equal(expected('pools'));
  });

  it('refuses a cursor of another epoch with cursor_epoch_mismatch and accepts a bare offset as one of this log', async () => {
    const change = log.commit('swaps', 'insert', swapRow(pool, 1));
    source.publish(change);
    await until(() => feed.position() === change.cursor, 'emitted');
    subscribe({ id: 'x', topic: 'swaps', since: formatCursor('200000000000000003', change.cursor) });
    await until(() => socket.of('x').length === 1, 'an answer');
    const error = socket.of('x')[0] as ErrorMessage;
    expect(error).to.deep.include({ type: 'error', code: 'cursor_epoch_mismatch' });
    expect(error.message).to.match(/another database/);
    subscribe({ id: 'y', topic: 'swaps', since: '0' });
    await until(() => socket.of('y').length === 2, 'subscribed and the replayed change');
    expect(socket.of('y').map((m) => m.type)).to.deep.equal(['subscribed', 'change']);
    expect((socket.of('y')[0] as { cursor: string }).cursor).to.equal(formatCursor(FAKE_EPOCH, '0'));
  });

  it('resumes from a cursor ahead of what this gateway has streamed yet (issued by a gateway further along)', async () => {
    const [a, b] = [log.commit('swaps', 'insert', swapRow(pool, 1)), log.commit('swaps', 'insert', swapRow(pool, 2))];
    // This gateway's source has not published a or b yet; another gateway already delivered both.
    subscribe({ id: 'ahead', topic: 'swaps', since: formatCursor(FAKE_EPOCH, b.cursor) });
    await until(() => socket.of('ahead').length === 1, 'subscribed');
    const c = log.commit('swaps', 'insert', swapRow(pool, 3));
    source.publish(a, b, c);
    await until(() => changes(socket.of('ahead')).length === 1, 'the next change');
    await until(() => feed.position() === c.cursor, 'emitted');
    expect(changes(socket.of('ahead')).map(offsetOf)).to.deep.equal([c.cursor]);
  });

  it('starts a subscription without snapshot at the newest committed change even when the source lags', async () => {
    const committed = log.commit('swaps', 'insert', swapRow(pool, 1));
    subscribe({ id: 'n', topic: 'swaps' });
    await until(() => socket.of('n').length === 1, 'subscribed');
    expect((socket.of('n')[0] as { cursor: string }).cursor).to.equal(formatCursor(FAKE_EPOCH, committed.cursor));
    const next = log.commit('swaps', 'insert', swapRow(pool, 2));
    source.publish(committed, next);
    await until(() => changes(socket.of('n')).length === 1, 'the next change');
    expect(changes(socket.of('n')).map(offsetOf)).to.deep.equal([next.cursor]);
  });
});
