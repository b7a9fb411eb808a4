// Commitment levels end to end, with forks on: the local cluster plays the four programs and now
// and then a minority fork whose slots die; the ingester writes what is confirmed and announces
// what is processed; three websocket subscribers (processed, confirmed, finalized) each rebuild
// the pools and swaps they are sent, the way a client would (by natural key, retractions applied
// in order). After each stretch of activity the cluster holds still until every slot is settled,
// and then: the processed subscriber's rows equal the confirmed subscriber's, which equal the
// database's; the processed subscriber was told the fate of every slot it received, and was sent
// a retraction exactly for the slots that died; the finalized subscriber never received a change
// of a slot that was not finalized when it arrived.
//
// The mirror below speaks the wire protocol directly (PROTOCOL.md), not through the project's
// client, so what is checked is what any client would receive.
import { expect } from 'chai';
import WebSocket from 'ws';
import { openChangeFeed } from '../../src/capture/index.ts';
import { openSpeculativeBus } from '../../src/capture/speculative-bus.ts';
import { SpeculativeFeed } from '../../src/capture/speculative.ts';
import { loadConfig } from '../../src/config.ts';
import type { Dialect } from '../../src/config.ts';
import { startServer } from '../../src/http/server.ts';
import { startIngester } from '../../src/ingest/ingester.ts';
import { silentLogger } from '../../src/log.ts';
import { buildPrograms, parseProgramsConfig } from '../../src/programs/registry.ts';
import { startLocalCluster, type LocalCluster } from '../../src/simulate/cluster.ts';
import { createTestDatabase } from '../support/database.ts';
import { eventually } from '../support/processes.ts';

type Row = Record<string, unknown>;

/** The natural keys of the two topics followed (the seed schema's unique indexes). */
const KEYS: Record<'pools' | 'swaps', readonly string[]> = {
  pools: ['pubkey'],
  swaps: ['signature', 'pool_pubkey', 'input_mint', 'input_amount', 'output_amount'],
};
type Followed = keyof typeof KEYS;
const FOLLOWED = Object.keys(KEYS) as Followed[];

const keyOf = (topic: Followed, row: Row) => KEYS[topic].map((c) => String(row[c])).join('|');

/** One subscriber: its rows per topic, rebuilt from what it is sent. */
class Mirror {
  readonly rows = new Map<Followed, Map<string, Row>>(FOLLOWED.map((t) => [t, new Map()]));
  /** processed: slots it received speculative changes from, and what it was told of each. */
  readonly received = new Set<number>();
  readonly fates = new Map<number, 'confirmed' | 'finalized' | 'dead'>();
  speculative = 0;
  retractions = 0;
  committed = 0;
  readonly errors: unknown[] = [];
  readonly problems: string[] = [];
  private socket: WebSocket | null = null;

  constructor(
    private readonly url: string,
    readonly commitment: 'processed' | 'confirmed' | 'finalized',
    /** Called with each committed change's slot as it arrives. */
    private readonly onCommitted: (slot: number | null, mirror: Mirror) => void = () => undefined,
  ) {}

  async open(): Promise<void> {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    socket.on('message', (data) => this.onMessage(JSON.parse(String(data)) as Row));
    for (const topic of FOLLOWED) {
      socket.send(JSON.stringify({ type: 'subscribe', id: topic, topic, snapshot: true, commitment: this.commitment }));
    }
  }

  close(): void {
    this.socket?.close();
  }

  /** Slots received whose fate has not been told. */
  unsettled(): number[] {
    return [...this.received].filter((slot) => !this.fates.has(slot));
  }

  /** Slots received that are neither finalized nor dead yet. */
  unfinalized(): number[] {
    return [...this.received].filter((slot) => this.fates.get(slot) !== 'finalized' && this.fates.get(slot) !== 'dead');
  }

  private apply(topic: Followed, op: string, row: Row): void {
    const rows = this.rows.get(topic) as Map<string, Row>;
    if (op === 'delete') rows.delete(keyOf(topic, row));
    else rows.set(keyOf(topic, row), row);
  }

