// Subscriptions at processed, confirmed and finalized against the gateway core, a fake socket, an
// in-memory change log and the real speculative feed, fed through the in-process bus as the
// ingesting process would: what each subscriber is sent as slots are processed, confirmed,
// finalized or die, and what a retraction restores a row to.
import { expect } from 'chai';
import { processBus, type SpeculativeBus, type SpeculativeEvent } from '../../src/capture/speculative-bus.ts';
import { SpeculativeFeed } from '../../src/capture/speculative.ts';
import type { ChangeFeed } from '../../src/capture/types.ts';
import { loadConfig } from '../../src/config.ts';
import { makeGateway } from '../../src/gateway/gateway.ts';
import type { ConnectionHandle, Gateway } from '../../src/gateway/types.ts';
import { silentLogger } from '../../src/log.ts';
import { parseCursor } from '../../src/wire/cursor.ts';
import type { ServerMessage } from '../../src/wire/protocol.ts';
import { FakeSocket, fakeFeed, type ManualSource, type MemoryLog } from '../support/fake-feed.ts';
import { pubkey } from '../support/keys.ts';

const limits = loadConfig({}).ws;

async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (done()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`never happened: ${what}`);
}

type Row = Record<string, unknown>;
let nextId = 1;
const escrow = (fields: Partial<Row> = {}): Row => ({
  id: nextId++,
  pubkey: pubkey(),
  escrow_id: '1',
  maker: pubkey(),
  taker: null,
  mint_a: pubkey(),
  mint_b: pubkey(),
  amount_a: '100',
  amount_b: '200',
  vault: pubkey(),
  state: 'created',
  created_slot: 1,
  completed_slot: null,
  ...fields,
});
/** A speculative version of a row: no `id` (the database has not assigned one). */
const speculative = (row: Row, fields: Partial<Row> = {}): Row => {
  const { id: _id, ...rest } = { ...row, ...fields };
  return rest;
};

