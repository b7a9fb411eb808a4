// The gateway's view of what is processed but not yet in the database: the speculative changes the
// ingesting process announces (speculative-bus.ts), kept by slot until the slot's fate is known.
//
// - A processed slot's changes are handed on at once (topic$), and counted in the snapshot of a
//   processed subscription (overlay).
// - Confirmed: the slot's changes stand, and their committed twins follow through the change log.
//   The slot is kept a while so a committed change of an older slot does not take a row back in
//   time for a subscriber that already has the newer speculative value (supersedes); let go, it
//   still tells its finalization to the topics it touched.
// - Dead: a retraction says, per row the slot changed, what the row is without it: the newest
//   value another live slot gave it, else what the database holds, read in one snapshot while the
//   committed changes arriving meanwhile are recorded, so the retraction is never older than a
//   committed change a subscriber already has. An event the slot inserted is deleted.
// - Finalized: the slot is forgotten; the newest finalized slot is what finalized subscriptions
//   wait for (finalized$).
import { Subject, type Observable, type Subscription as RxSubscription } from 'rxjs';
import { TABLES, TOPICS, type Topic } from '../db/schema.ts';
import { toWireRow } from '../db/rows.ts';
import type { Logger } from '../log.ts';
import type { SpeculativeBus, SpeculativeEvent } from './speculative-bus.ts';
import type { Change, ChangeFeed, ChangeOp } from './types.ts';

/** One speculative change as subscriptions receive it. */
export interface SpeculativeChange {
  readonly topic: Topic;
  readonly op: ChangeOp;
  readonly row: Readonly<Record<string, unknown>>;
  /** The row before it, when it replaced one (a filtered view sees a row enter or leave). */
  readonly oldRow?: Readonly<Record<string, unknown>>;
  readonly slot: number;
}

/** One change of a retraction: like a change, applied in order it undoes the dead slot. */
export interface RetractedChange {
  readonly topic: Topic;
  readonly op: ChangeOp;
  readonly row: Readonly<Record<string, unknown>>;
  /** For an update, the dead slot's value (what the subscriber last saw). */
  readonly oldRow?: Readonly<Record<string, unknown>>;
}

export type SpeculativeNotice =
  /**
   * `confirmed`: its slot's confirmation was told before this change was mapped (a late one);
   * whoever had nothing of the slot yet is owed the confirmation with it.
   */
  | { readonly kind: 'change'; readonly change: SpeculativeChange; readonly confirmed: boolean }
  | { readonly kind: 'retract'; readonly slot: number; readonly changes: readonly RetractedChange[] }
  /** The slot is finalized; `changes` give the stored rows where they differ from what was announced. */
  | { readonly kind: 'settle'; readonly slot: number; readonly changes: readonly RetractedChange[] };

/** What a resumed subscriber is owed for a slot it received from (SpeculativeFeed.fateOf). */
export type OwedFate =
  | { readonly state: 'pending' }
  | { readonly state: 'confirmed' }
  | { readonly state: 'finalized' | 'dead'; readonly changes: readonly RetractedChange[] };

export interface SlotNotice {
  readonly slot: number;
  readonly fate: 'confirmed' | 'finalized' | 'dead';
}

interface Entry {
  readonly key: string;
  readonly change: SpeculativeChange;
  readonly layer: Layer;
}

interface Layer {
  readonly slot: number;
  /** `finalizing`: finalized, its settlement being read (still counts as live). */
  status: 'processed' | 'confirmed' | 'finalizing' | 'dead';
  readonly entries: Entry[];
  /** When it arrived, or when it was confirmed (ms): kept layers expire from then. */
  since: number;
}

export interface SpeculativeFeedOptions {
  readonly bus: SpeculativeBus;
  /** Committed changes and snapshots (what a retraction restores rows to). */
  readonly feed: ChangeFeed;
  readonly logger: Logger;
  /** A processed slot whose fate never came (its announcer failed over) is retracted after this (ms). */
  readonly unresolvedTtlMs?: number;
  /** A confirmed slot is kept this long for `supersedes` (ms). */
  readonly confirmedTtlMs?: number;
}