  private onMessage(message: Row): void {
    const topic = message.id as Followed;
    switch (message.type) {
      case 'error':
        this.errors.push(message);
        return;
      case 'snapshot':
        for (const row of message.rows as Row[]) this.apply(topic, 'insert', row);
        return;
      case 'change': {
        const slot = message.slot as number | null;
        if (message.commitment === 'processed') {
          if (this.commitment !== 'processed')
            this.problems.push(`a ${this.commitment} subscriber got a processed change`);
          if (typeof message.cursor === 'string') this.problems.push('a processed change carried a cursor');
          this.speculative++;
          this.received.add(slot as number);
        } else {
          const expected = this.commitment === 'finalized' ? 'finalized' : 'confirmed';
          if (message.commitment !== expected)
            this.problems.push(`a committed change said ${String(message.commitment)}`);
          this.committed++;
          this.onCommitted(slot, this);
        }
        this.apply(topic, message.op as string, message.row as Row);
        return;
      }
      case 'slot':
        this.fates.set(message.slot as number, message.commitment as 'confirmed' | 'finalized');
        for (const change of (message.changes as Row[] | undefined) ?? [])
          this.apply(topic, change.op as string, change.row as Row);
        return;
      case 'retract':
        this.retractions++;
        if (!this.received.has(message.slot as number))
          this.problems.push(`a retraction of unreceived slot ${String(message.slot)}`);
        this.fates.set(message.slot as number, 'dead');
        for (const change of message.changes as Row[]) this.apply(topic, change.op as string, change.row as Row);
        return;
    }
  }
}

/** The rows as stored, in wire form, by natural key. */
async function stored(url: string, topic: Followed): Promise<Map<string, Row>> {
  // The confirmed subscriber's rows are compared with a snapshot read over the wire by a fresh
  // subscriber, which reads the database in one transaction.
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const rows = await new Promise<Row[]>((resolve) => {
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as Row;
      if (message.type === 'snapshot') resolve(message.rows as Row[]);
    });
    socket.send(JSON.stringify({ type: 'subscribe', id: 'ground', topic, snapshot: { limit: 10_000 } }));
  });
  socket.close();
  return new Map(rows.map((row) => [keyOf(topic, row), row]));
}