describe('gateway core: commitment levels', () => {
  let log: MemoryLog;
  let source: ManualSource;
  let feed: ChangeFeed;
  let bus: SpeculativeBus;
  let spec: SpeculativeFeed;
  let gateway: Gateway;
  const sockets: FakeSocket[] = [];

  const connect = (): { socket: FakeSocket; connection: ConnectionHandle } => {
    const socket = new FakeSocket();
    sockets.push(socket);
    return { socket, connection: gateway.opened(socket, { key: null, topics: '*' }) };
  };
  const subscribe = (connection: ConnectionHandle, message: Record<string, unknown>) =>
    connection.message(JSON.stringify({ type: 'subscribe', topic: 'escrows', ...message }));
  const announce = (event: SpeculativeEvent) => bus.publish(event);
  const types = (frames: ServerMessage[]) => frames.map((m) => m.type);

  beforeEach(async () => {
    ({ log, source, feed } = await fakeFeed());
    bus = processBus();
    spec = new SpeculativeFeed({ bus, feed, logger: silentLogger });
    gateway = makeGateway({ feed, speculative: spec, dialect: 'sqlite', limits, logger: silentLogger });
  });
  afterEach(async () => {
    sockets.length = 0;
    await spec.close();
    await bus.close();
    await feed.close();
  });

  it('sends speculative changes, with their slot and no cursor, to processed subscribers only', async () => {
    const processed = connect();
    const confirmed = connect();
    subscribe(processed.connection, { id: 'p', commitment: 'processed' });
    subscribe(confirmed.connection, { id: 'c' });
    await until(() => processed.socket.of('p').length === 1 && confirmed.socket.of('c').length === 1, 'subscribed');
    const row = escrow();
    await announce({ kind: 'changes', slot: 10, changes: [{ topic: 'escrows', op: 'insert', row: speculative(row) }] });
    expect(processed.socket.of('p').at(-1)).to.deep.equal({
      type: 'change',
      id: 'p',
      topic: 'escrows',
      op: 'insert',
      row: speculative(row),
      slot: 10,
      commitment: 'processed',
    });
    expect(types(confirmed.socket.of('c'))).to.deep.equal(['subscribed']);

    // The committed twin reaches both, labelled with its slot.
    const committed = log.commit('escrows', 'insert', row, undefined, 10);
    source.publish(committed);
    await until(() => confirmed.socket.of('c').length === 2, 'the committed change');
    expect(confirmed.socket.of('c')[1]).to.include({ type: 'change', slot: 10, commitment: 'confirmed' });
    expect(processed.socket.of('p').at(-1)).to.include({ type: 'change', slot: 10, commitment: 'confirmed' });

    await announce({ kind: 'slot', slot: 10, status: 'confirmed' });
    expect(processed.socket.of('p').at(-1)).to.deep.equal({ type: 'slot', id: 'p', slot: 10, commitment: 'confirmed' });
    await announce({ kind: 'slot', slot: 10, status: 'finalized' });
    await until(
      () =>
        processed.socket.of('p').at(-1)?.type === 'slot' &&
        (processed.socket.of('p').at(-1) as { commitment: string }).commitment === 'finalized',
      'finalized',
    );
    // What was announced differs from what is stored by the row's id: the notice brings the stored row.
    expect(processed.socket.of('p').at(-1)).to.deep.equal({
      type: 'slot',
      id: 'p',
      slot: 10,
      commitment: 'finalized',
      changes: [{ topic: 'escrows', op: 'update', row }],
    });
    expect(types(confirmed.socket.of('c')), 'confirmed subscribers hear no slot notices').to.deep.equal([
      'subscribed',
      'change',
    ]);
  });

  it('retracts a dead slot: a new row is deleted, a stored row returns to its stored value', async () => {
    const { socket, connection } = connect();
    const stored = log.commit('escrows', 'insert', escrow({ state: 'created' }), undefined, 5);
    source.publish(stored);
    subscribe(connection, { id: 'p', commitment: 'processed', snapshot: true });
    await until(() => socket.of('p').length === 2, 'snapshot');
    const fresh = escrow();
    await announce({
      kind: 'changes',
      slot: 20,
      changes: [
        { topic: 'escrows', op: 'update', row: speculative(stored.row, { state: 'funded' }), oldRow: stored.row },
        { topic: 'escrows', op: 'insert', row: speculative(fresh) },
      ],
    });
    expect(types(socket.of('p'))).to.deep.equal(['subscribed', 'snapshot', 'change', 'change']);
    await announce({ kind: 'slot', slot: 20, status: 'dead' });
    await until(() => socket.of('p').at(-1)?.type === 'retract', 'the retraction');
    expect(socket.of('p').at(-1)).to.deep.equal({
      type: 'retract',
      id: 'p',
      slot: 20,
      changes: [
        { topic: 'escrows', op: 'delete', row: speculative(fresh) },
        { topic: 'escrows', op: 'update', row: stored.row },
      ],
    });
    expect(spec.size).to.equal(0);
  });

  it('restores a row to the value of a surviving slot, and owes nothing when a later slot holds the row', async () => {
    const { socket, connection } = connect();
    subscribe(connection, { id: 'p', commitment: 'processed' });
    await until(() => socket.of('p').length === 1, 'subscribed');
    const row = escrow();
    const at = (state: string) => speculative(row, { state });
    await announce({ kind: 'changes', slot: 30, changes: [{ topic: 'escrows', op: 'insert', row: at('created') }] });
    await announce({
      kind: 'changes',
      slot: 31,
      changes: [{ topic: 'escrows', op: 'update', row: at('funded'), oldRow: at('created') }],
    });
    await announce({
      kind: 'changes',
      slot: 32,
      changes: [{ topic: 'escrows', op: 'update', row: at('completed'), oldRow: at('funded') }],
    });
    // 31 dies while 32 (another fork) holds the row: the subscriber's value stands.
    await announce({ kind: 'slot', slot: 31, status: 'dead' });
    await until(() => socket.of('p').at(-1)?.type === 'retract', 'the first retraction');
    expect(socket.of('p').at(-1)).to.deep.equal({ type: 'retract', id: 'p', slot: 31, changes: [] });
    // 32 dies: back to what 30 said.
    await announce({ kind: 'slot', slot: 32, status: 'dead' });
    await until(() => (socket.of('p').at(-1) as { slot?: number }).slot === 32, 'the second retraction');
    expect(socket.of('p').at(-1)).to.deep.equal({
      type: 'retract',
      id: 'p',
      slot: 32,
      changes: [{ topic: 'escrows', op: 'update', row: at('created') }],
    });
  });

  it('applies filters to speculative changes and retractions as it does to committed ones', async () => {
    const maker = pubkey();
    const { socket, connection } = connect();
    subscribe(connection, { id: 'f', commitment: 'processed', filter: { state: 'created', maker }, snapshot: true });
    const stored = log.commit('escrows', 'insert', escrow({ maker }), undefined, 5);
    source.publish(stored);
    await until(() => socket.of('f').length === 3, 'snapshot and the stored row');
    // The slot moves the row out of the view: a delete; its death brings it back: an insert.
    await announce({
      kind: 'changes',
      slot: 40,
      changes: [
        { topic: 'escrows', op: 'update', row: speculative(stored.row, { state: 'funded' }), oldRow: stored.row },
      ],
    });
    expect(socket.of('f').at(-1)).to.include({ type: 'change', op: 'delete', commitment: 'processed', slot: 40 });
    await announce({ kind: 'slot', slot: 40, status: 'dead' });
    await until(() => socket.of('f').at(-1)?.type === 'retract', 'the retraction');
    expect(socket.of('f').at(-1)).to.deep.equal({
      type: 'retract',
      id: 'f',
      slot: 40,
      changes: [{ topic: 'escrows', op: 'insert', row: stored.row }],
    });
  });

  it('tells the confirmation with a change mapped after its slot was confirmed, once, to whoever had nothing of the slot', async () => {
    const early = connect();
    const late = connect();
    subscribe(early.connection, { id: 'e', commitment: 'processed', filter: { state: 'created' } });
    subscribe(late.connection, { id: 'l', commitment: 'processed', filter: { state: 'funded' } });
    await until(() => early.socket.of('e').length === 1 && late.socket.of('l').length === 1, 'subscribed');
    await announce({
      kind: 'changes',
      slot: 60,
      changes: [{ topic: 'escrows', op: 'insert', row: speculative(escrow()) }],
    });
    await announce({ kind: 'slot', slot: 60, status: 'confirmed' });
    expect(types(early.socket.of('e'))).to.deep.equal(['subscribed', 'change', 'slot']);
    expect(types(late.socket.of('l')), 'nothing of slot 60 yet, so no confirmation').to.deep.equal(['subscribed']);

    // Two more updates of slot 60, mapped late (under load), one in each view.
    await announce({
      kind: 'changes',
      slot: 60,
      changes: [
        { topic: 'escrows', op: 'insert', row: speculative(escrow({ state: 'funded' })) },
        { topic: 'escrows', op: 'insert', row: speculative(escrow()) },
      ],
    });
    expect(types(late.socket.of('l'))).to.deep.equal(['subscribed', 'change', 'slot']);
    expect(late.socket.of('l').at(-1)).to.deep.equal({ type: 'slot', id: 'l', slot: 60, commitment: 'confirmed' });
    expect(types(early.socket.of('e')), 'told once already').to.deep.equal(['subscribed', 'change', 'slot', 'change']);
  });

  it('tells the finalization of a confirmed slot let go before it was finalized, to the topics it touched', async () => {
    // Confirmed slots are kept only a while (confirmedTtlMs); finalizing can lag far behind.
    await spec.close();
    spec = new SpeculativeFeed({ bus, feed, logger: silentLogger, confirmedTtlMs: 0 });
    gateway = makeGateway({ feed, speculative: spec, dialect: 'sqlite', limits, logger: silentLogger });
    const { socket, connection } = connect();
    subscribe(connection, { id: 'p', commitment: 'processed' });
    connection.message(JSON.stringify({ type: 'subscribe', id: 'v', topic: 'votes', commitment: 'processed' }));
    await until(() => socket.of('p').length === 1 && socket.of('v').length === 1, 'subscribed');
    const row = escrow();
    await announce({ kind: 'changes', slot: 90, changes: [{ topic: 'escrows', op: 'insert', row: speculative(row) }] });
    await announce({ kind: 'slot', slot: 90, status: 'confirmed' });
    for (let waited = 0; spec.size > 0; waited += 50) {
      if (waited > 5_000) throw new Error('the confirmed slot was never let go');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    source.publish(log.commit('escrows', 'insert', row, undefined, 90));
    await until(() => socket.of('p').length === 4, 'the committed change');
    await announce({ kind: 'slot', slot: 90, status: 'finalized' });
    expect(socket.of('p').slice(1)).to.deep.equal([
      {
        type: 'change',
        id: 'p',
        topic: 'escrows',
        op: 'insert',
        row: speculative(row),
        slot: 90,
        commitment: 'processed',
      },
      { type: 'slot', id: 'p', slot: 90, commitment: 'confirmed' },
      socket.of('p')[3],
      { type: 'slot', id: 'p', slot: 90, commitment: 'finalized' },
    ]);
    expect(socket.of('p')[3]).to.include({ type: 'change', op: 'insert', slot: 90, commitment: 'confirmed' });
    expect(types(socket.of('v')), 'nothing of slot 90 went to votes').to.deep.equal(['subscribed']);
  });

  it('lays the newest speculative rows over a processed snapshot, and a confirmed one is the stored set', async () => {
    const first = log.commit('escrows', 'insert', escrow(), undefined, 5);
    const second = log.commit('escrows', 'insert', escrow(), undefined, 5);
    source.publish(first, second);
    await until(() => feed.position() === second.cursor, 'the feed');
    const fresh = escrow();
    await announce({
      kind: 'changes',
      slot: 50,
      changes: [
        { topic: 'escrows', op: 'update', row: speculative(first.row, { state: 'funded' }), oldRow: first.row },
        { topic: 'escrows', op: 'insert', row: speculative(fresh) },
      ],
    });
    const processed = connect();
    const confirmed = connect();
    subscribe(processed.connection, { id: 'p', commitment: 'processed', snapshot: true });
    subscribe(confirmed.connection, { id: 'c', snapshot: true });
    await until(() => processed.socket.of('p').length === 2 && confirmed.socket.of('c').length === 2, 'snapshots');
    const rowsOf = (frames: ServerMessage[]) => (frames[1] as unknown as { rows: Row[] }).rows;
    expect(rowsOf(processed.socket.of('p'))).to.deep.equal([
      speculative(first.row, { state: 'funded' }),
      second.row,
      speculative(fresh),
    ]);
    expect(rowsOf(confirmed.socket.of('c'))).to.deep.equal([first.row, second.row]);
    // The snapshot counted slot 50 as received: its death is owed.
    await announce({ kind: 'slot', slot: 50, status: 'dead' });
    await until(() => processed.socket.of('p').at(-1)?.type === 'retract', 'the retraction');
  });

  it('does not take a row back in time: an older committed change is not sent over a newer speculative one', async () => {
    const { socket, connection } = connect();
    const stored = log.commit('escrows', 'insert', escrow(), undefined, 5);
    source.publish(stored);
    subscribe(connection, { id: 'p', commitment: 'processed', snapshot: true });
    await until(() => socket.of('p').length === 2, 'snapshot');
    await announce({
      kind: 'changes',
      slot: 61,
      changes: [
        { topic: 'escrows', op: 'update', row: speculative(stored.row, { state: 'completed' }), oldRow: stored.row },
      ],
    });
    const older = log.commit('escrows', 'update', { ...stored.row, state: 'funded' }, stored.row, 60);
    source.publish(older);
    await until(() => feed.position() === older.cursor, 'the older change');
    expect(types(socket.of('p'))).to.deep.equal(['subscribed', 'snapshot', 'change']);
    // Should slot 61 die, the retraction restores the stored row, the older change included.
    await announce({ kind: 'slot', slot: 61, status: 'dead' });
    await until(() => socket.of('p').at(-1)?.type === 'retract', 'the retraction');
    expect((socket.of('p').at(-1) as unknown as { changes: unknown[] }).changes).to.deep.equal([
      { topic: 'escrows', op: 'update', row: older.row },
    ]);
  });

  it('holds committed changes from a finalized subscriber until their slot is finalized, in order', async () => {
    const { socket, connection } = connect();
    subscribe(connection, { id: 'z', commitment: 'finalized' });
    await until(() => socket.of('z').length === 1, 'subscribed');
    await announce({ kind: 'slot', slot: 69, status: 'finalized' });
    const a = log.commit('escrows', 'insert', escrow(), undefined, 70);
    const b = log.commit('escrows', 'insert', escrow(), undefined, null);
    const c = log.commit('escrows', 'insert', escrow(), undefined, 71);
    source.publish(a, b, c);
    await until(() => feed.position() === c.cursor, 'the feed');
    // b has no slot, but it comes after a: order is kept.
    expect(types(socket.of('z'))).to.deep.equal(['subscribed']);
    await announce({ kind: 'slot', slot: 70, status: 'finalized' });
    expect(
      socket
        .of('z')
        .slice(1)
        .map((m) => parseCursor((m as { cursor: string }).cursor)?.offset),
    ).to.deep.equal([a.cursor, b.cursor]);
    expect(socket.of('z')[1]).to.include({ commitment: 'finalized', slot: 70 });
    await announce({ kind: 'slot', slot: 72, status: 'finalized' });
    expect(socket.of('z')).to.have.length(4);
    // A change whose slot is already final goes at once.
    const d = log.commit('escrows', 'insert', escrow(), undefined, 72);
    source.publish(d);
    await until(() => socket.of('z').length === 5, 'the final change');
  });

  it('tells a processed subscriber resuming with its owed slots what became of them', async () => {
    const first = connect();
    subscribe(first.connection, { id: 'p', commitment: 'processed' });
    await until(() => first.socket.of('p').length === 1, 'subscribed');
    const cursor = (first.socket.of('p')[0] as { cursor: string }).cursor;
    const row = escrow();
    await announce({ kind: 'changes', slot: 80, changes: [{ topic: 'escrows', op: 'insert', row: speculative(row) }] });
    await announce({
      kind: 'changes',
      slot: 81,
      changes: [{ topic: 'escrows', op: 'insert', row: speculative(escrow()) }],
    });
    // The connection drops; meanwhile 80 dies and 81 is confirmed.
    first.connection.closed();
    await announce({ kind: 'slot', slot: 80, status: 'dead' });
    await announce({ kind: 'slot', slot: 81, status: 'confirmed' });
    await until(() => spec.size === 1, 'slot 80 settled');

    const again = connect();
    subscribe(again.connection, { id: 'p2', commitment: 'processed', since: cursor, slots: [80, 81] });
    await until(() => again.socket.of('p2').length === 3, 'owed fates');
    expect(again.socket.of('p2').slice(1)).to.deep.equal([
      { type: 'retract', id: 'p2', slot: 80, changes: [{ topic: 'escrows', op: 'delete', row: speculative(row) }] },
      { type: 'slot', id: 'p2', slot: 81, commitment: 'confirmed' },
    ]);

    const unknown = connect();
    subscribe(unknown.connection, { id: 'u', commitment: 'processed', since: cursor, slots: [12345] });
    expect(unknown.socket.of('u')).to.deep.equal([
      {
        type: 'error',
        id: 'u',
        code: 'slots_unknown',
        message: 'the fate of slot 12345 is no longer known here; subscribe again with a snapshot',
      },
    ]);
  });

  it('refuses an unknown commitment, and slots without a processed resume', () => {
    const { socket, connection } = connect();
    subscribe(connection, { id: 'x', commitment: 'rooted' });
    subscribe(connection, { id: 'y', commitment: 'confirmed', since: '0', slots: [1] });
    expect(socket.frames.map((m) => (m as { code?: string }).code)).to.deep.equal([
      'invalid_commitment',
      'invalid_message',
    ]);
  });

  it('refuses finalized subscriptions on a gateway that does not follow slots', async () => {
    const plain = makeGateway({ feed, dialect: 'sqlite', limits, logger: silentLogger });
    const socket = new FakeSocket();
    plain
      .opened(socket, { key: null, topics: '*' })
      .message(JSON.stringify({ type: 'subscribe', id: 'z', topic: 'escrows', commitment: 'finalized' }));
    expect(socket.frames).to.deep.equal([
      {
        type: 'error',
        id: 'z',
        code: 'invalid_commitment',
        message: 'this gateway does not follow finalized slots; subscribe at confirmed',
      },
    ]);
  });
});