/** The lookup key of a row: its topic and natural key values. */
export function rowKey(topic: Topic, row: Readonly<Record<string, unknown>>): string {
  let key: string = topic;
  for (const column of TABLES[topic].naturalKey) key += `\u0000${String(row[column])}`;
  return key;
}

/** How long, and how many, settled slots' fates are remembered for resuming subscribers. */
const PAST_MS = 10 * 60_000;
const PAST_LIMIT = 20_000;

export class SpeculativeFeed {
  private readonly layers = new Map<number, Layer>();
  /** Entries of live layers per row key, oldest first. */
  private readonly rows = new Map<string, Entry[]>();
  private readonly topics = new Map<Topic, Subject<SpeculativeNotice>>();
  private readonly slots$ = new Subject<SlotNotice>();
  private readonly finalizedSubject = new Subject<number>();
  private finalizedSlot = -1;
  /** Fates of slots no longer kept, for subscribers resuming after a drop; oldest first. */
  private readonly past = new Map<
    number,
    {
      readonly fate: 'confirmed' | 'finalized' | 'dead';
      /** A settlement's changes per topic (a retraction's, or a finalization's corrections). */
      readonly changes?: ReadonlyMap<Topic, readonly RetractedChange[]>;
      readonly at: number;
    }
  >();
  private readonly unsubscribe: () => void;
  private readonly sweeper: NodeJS.Timeout;
  /** Retractions run one after another, in the order slots died. */
  private settling: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: SpeculativeFeedOptions) {
    this.unsubscribe = options.bus.subscribe((event) => this.onEvent(event));
    this.sweeper = setInterval(() => this.sweep(Date.now()), 1_000);
    this.sweeper.unref();
  }

  /** Speculative changes and retractions of `topic`. */
  topic$(topic: Topic): Observable<SpeculativeNotice> {
    return this.subject(topic).asObservable();
  }

  /** Slots becoming confirmed, finalized or dead (only slots speculative changes came from). */
  get fates$(): Observable<SlotNotice> {
    return this.slots$.asObservable();
  }

  /** The newest finalized slot, each time it rises. */
  get finalized$(): Observable<number> {
    return this.finalizedSubject.asObservable();
  }

  /** The newest finalized slot known; -1 before the first. */
  finalized(): number {
    return this.finalizedSlot;
  }

  /**
   * The newest speculative change of every row of `topic` whose slot is still only processed: what
   * a processed snapshot adds to the confirmed one.
   */
  overlay(topic: Topic): SpeculativeChange[] {
    const out: SpeculativeChange[] = [];
    for (const entries of this.rows.values()) {
      const top = topEntry(entries);
      if (top !== undefined && top.change.topic === topic && top.layer.status === 'processed') out.push(top.change);
    }
    return out;
  }

  /**
   * True when a subscriber that received the slots in `received` already has a newer value of the
   * row `change` commits: a live slot after the change's slot changed the same row.
   */
  supersedes(change: Change, received: ReadonlySet<number>): boolean {
    if (change.slot === null || received.size === 0 || TABLES[change.topic].kind !== 'state') return false;
    const entries = this.rows.get(rowKey(change.topic, change.row));
    if (entries === undefined) return false;
    const slot = change.slot;
    return entries.some((e) => e.layer.status !== 'dead' && e.layer.slot > slot && received.has(e.layer.slot));
  }

  /**
   * What a subscriber that received changes of `slot` (of `topic`) before a reconnect is owed:
   * `pending` (the fate is still to come), the fate, or null when the slot is not known (forgotten,
   * or never seen by this gateway).
   */
  fateOf(slot: number, topic: Topic): OwedFate | null {
    const layer = this.layers.get(slot);
    if (layer !== undefined) return layer.status === 'confirmed' ? { state: 'confirmed' } : { state: 'pending' };
    const past = this.past.get(slot);
    if (past === undefined) return null;
    if (past.fate === 'confirmed') return { state: 'confirmed' };
    return { state: past.fate, changes: past.changes?.get(topic) ?? [] };
  }

  private remember(
    slot: number,
    fate: 'confirmed' | 'finalized' | 'dead',
    changes?: ReadonlyMap<Topic, readonly RetractedChange[]>,
  ): void {
    const now = Date.now();
    this.past.set(slot, { fate, at: now, ...(changes === undefined ? {} : { changes }) });
    for (const [old, entry] of this.past) {
      if (this.past.size <= PAST_LIMIT && now - entry.at <= PAST_MS) break;
      this.past.delete(old);
    }
  }

  /** Layers kept (for tests and /metrics). */
  get size(): number {
    return this.layers.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    this.unsubscribe();
    await this.settling;
    for (const subject of this.topics.values()) subject.complete();
    this.slots$.complete();
    this.finalizedSubject.complete();
  }

  private subject(topic: Topic): Subject<SpeculativeNotice> {
    let subject = this.topics.get(topic);
    if (subject === undefined) {
      subject = new Subject();
      this.topics.set(topic, subject);
    }
    return subject;
  }

  private onEvent(event: SpeculativeEvent): void {
    if (this.closed) return;
    if (event.kind === 'changes') {
      let layer = this.layers.get(event.slot);
      if (layer === undefined) {
        // Changes of a slot already settled arrive late: finalized ones are in the database, dead
        // ones must not be shown.
        const settled = this.past.get(event.slot)?.fate;
        if (event.slot <= this.finalizedSlot || settled === 'dead' || settled === 'finalized') return;
        // A slot confirmed earlier (its layer since let go) is confirmed still: its fate is not announced again.
        const status = settled === 'confirmed' ? 'confirmed' : 'processed';
        layer = { slot: event.slot, status, entries: [], since: Date.now() };
        this.layers.set(event.slot, layer);
      } else if (layer.status === 'dead') {
        return;
      }
      for (const raw of event.changes) {
        const change: SpeculativeChange = {
          topic: raw.topic,
          op: raw.op,
          row: raw.row,
          ...(raw.oldRow === undefined ? {} : { oldRow: raw.oldRow }),
          slot: event.slot,
        };
        const entry: Entry = { key: rowKey(raw.topic, raw.row), change, layer };
        layer.entries.push(entry);
        const entries = this.rows.get(entry.key);
        if (entries === undefined) this.rows.set(entry.key, [entry]);
        else entries.push(entry);
        this.subject(raw.topic).next({ kind: 'change', change, confirmed: layer.status !== 'processed' });
      }
      return;
    }
    const { slot, status } = event;
    if (status === 'finalized' && slot > this.finalizedSlot) {
      this.finalizedSlot = slot;
      this.finalizedSubject.next(slot);
    }
    const layer = this.layers.get(slot);
    if (layer === undefined && status === 'finalized') {
      const past = this.past.get(slot);
      if (past?.fate === 'confirmed') this.finalizeForgotten(slot, past.changes ?? new Map());
    }
    if (layer === undefined || layer.status === 'dead' || layer.status === 'finalizing') return;
    if (status === 'dead') {
      this.settle(layer, 'dead');
      return;
    }
    if (status === 'confirmed' && layer.status === 'processed') {
      layer.status = 'confirmed';
      layer.since = Date.now();
      this.slots$.next({ slot, fate: 'confirmed' });
    } else if (status === 'finalized') {
      if (layer.status === 'processed') this.slots$.next({ slot, fate: 'confirmed' });
      this.settle(layer, 'finalized');
    }
  }

  private drop(layer: Layer): void {
    this.layers.delete(layer.slot);
    for (const entry of layer.entries) {
      const entries = this.rows.get(entry.key);
      if (entries === undefined) continue;
      const kept = entries.filter((e) => e.layer !== layer);
      if (kept.length === 0) this.rows.delete(entry.key);
      else this.rows.set(entry.key, kept);
    }
  }

  /** Confirmed layers past their time go quietly; processed ones whose fate never came are retracted. */
  private sweep(now: number): void {
    const unresolved = this.options.unresolvedTtlMs ?? 60_000;
    const confirmed = this.options.confirmedTtlMs ?? 30_000;
    for (const layer of [...this.layers.values()]) {
      if (layer.status === 'confirmed' && now - layer.since > confirmed) {
        this.drop(layer);
        // Its subscribers are still owed the finalization (finalizing can lag confirmation by
        // minutes when roots stall): the topics it touched are kept for that notice.
        const topics = new Set(layer.entries.map((e) => e.change.topic));
        this.remember(layer.slot, 'confirmed', new Map([...topics].map((topic) => [topic, []])));
      } else if (layer.status === 'processed' && now - layer.since > unresolved) {
        this.options.logger.warn(
          { slot: layer.slot },
          'no fate came for a processed slot; retracting its changes to what the database holds',
        );
        this.settle(layer, 'expired');
      }
    }
  }

  /**
   * A slot's end: dead (or expired) → a retraction; finalized → the slot notice, with the stored
   * rows where they differ from what was announced. Settlements run one at a time, in order.
   */
  private settle(layer: Layer, outcome: 'dead' | 'expired' | 'finalized'): void {
    layer.status = outcome === 'finalized' ? 'finalizing' : 'dead';
    const previous = this.settling;
    this.settling = (async () => {
      await previous.catch(() => undefined);
      let stored: ReadonlyMap<string, Row | null> | null = null;
      try {
        stored = await this.readStored(layer);
      } catch (error) {
        // Without the database's values a retraction cannot be exact: subscribers are told the
        // slot died, and the rows it changed return as their committed changes come.
        this.options.logger.error(
          { slot: layer.slot, err: (error as Error).message, outcome },
          'could not read the rows a settled slot changed; settling without their stored values',
        );
      }
      try {
        this.finishSettlement(layer, outcome, stored);
      } catch (error) {
        this.options.logger.error({ slot: layer.slot, err: (error as Error).message }, 'settling a slot failed');
      }
    })();
  }

  /**
   * The stored value (null: no such row) of every row the slot changed, read in one snapshot while
   * the committed changes arriving meanwhile are recorded: the newer of the two is kept.
   */
  private async readStored(layer: Layer): Promise<Map<string, Row | null>> {
    const needed = new Map<string, Entry>();
    for (const entry of layer.entries) needed.set(entry.key, entry);
    const stored = new Map<string, { cursor: bigint; row: Row | null }>();
    const topics = [...new Set([...needed.values()].map((e) => e.change.topic))];
    const recorders: RxSubscription[] = topics.map((topic) =>
      this.options.feed.topic$(topic).subscribe((change) => {
        const key = rowKey(change.topic, change.row);
        if (!needed.has(key)) return;
        stored.set(key, { cursor: BigInt(change.cursor), row: change.op === 'delete' ? null : change.row });
      }),
    );
    try {
      const { cursor, result } = await this.options.feed.snapshot((query) =>
        this.readRows(query, [...needed.values()]),
      );
      const at = BigInt(cursor);
      for (const entry of needed.values()) {
        const recorded = stored.get(entry.key);
        if (recorded !== undefined && recorded.cursor > at) continue;
        stored.set(entry.key, { cursor: at, row: result.get(entry.key) ?? null });
      }
    } finally {
      for (const recorder of recorders) recorder.unsubscribe();
    }
    return new Map([...stored].map(([key, value]) => [key, value.row]));
  }

  /**
   * A confirmed slot let go before its finalization: its subscribers (of the topics it touched) get
   * the notice without corrections, their committed changes having come meanwhile.
   */
  private finalizeForgotten(slot: number, topics: ReadonlyMap<Topic, readonly RetractedChange[]>): void {
    this.remember(slot, 'finalized', topics);
    for (const topic of topics.keys()) this.subject(topic).next({ kind: 'settle', slot, changes: [] });
    this.slots$.next({ slot, fate: 'finalized' });
  }

  /** Builds and emits the settlement (per topic the slot touched) and forgets the slot. */
  private finishSettlement(
    layer: Layer,
    outcome: 'dead' | 'expired' | 'finalized',
    stored: ReadonlyMap<string, Row | null> | null,
  ): void {
    const byTopic = new Map<Topic, RetractedChange[]>();
    // A slot confirmed, let go and taken up again by a late change: subscribers of what it touched
    // before are owed the settlement too.
    for (const topic of this.past.get(layer.slot)?.changes?.keys() ?? []) byTopic.set(topic, []);
    const seen = new Set<string>();
    const alive = (e: Entry) => e.layer !== layer && e.layer.status !== 'dead';
    // Newest first: the value a subscriber saw for a row is the slot's last change of it.
    for (const entry of [...layer.entries].reverse()) {
      const { topic } = entry.change;
      if (!byTopic.has(topic)) byTopic.set(topic, []);
      if (seen.has(entry.key)) continue;
      seen.add(entry.key);
      const entries = this.rows.get(entry.key) ?? [];
      const index = entries.indexOf(entry);
      // A later live slot changed the row after this one: subscribers see that value; nothing to undo.
      if (entries.slice(index + 1).some(alive)) continue;
      const list = byTopic.get(topic) as RetractedChange[];
      if (outcome === 'finalized') {
        // The slot stands. Where the database holds another value than the one announced (what the
        // processed view could not give exactly: a creation slot history corrects, a row's id),
        // the stored row; a row not stored yet arrives as its committed change.
        const value = stored?.get(entry.key);
        if (value !== undefined && value !== null && !sameRow(value, entry.change.row))
          list.push({ topic, op: 'update', row: value, oldRow: entry.change.row });
        continue;
      }
      const before = entries.slice(0, index).filter(alive).at(-1);
      const restored = before !== undefined ? before.change.row : stored?.get(entry.key);
      if (restored === undefined || restored === null) list.push({ topic, op: 'delete', row: entry.change.row });
      else list.push({ topic, op: 'update', row: restored, oldRow: entry.change.row });
    }
    this.drop(layer);
    const fate = outcome === 'finalized' ? 'finalized' : 'dead';
    this.remember(layer.slot, fate, byTopic);
    for (const [topic, changes] of byTopic) {
      this.subject(topic).next(
        fate === 'dead'
          ? { kind: 'retract', slot: layer.slot, changes }
          : { kind: 'settle', slot: layer.slot, changes },
      );
    }
    this.slots$.next({ slot: layer.slot, fate });
  }

  /** The stored rows of `entries`, by row key, read through `query` (one statement per topic). */
  private async readRows(
    query: (sql: string, bind: readonly unknown[]) => Promise<Record<string, unknown>[]>,
    entries: readonly Entry[],
  ): Promise<Map<string, Readonly<Record<string, unknown>>>> {
    const out = new Map<string, Readonly<Record<string, unknown>>>();
    for (const topic of TOPICS) {
      const rows = entries.filter((e) => e.change.topic === topic).map((e) => e.change.row);
      if (rows.length === 0) continue;
      const columns = TABLES[topic].naturalKey;
      const bind: unknown[] = [];
      const where = rows
        .map((row) => `(${columns.map((c) => `"${c}" = $${bind.push(row[c])}`).join(' AND ')})`)
        .join(' OR ');
      for (const raw of await query(`SELECT * FROM "${topic}" WHERE ${where}`, bind)) {
        const row = toWireRow(topic, raw) as Record<string, unknown>;
        out.set(rowKey(topic, row), row);
      }
    }
    return out;
  }
}

/** The newest entry of a row that is not of a dead slot. */
type Row = Readonly<Record<string, unknown>>;

/** Same columns, same values (rows in wire form). */
function sameRow(a: Row, b: Row): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return false;
  return true;
}

function topEntry(entries: readonly Entry[]): Entry | undefined {
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i] as Entry;
    if (entry.layer.status !== 'dead') return entry;
  }
  return undefined;
}