const sorted = (rows: Map<string, Row>) => [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

async function run(dialect: Dialect, processed: 'geyser' | 'rpc-websocket'): Promise<void> {
  const database = await createTestDatabase(dialect);
  const cluster: LocalCluster = await startLocalCluster({
    port: 0,
    seed: 11,
    rate: 20,
    confirmation: { ms: 500 },
    finalization: { ms: 1_500 },
    forks: { rate: 0.2, maxSlots: 2 },
  });
  // Activity plays in stretches, from the first round on.
  cluster.player.stop();
  const config = loadConfig({
    DATABASE_URL: database.url,
    PORT: '0',
    LOG_LEVEL: 'silent',
    SOLANA_RPC_URL: cluster.rpcUrl,
    SOLANA_WS_URL: cluster.wsUrl,
    SOLSTREAM_GEYSER_URL: cluster.geyserUrl ?? '',
    // The writing source stays websocket RPC; only the processed stream changes.
    SOLSTREAM_SOURCE: 'rpc-websocket',
    SOLSTREAM_PROCESSED: processed,
    SOLSTREAM_SQLITE_POLL_MS: '20',
  });
  const feed = await openChangeFeed(database.db, config, silentLogger);
  const bus = openSpeculativeBus(database.db, silentLogger);
  const speculative = new SpeculativeFeed({ bus, feed, logger: silentLogger });
  const server = await startServer({ config, db: database.db, feed, speculative, logger: silentLogger });
  const url = `${server.url.replace(/^http/, 'ws')}/ws`;
  const ledger = cluster.ledger;
  const mirrors = {
    processed: new Mirror(url, 'processed'),
    confirmed: new Mirror(url, 'confirmed'),
    finalized: new Mirror(url, 'finalized', (slot, mirror) => {
      if (slot === null) return;
      const info = ledger.slotInfo(slot);
      if (info?.status !== 'finalized') mirror.problems.push(`slot ${slot} arrived while ${info?.status ?? 'unknown'}`);
    }),
  };
  const programs = buildPrograms(parseProgramsConfig(undefined), {});
  let ingester: ReturnType<typeof startIngester> | null = null;
  try {
    for (const mirror of Object.values(mirrors)) await mirror.open();
    ingester = startIngester({ db: database.db, config, programs, feed, logger: silentLogger, speculative: bus });
    await ingester.ready;
    for (let round = 0; round < 3; round++) {
      // A stretch of activity, with a fork that dies in each round at least.
      cluster.player.start();
      cluster.forkNext(2);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      cluster.forkNext(1);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      cluster.player.stop();
      // The surviving chain moves past the fork, as a cluster's always does (slots come every
      // ~400 ms, busy or not; the local one makes a slot per transaction): that, not a `dead`
      // status, is what tells a reader of slot subscriptions that a fork lost. Stepping until a
      // transaction lands off the fork abandons the fork below it.
      let played = cluster.player.step();
      while (played.onFork) played = cluster.player.step();
      // Hold still until the tip is finalized and every subscriber has what it is owed.
      const tip = ledger.slot('processed');
      await cluster.waitForCommitment(tip, 'finalized');
      await ingester.settled();
      // What is still owed, for the message should it never settle.
      let owed: string[] = [];
      await eventually(
        async () => {
          owed = [];
          for (const topic of FOLLOWED) {
            const truth = JSON.stringify(sorted(await stored(url, topic)));
            for (const mirror of [mirrors.confirmed, mirrors.finalized]) {
              if (truth !== JSON.stringify(sorted(mirror.rows.get(topic)!)))
                owed.push(`${mirror.commitment} ${topic} differ from the database`);
            }
          }
          const { processed: p } = mirrors;
          if (p.unsettled().length > 0) owed.push(`processed slots without a fate: ${p.unsettled().join(', ')}`);
          if (p.unfinalized().length > 0) owed.push(`processed slots not finalized: ${p.unfinalized().join(', ')}`);
          return owed.length === 0;
        },
        `round ${round}: every subscriber settled`,
        30_000,
        200,
      ).catch((error: Error) => {
        const problems = Object.values(mirrors).flatMap((m) => [
          ...m.problems,
          ...m.errors.map((e) => JSON.stringify(e)),
        ]);
        throw new Error(`${error.message}; still owed: ${owed.join('; ')}; problems: ${problems.join('; ')}`);
      });
      for (const topic of FOLLOWED) {
        expect(sorted(mirrors.processed.rows.get(topic)!), `round ${round}: processed ${topic}`).to.deep.equal(
          sorted(mirrors.confirmed.rows.get(topic)!),
        );
      }
    }
    for (const mirror of Object.values(mirrors)) {
      expect(mirror.errors, `${mirror.commitment} errors`).to.deep.equal([]);
      expect(mirror.problems, `${mirror.commitment} problems`).to.deep.equal([]);
    }
    const { processed: p } = mirrors;
    expect(p.speculative, 'speculative changes').to.be.greaterThan(0);
    expect(p.retractions, 'retractions').to.be.greaterThan(0);
    // Every slot the processed subscriber received from: dead on the chain exactly when retracted.
    for (const slot of p.received) {
      const status = ledger.slotInfo(slot)?.status;
      expect(p.fates.get(slot) === 'dead', `slot ${slot} (${String(status)}) retracted`).to.equal(status === 'dead');
    }
    expect(
      [...p.received].some((slot) => ledger.slotInfo(slot)?.status === 'dead'),
      'changes of a dead fork slot were received',
    ).to.equal(true);
  } finally {
    for (const mirror of Object.values(mirrors)) mirror.close();
    await ingester?.close();
    await cluster.close();
    await server.close();
    await speculative.close();
    await bus.close();
    await feed.close();
    await database.drop();
  }
}

describe('commitment levels with forks: processed, confirmed and finalized subscribers', function () {
  this.timeout(180_000);

  it('processed through the Yellowstone stream (PostgreSQL, gateways told over NOTIFY)', async () => {
    await run('postgres', 'geyser');
  });

  it('processed through websocket RPC account subscriptions (SQLite)', async () => {
    await run('sqlite', 'rpc-websocket');
  });
});
