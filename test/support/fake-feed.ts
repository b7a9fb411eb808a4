// In-memory stand-ins for the gateway's seams, so its protocol core can be driven message by
// message without a database or a network: a change log (LogReader) whose reads can be held open,
// a live source the test pushes changes through (in any order, twice, or late), and a socket that
// records every frame. They speak the real types; the feed between them is the real ChangeFeed.
import { createChangeFeed } from '../../src/capture/feed.ts';
import {
  CursorExpiredError,
  InvalidCursorError,
  type Change,
  type ChangeFeed,
  type ChangeOp,
  type LiveSink,
  type LiveSource,
  type LogRange,
  type LogReader,
  type SnapshotQuery,
  type SnapshotResult,
} from '../../src/capture/types.ts';
import type { Topic } from '../../src/db/schema.ts';
import type { GatewaySocket } from '../../src/gateway/types.ts';
import { silentLogger } from '../../src/log.ts';
import type { ServerMessage } from '../../src/wire/protocol.ts';
import { pubkey, signature } from './keys.ts';

export const FAKE_EPOCH = '100000000000000007';

/** A gate a read waits at until the test opens it. */
export class Gate {
  private opened = false;
  private waiters: (() => void)[] = [];
  /** Resolves when a read has reached the gate. */
  readonly reached: Promise<void>;
  private markReached: () => void = () => undefined;

  constructor() {
    this.reached = new Promise((resolve) => (this.markReached = resolve));
  }

  wait(): Promise<void> {
    this.markReached();
    if (this.opened) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  open(): void {
    this.opened = true;
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}

/** A change log in memory, with each topic's current rows for snapshots. */
export class MemoryLog implements LogReader {
  readonly epoch = FAKE_EPOCH;
  readonly changes: Change[] = [];
  private readonly rows = new Map<Topic, Map<number, Record<string, unknown>>>();
  private next = 1n;
  prunedThrough = 0n;
  /** The next snapshot (or replay) waits at this gate, after it has taken its consistent view. */
  snapshotGate: Gate | null = null;
  replayGate: Gate | null = null;

  /** Commits one change and returns it (not yet seen by any live source). */
  commit(
    topic: Topic,
    op: ChangeOp,
    row: Record<string, unknown>,
    oldRow?: Record<string, unknown>,
    slot: number | null = null,
  ): Change {
    const change: Change = {
      cursor: (this.next++).toString(),
      topic,
      op,
      row,
      committedAt: Date.now(),
      slot,
      ...(oldRow !== undefined ? { oldRow } : {}),
    };
    this.changes.push(change);
    let table = this.rows.get(topic);
    if (table === undefined) {
      table = new Map();
      this.rows.set(topic, table);
    }
    if (op === 'delete') table.delete(row.id as number);
    else table.set(row.id as number, row);
    return change;
  }

  newest(): string {
    return this.changes.at(-1)?.cursor ?? this.prunedThrough.toString();
  }

  async bounds() {
    return { newest: this.newest(), prunedThrough: this.prunedThrough.toString() };
  }

  async read(range: LogRange): Promise<Change[]> {
    return this.changes
      .filter(
        (c) =>
          BigInt(c.cursor) > BigInt(range.after) &&
          (range.upTo === undefined || BigInt(c.cursor) <= BigInt(range.upTo)) &&
          (range.topic === undefined || c.topic === range.topic),
      )
      .slice(0, range.limit);
  }

  async replay(topic: Topic, after: string, upTo: string, limit: number): Promise<Change[]> {
    if (!/^(0|[1-9][0-9]*)$/.test(after) || BigInt(after) > BigInt(this.newest())) throw new InvalidCursorError(after);
    if (BigInt(after) < this.prunedThrough) throw new CursorExpiredError(after, this.prunedThrough.toString());
    const page = await this.read({ after, upTo, topic, limit });
    const gate = this.replayGate;
    this.replayGate = null;
    await gate?.wait();
    return page;
  }

  async snapshot<T>(read: (query: SnapshotQuery) => Promise<T>): Promise<SnapshotResult<T>> {
    // The consistent view is taken first; the gate holds the answer back while the test commits more.
    const cursor = this.newest();
    const view = new Map([...this.rows].map(([topic, table]) => [topic, [...table.values()]]));
    const query: SnapshotQuery = async (sql) => {
      const topic = /FROM "([a-z_]+)"/.exec(sql)?.[1] as Topic;
      const rows = [...(view.get(topic) ?? [])].sort((a, b) => (a.id as number) - (b.id as number));
      return /DESC/.test(sql) ? rows.reverse() : rows;
    };
    const result = await read(query);
    const gate = this.snapshotGate;
    this.snapshotGate = null;
    await gate?.wait();
    return { cursor, result };
  }

  async prune(): Promise<number> {
    return 0;
  }
}

/** A live source the test drives: `publish` hands changes to the feed in whatever order the test likes. */
export class ManualSource implements LiveSource {
  private sink: LiveSink | null = null;

  constructor(private readonly log: MemoryLog) {}

  async start(sink: LiveSink): Promise<string> {
    this.sink = sink;
    sink.setLive(true);
    return this.log.newest();
  }

  publish(...changes: Change[]): void {
    this.sink?.enqueue(() => changes);
  }

  /** Everything committed that this source has not published yet, read through the feed's catch-up. */
  catchUp(): Promise<void> {
    return this.sink?.catchUp() ?? Promise.resolve();
  }

  poke(): void {}

  async close(): Promise<void> {}
}

export async function fakeFeed(): Promise<{ log: MemoryLog; source: ManualSource; feed: ChangeFeed }> {
  const log = new MemoryLog();
  const source = new ManualSource(log);
  const feed = await createChangeFeed({ source, reader: log, logger: silentLogger, retentionSeconds: null });
  return { log, source, feed };
}

/** A socket that records every frame the core sends, parsed. */
export class FakeSocket implements GatewaySocket {
  readonly frames: ServerMessage[] = [];
  /** Every frame as the core handed it over (a string or shared UTF-8 bytes). */
  readonly sent: (string | Buffer)[] = [];
  isOpen = true;
  bufferedAmount = 0;
  closedWith: { code: number; reason: string } | null = null;

  send(data: string | Buffer, sent?: (error?: Error) => void): void {
    this.sent.push(data);
    this.frames.push(JSON.parse(data.toString()) as ServerMessage);
    if (sent !== undefined) queueMicrotask(() => sent());
  }

  close(code: number, reason: string): void {
    this.isOpen = false;
    this.closedWith = { code, reason };
  }

  /** Frames of one subscription id, in order. */
  of(id: string): ServerMessage[] {
    return this.frames.filter((m) => 'id' in m && m.id === id);
  }
}

/** Lets every queued promise callback run (the feed's queue, the join's awaits). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

let nextSwapId = 1;

/** A swap row in wire form, as the log would carry it (a fresh id each time). */
export function swapRow(pool: string, slot: number): Record<string, unknown> {
  return {
    id: nextSwapId++,
    pool_pubkey: pool,
    user_address: pubkey(),
    input_mint: pubkey(),
    output_mint: pubkey(),
    input_amount: '10',
    output_amount: '20',
    fee_amount: '1',
    signature: signature(),
    slot,
    created_at: '2026-01-01T00:00:00.000Z',
  };
}
