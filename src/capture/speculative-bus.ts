// How the ingesting process tells every gateway what it sees at `processed`, ahead of the
// database: speculative changes by slot, and what becomes of each slot (confirmed, finalized,
// dead). Nothing here is durable, nor needs to be: a speculative change is superseded within
// seconds by its committed twin (or retracted), and a gateway that missed some only shows less
// ahead of the database.
// - PostgreSQL: NOTIFY / LISTEN on the channel `solstream_speculative`, so gateways of every
//   process hear the one ingester (a payload is at most 7,800 bytes; larger events are split).
// - SQLite (one machine, usually one process): within the process.
import { EventEmitter } from 'node:events';
import pgListen from 'pg-listen';
import type { Database } from '../db/connection.ts';
import { isTopic, type Topic } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import type { ChangeOp } from './types.ts';

export const SPECULATIVE_CHANNEL = 'solstream_speculative';
const MAX_PAYLOAD = 7800;

/** One speculative change: a whole row as it would be with the slot applied (wire form). */
export interface SpeculativeChange {
  readonly topic: Topic;
  readonly op: ChangeOp;
  readonly row: Readonly<Record<string, unknown>>;
  /** For an update, the row it replaces (what the database or an earlier processed slot holds). */
  readonly oldRow?: Readonly<Record<string, unknown>>;
}

export type SlotStatus = 'confirmed' | 'finalized' | 'dead';

export type SpeculativeEvent =
  | { readonly kind: 'changes'; readonly slot: number; readonly changes: readonly SpeculativeChange[] }
  | { readonly kind: 'slot'; readonly slot: number; readonly status: SlotStatus };

export interface SpeculativeBus {
  publish(event: SpeculativeEvent): Promise<void>;
  /** `listener` gets every event published from now on, in order; returns the unsubscribe. */
  subscribe(listener: (event: SpeculativeEvent) => void): () => void;
  close(): Promise<void>;
}

/** Events of one process (SQLite, tests). */
export function processBus(): SpeculativeBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    publish: async (event) => {
      emitter.emit('event', event);
    },
    subscribe: (listener) => {
      emitter.on('event', listener);
      return () => emitter.off('event', listener);
    },
    close: async () => {
      emitter.removeAllListeners();
    },
  };
}

/** The event as one or more payloads below the NOTIFY limit. */
export function encodeEvent(event: SpeculativeEvent, logger?: Logger): string[] {
  const whole = JSON.stringify(event);
  if (Buffer.byteLength(whole) <= MAX_PAYLOAD || event.kind !== 'changes') return [whole];
  const out: string[] = [];
  for (const change of event.changes) {
    const one = JSON.stringify({ kind: 'changes', slot: event.slot, changes: [change] });
    if (Buffer.byteLength(one) <= MAX_PAYLOAD) out.push(one);
    else
      logger?.warn(
        { slot: event.slot, topic: change.topic },
        'a speculative row too large to announce; its committed change will carry it',
      );
  }
  return out;
}

export function decodeEvent(payload: string): SpeculativeEvent | null {
  try {
    const value = JSON.parse(payload) as SpeculativeEvent;
    if (value.kind === 'slot' && Number.isSafeInteger(value.slot)) return value;
    if (value.kind === 'changes' && Number.isSafeInteger(value.slot) && Array.isArray(value.changes))
      return { ...value, changes: value.changes.filter((c) => isTopic(c.topic)) };
  } catch {
    // reported by the caller
  }
  return null;
}

/** NOTIFY / LISTEN on one PostgreSQL database. LISTEN starts with the first subscriber. */
export function postgresBus(db: Database, logger: Logger): SpeculativeBus {
  const url = db.postgresUrl;
  if (url === null) throw new Error('the PostgreSQL speculative bus needs a postgres:// database');
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let listening: Promise<ReturnType<typeof pgListen.default>> | null = null;
  const listen = () => {
    listening ??= (async () => {
      const subscriber = pgListen.default(
        { connectionString: url },
        { parse: (raw: string) => raw, retryLimit: Infinity, retryTimeout: 0, paranoidChecking: 10_000 },
      );
      subscriber.notifications.on(SPECULATIVE_CHANNEL, (raw: string) => {
        const event = decodeEvent(raw);
        if (event === null) logger.warn({ payload: raw.slice(0, 200) }, 'ignoring a malformed speculative event');
        else emitter.emit('event', event);
      });
      subscriber.events.on('error', (error: Error) =>
        logger.warn({ err: error.message }, 'speculative listener error'),
      );
      await subscriber.connect();
      await subscriber.listenTo(SPECULATIVE_CHANNEL);
      return subscriber;
    })();
    return listening;
  };
  return {
    async publish(event) {
      const payloads = encodeEvent(event, logger);
      if (payloads.length === 0) return;
      await db.sequelize.query(`SELECT pg_notify('${SPECULATIVE_CHANNEL}', p) FROM unnest($1::text[]) AS p`, {
        bind: [payloads],
      });
    },
    subscribe(listener) {
      emitter.on('event', listener);
      void listen().catch((error: Error) =>
        logger.error({ err: error.message }, 'cannot listen for speculative events'),
      );
      return () => emitter.off('event', listener);
    },
    async close() {
      emitter.removeAllListeners();
      const subscriber = await listening?.catch(() => null);
      if (subscriber) {
        subscriber.events.on('error', () => undefined);
        await subscriber.close().catch(() => undefined);
      }
    },
  };
}

export function openSpeculativeBus(db: Database, logger: Logger): SpeculativeBus {
  return db.dialect === 'postgres' ? postgresBus(db, logger) : processBus();
}
