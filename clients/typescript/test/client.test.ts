// The client against a real gateway (HTTP + ws + change feed on a real database): snapshots and
// changes, live sets, a gateway restart while rows are written, an expired cursor, typed errors.
import { expect } from 'chai';
import WebSocket from 'ws';
import { pruneChanges } from '../../../src/capture/change-log.ts';
import type { RowOf } from '../../../src/db/schema.ts';
import { formatCursor } from '../../../src/wire/cursor.ts';
import {
  Collector,
  createTestDatabase,
  pubkey,
  startGateway,
  Writer,
  type Dialect,
  type Gateway,
  type TestDatabase,
} from '../../../test/clients/support.ts';
import {
  ClientErrorCode,
  ClientState,
  createClient,
  ErrorCode,
  SolstreamError,
  type ClientStateChange,
  type SolstreamClient,
  type SubscriptionEvent,
} from '../src/index.ts';

const FAST_RETRY = { initialDelayMs: 20, maxDelayMs: 200 };

type Event<T extends 'escrows' | 'swaps'> = SubscriptionEvent<T>;
const changes = <T extends 'escrows' | 'swaps'>(events: readonly Event<T>[]) =>
  events.filter((e): e is Extract<Event<T>, { type: 'change' }> => e.type === 'change');

for (const dialect of ['postgres', 'sqlite'] as Dialect[]) {
  describe(`TypeScript client against a real gateway (${dialect})`, function () {
    let database: TestDatabase;
    let writer: Writer;
    let gateway: Gateway;
    let client: SolstreamClient;

    beforeEach(async () => {
      database = await createTestDatabase(dialect);
      writer = await Writer.open(database);
      gateway = await startGateway(database);
      client = createClient({ url: gateway.wsUrl, WebSocket, retry: FAST_RETRY });
    });

    afterEach(async () => {
      await client.close();
      await gateway.close();
      await writer.close();
      await database.drop();
    });

    it('delivers the snapshot, then inserts, updates and deletes in commit order', async () => {
      const maker = pubkey();
      const first = await writer.insertEscrow({ maker });
      const second = await writer.insertEscrow({ maker });
      await writer.insertEscrow({ maker: pubkey() }); // another maker: filtered out
      const events = new Collector(client.subscribe('escrows', { filter: { maker } }));
      await events.until((v) => v.some((e) => e.type === 'snapshot'), 'the snapshot');
      const [subscribed, snapshot] = events.values;
      expect(subscribed).to.include({ type: 'subscribed', topic: 'escrows', resumed: false });
      if (snapshot?.type !== 'snapshot') throw new Error('expected a snapshot second');
      expect(snapshot.rows.map((r) => r.pubkey).sort()).to.deep.equal([first, second].sort());

      const third = await writer.insertEscrow({ maker, amount_a: '18446744073709551615' });
      await writer.setEscrowState(first, 'funded');
      await writer.deleteEscrow(second);
      await events.until((v) => changes(v).length === 3, 'three changes');
      const seen = changes(events.values);
      expect(seen.map((c) => [c.op, c.row.pubkey])).to.deep.equal([
        ['insert', third],
        ['update', first],
        ['delete', second],
      ]);
      expect(seen[0]?.row.amount_a).to.equal('18446744073709551615');
      expect(seen[1]?.row.state).to.equal('funded');
      const cursors = seen.map((c) => BigInt(c.cursor));
      expect(cursors[0]! > BigInt(snapshot.cursor)).to.equal(true);
      expect([...cursors].sort((a, b) => (a < b ? -1 : 1))).to.deep.equal(cursors);
    });

    it('keeps a live set keyed by natural key from the snapshot plus changes', async () => {
      const maker = pubkey();
      const kept = await writer.insertEscrow({ maker });
      const removed = await writer.insertEscrow({ maker });
      const sets = new Collector(client.live('escrows', { maker }));
      await sets.until((v) => v.length >= 1, 'the first set');
      expect([...sets.values[0]!.keys()].sort()).to.deep.equal([kept, removed].sort());

      const added = await writer.insertEscrow({ maker });
      await writer.setEscrowState(kept, 'completed');
      await writer.deleteEscrow(removed);
      await sets.until((v) => v.at(-1)?.size === 2 && v.at(-1)?.get(kept)?.state === 'completed', 'the final set');
      const last = sets.values.at(-1)!;
      expect([...last.keys()].sort()).to.deep.equal([kept, added].sort());
      const row: RowOf<'escrows'> | undefined = last.get(added);
      expect(row?.maker).to.equal(maker);
    });

    it('surfaces server errors as SolstreamError with the protocol code', async () => {
      const unknownColumn = new Collector(
        client.subscribe('escrows', { filter: { no_such_column: 1 } as unknown as { maker: string } }),
      );
      const error = await unknownColumn.failure();
      expect(error).to.be.instanceOf(SolstreamError);
      expect((error as SolstreamError).code).to.equal(ErrorCode.InvalidFilter);
      expect((error as SolstreamError).topic).to.equal('escrows');

      const badPubkey = new Collector(client.subscribe('escrows', { filter: { maker: 'not-a-pubkey' } }));
      expect(((await badPubkey.failure()) as SolstreamError).code).to.equal(ErrorCode.InvalidFilter);

      const unknownTopic = new Collector(client.subscribe('nope' as 'escrows'));
      expect(((await unknownTopic.failure()) as SolstreamError).code).to.equal(ErrorCode.UnknownTopic);

      // The connection survives: a valid subscription still works.
      const fine = new Collector(client.subscribe('escrows', { snapshot: false }));
      await fine.until((v) => v.some((e) => e.type === 'subscribed'), 'a valid subscription');
      expect(client.state).to.equal(ClientState.Connected);
    });

    it('close() completes every subscription, closes the socket and stays closed', async () => {
      const states: ClientStateChange[] = [];
      client.stateChanges$.subscribe((s) => states.push(s));
      const events = new Collector(client.subscribe('escrows', { snapshot: false }));
      await events.until((v) => v.length >= 1, 'subscribed');
      expect(gateway.server.connections).to.equal(1);
      await client.close();
      expect(events.completed).to.equal(true);
      expect(client.state).to.equal(ClientState.Closed);
      expect(states.at(-1)).to.include({ oldState: ClientState.Connected, newState: ClientState.Closed });
      const deadline = Date.now() + 5000;
      while (gateway.server.connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(gateway.server.connections).to.equal(0);
      const late = new Collector(client.subscribe('escrows'));
      expect(((await late.failure()) as SolstreamError).code).to.equal(ClientErrorCode.ClientClosed);
    });

    it('resumes after a gateway restart mid-stream with zero lost and zero duplicated changes', async function () {
      this.timeout(60_000);
      const pool = await writer.insertPool();
      const events = new Collector(client.subscribe('swaps', { filter: { pool_pubkey: pool }, snapshot: false }));
      await events.until((v) => v.some((e) => e.type === 'subscribed'), 'subscribed');

      const total = 120;
      const written: string[] = [];
      const writing = (async () => {
        for (let i = 0; i < total; i++) {
          written.push(await writer.insertSwap(pool, { slot: i + 1 }));
          // Pace the writes so that the restart falls in the middle of the stream.
          await new Promise((r) => setTimeout(r, 5));
        }
      })();

      await events.until((v) => changes(v).length >= 30, 'the first changes');
      const port = gateway.server.port;
      await gateway.close();
      // Rows keep being written while no gateway is up.
      await new Promise((r) => setTimeout(r, 150));
      gateway = await startGateway(database, { port });
      await writing;
      await events.until((v) => changes(v).length >= total, `all ${total} changes`, 40_000);
      // Give stray duplicates a chance to show up before counting.
      await new Promise((r) => setTimeout(r, 200));

      const received = changes(events.values).map((c) => c.row.signature);
      expect(received.length).to.equal(total);
      expect(new Set(received).size).to.equal(total);
      expect(received).to.deep.equal(written);
      expect(client.connections).to.be.greaterThanOrEqual(2);
      const resumed = events.values.filter((e) => e.type === 'subscribed');
      expect(resumed.length).to.be.greaterThanOrEqual(2);
      expect(resumed.slice(1).every((e) => e.type === 'subscribed' && e.resumed)).to.equal(true);
    });

    it('takes a new snapshot and says so when its cursor has been pruned', async function () {
      this.timeout(60_000);
      const maker = pubkey();
      const first = await writer.insertEscrow({ maker });
      const events = new Collector(client.subscribe('escrows', { filter: { maker } }));
      const sets = new Collector(client.live('escrows', { maker }));
      await events.until((v) => v.some((e) => e.type === 'snapshot'), 'the first snapshot');
      await sets.until((v) => v.length >= 1, 'the first set');

      const port = gateway.server.port;
      await gateway.close();
      const missed = [await writer.insertEscrow({ maker }), await writer.insertEscrow({ maker })];
      const pruned = await pruneChanges(writer.db, Date.now() + 60_000);
      expect(pruned).to.be.greaterThan(0);
      gateway = await startGateway(database, { port });

      await events.until((v) => v.filter((e) => e.type === 'snapshot').length === 2, 'the second snapshot');
      const afterFirst = events.values.slice(events.values.findIndex((e) => e.type === 'snapshot') + 1);
      const reset = afterFirst.find((e) => e.type === 'reset');
      expect(reset).to.deep.equal({ type: 'reset', topic: 'escrows', reason: 'cursor_expired' });
      const resetAt = afterFirst.indexOf(reset!);
      const snapshot = afterFirst.slice(resetAt).find((e) => e.type === 'snapshot');
      if (snapshot?.type !== 'snapshot') throw new Error('expected a snapshot after the reset');
      expect(snapshot.rows.map((r) => r.pubkey).sort()).to.deep.equal([first, ...missed].sort());

      await sets.until((v) => v.at(-1)?.size === 3, 'the live set to be replaced');
      expect([...sets.values.at(-1)!.keys()].sort()).to.deep.equal([first, ...missed].sort());

      // Live again after the reset.
      const later = await writer.insertEscrow({ maker });
      await events.until((v) => changes(v).some((c) => c.row.pubkey === later), 'a change after the reset');
    });

    it('starts over from a snapshot when its resume cursor belongs to another database', async () => {
      const maker = pubkey();
      const here = await writer.insertEscrow({ maker });
      // A cursor as another database (another log epoch) issues them.
      const foreign = formatCursor('100000000000000009', '1');
      const events = new Collector(client.subscribe('escrows', { filter: { maker }, since: foreign }));
      await events.until((v) => v.some((e) => e.type === 'snapshot'), 'a snapshot after the reset');
      expect(events.values[0]).to.deep.equal({ type: 'reset', topic: 'escrows', reason: 'cursor_epoch_mismatch' });
      const snapshot = events.values.find((e) => e.type === 'snapshot');
      if (snapshot?.type !== 'snapshot') throw new Error('expected a snapshot');
      expect(snapshot.rows.map((r) => r.pubkey)).to.deep.equal([here]);
    });
  });
}

describe('TypeScript client and API keys', function () {
  let database: TestDatabase;
  let gateway: Gateway;

  before(async () => {
    database = await createTestDatabase('sqlite');
    gateway = await startGateway(database, { env: { SOLSTREAM_API_KEYS: 'reader-key-0123456789:escrows' } });
  });

  after(async () => {
    await gateway.close();
    await database.drop();
  });

  it('fails every subscription with "unauthorized" and stops retrying when the key is refused', async () => {
    const client = createClient({ url: gateway.wsUrl, WebSocket, apiKey: 'wrong-key-0123456789', retry: FAST_RETRY });
    try {
      const events = new Collector(client.subscribe('escrows'));
      const error = await events.failure();
      expect((error as SolstreamError).code).to.equal(ClientErrorCode.Unauthorized);
      expect(client.state).to.equal(ClientState.Disconnected);
    } finally {
      await client.close();
    }
  });

  it('reads allowed topics with a valid key and gets forbidden_topic for others', async () => {
    const client = createClient({ url: gateway.wsUrl, WebSocket, apiKey: 'reader-key-0123456789', retry: FAST_RETRY });
    try {
      const allowed = new Collector(client.subscribe('escrows'));
      await allowed.until((v) => v.some((e) => e.type === 'snapshot'), 'a snapshot');
      const forbidden = new Collector(client.subscribe('swaps'));
      expect(((await forbidden.failure()) as SolstreamError).code).to.equal(ErrorCode.ForbiddenTopic);
    } finally {
      await client.close();
    }
  });
});
