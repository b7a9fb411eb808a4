// The relay: exactly one process per database reads the change log in cursor order and publishes
// every change to the JetStream stream. Every gateway in NATS mode runs for the job; the one that
// holds the database's `relay` lock (src/db/locks.ts: a session advisory lock, freed the moment
// its process dies) relays, the others stand by and retry.
//
// Each publish states what it expects the stream's last sequence to be, so the stream stays an
// exact copy of the log in cursor order even if an old leader that lost its lock still publishes:
// a publish that finds another's message last fails, and the relay re-reads where the stream
// stands and goes on from its last message. A re-publish of a change already in the stream (same
// Nats-Msg-Id, the wire cursor) is dropped by the server's duplicate window.
//
// Wake-up: LISTEN on the capture channel (one connection, the leader's; the payload is ignored and
// the log read in pages), plus a poll in case a notification is missed.
import pgListen from 'pg-listen';
import { CAPTURE_CHANNEL } from '../capture/postgres-listener.ts';
import type { Change, LogReader } from '../capture/types.ts';
import type { Database } from '../db/connection.ts';
import { databaseLock } from '../db/locks.ts';
import type { Logger } from '../log.ts';
import { decodeChange, encodeChange } from './messages.ts';
import { ensureStream, subjectOf, type Nats } from './stream.ts';

/** Changes read from the log and published per round. */
export const RELAY_PAGE = 500;

export interface RelayOptions {
  readonly db: Database;
  /** The primary's change log (the relay never reads a replica: it must see every commit). */
  readonly reader: LogReader;
  readonly nats: Nats;
  readonly logger: Logger;
  /** Read the log at least this often when no notification woke the relay, in ms. */
  readonly pollMs: number;
  /** How often a standby tries to take the relay lock, in ms. */
  readonly retryMs: number;
}

export interface RelayStatus {
  /** True while this process is the relay. */
  readonly leading: boolean;
  /** Changes this process has published (acknowledged by the stream). */
  readonly published: number;
}

export interface RelayElection extends RelayStatus {
  /** Changes were just committed in this process: read the log now. */
  poke(): void;
  /** Stops relaying (or standing by) and releases the lock. */
  close(): Promise<void>;
}

/** Where the stream stands: the last change in it (the relay's resume point) and its sequence. */
interface StreamPosition {
  /** Offset of the last change published; everything up to it is in the stream (or was, before retention). */
  readonly position: string;
  /** The stream's last sequence, which the next publish expects. */
  readonly lastSeq: number;
}

/** A wake-up flag: set by notifications and pokes, awaited with a poll timeout. */
class Wake {
  private pending = false;
  private resolve: (() => void) | null = null;

  set(): void {
    this.pending = true;
    const resolve = this.resolve;
    this.resolve = null;
    resolve?.();
  }

  /** Resolves when set (or already set), after `ms`, or when `signal` aborts. */
  async wait(ms: number, signal: AbortSignal): Promise<void> {
    if (!this.pending && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
        this.resolve = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
    this.pending = false;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Reads where the stream stands; a stream without a change of this log starts at the log's newest. */
async function readStreamPosition(options: RelayOptions): Promise<StreamPosition> {
  const { nats, reader, logger } = options;
  const info = await nats.jsm.streams.info(nats.config.stream);
  const lastSeq = info.state.last_seq;
  if (lastSeq > 0 && info.state.messages > 0) {
    const last = await nats.jsm.streams.getMessage(nats.config.stream, { seq: lastSeq }).catch(() => null);
    if (last !== null) {
      try {
        const incoming = decodeChange(last.header, last.data);
        if (incoming.epoch === reader.epoch) return { position: incoming.cursor, lastSeq };
        logger.warn(
          { stream: nats.config.stream, epoch: incoming.epoch, ours: reader.epoch },
          'the stream ends with a change of another change log (another database, or this one before a restore); ' +
            'relaying from the newest change (give each database its own stream)',
        );
      } catch (error) {
        logger.warn({ err: (error as Error).message, seq: lastSeq }, 'the last message of the stream is not a change');
      }
    }
  }
  // Nothing of this log to resume from: start at its newest change. Gateways that have not seen
  // the changes before it read them from the log (the first message's Solstream-Prev says so).
  return { position: (await reader.bounds()).newest, lastSeq };
}

/** Publishes `page` in order, pipelined; resolves with the new stream position. */
async function publishPage(
  options: RelayOptions,
  page: readonly Change[],
  from: StreamPosition,
): Promise<StreamPosition> {
  const { nats, reader } = options;
  let prev = from.position;
  const acks = page.map((change, i) => {
    const message = encodeChange(change, prev, reader.epoch, nats.maxPayload);
    prev = change.cursor;
    return nats.js.publish(subjectOf(nats.config, change.topic), message.data, {
      msgID: message.msgId,
      headers: message.headers,
      expect: { lastSequence: from.lastSeq + i },
    });
  });
  const settled = await Promise.allSettled(acks);
  let lastSeq = from.lastSeq;
  let position = from.position;
  for (const [i, result] of settled.entries()) {
    if (result.status === 'rejected') throw result.reason as Error;
    // A duplicate was already in the stream: the sequences of what follows no longer line up.
    if (result.value.duplicate) throw new Error(`change ${page[i]?.cursor} was already in the stream`);
    lastSeq = result.value.seq;
    position = (page[i] as Change).cursor;
  }
  return { position, lastSeq };
}

interface Leading {
  published: number;
}

async function relayWhileLeading(
  options: RelayOptions,
  signal: AbortSignal,
  wake: Wake,
  counts: Leading,
): Promise<void> {
  const { logger } = options;
  let listener: ReturnType<typeof pgListen.default> | null = null;
  if (options.db.postgresUrl !== null) {
    listener = pgListen.default(
      { connectionString: options.db.postgresUrl },
      { parse: (raw: string) => raw, retryLimit: Infinity, retryTimeout: 0, retryInterval: () => 1000 },
    );
    listener.notifications.on(CAPTURE_CHANNEL, () => wake.set());
    // A reconnect may have missed notifications: read the log.
    listener.events.on('connected', () => wake.set());
    listener.events.on('error', (error: Error) => logger.warn({ err: error.message }, 'relay listener error'));
  }
  try {
    if (listener !== null) {
      await listener.connect();
      await listener.listenTo(CAPTURE_CHANNEL);
    }
    let state: StreamPosition | null = null;
    for (let failures = 0; !signal.aborted;) {
      try {
        if (state === null) {
          await ensureStream(options.nats);
          state = await readStreamPosition(options);
          logger.info(
            { from: state.position, lastSeq: state.lastSeq },
            "relay resuming after the stream's last change",
          );
        }
        const page = await options.reader.read({ after: state.position, limit: RELAY_PAGE });
        if (signal.aborted) return;
        if (page.length === 0) {
          await wake.wait(options.pollMs, signal);
          continue;
        }
        state = await publishPage(options, page, state);
        counts.published += page.length;
        failures = 0;
      } catch (error) {
        failures += 1;
        logger.warn(
          { err: (error as Error).message, failures },
          'relaying failed; re-reading where the stream stands and retrying',
        );
        state = null;
        await sleep(Math.min(100 * 2 ** failures, 5000), signal);
      }
    }
  } finally {
    if (listener !== null) {
      listener.events.removeAllListeners('error');
      listener.events.on('error', () => undefined);
      await listener.close().catch(() => undefined);
    }
  }
}

/** Runs for relay: takes the lock when free, relays while holding it, stands by otherwise. */
export function startRelayElection(options: RelayOptions): RelayElection {
  const { logger } = options;
  const stop = new AbortController();
  const wake = new Wake();
  const counts: Leading = { published: 0 };
  let leading = false;

  const loop = (async () => {
    while (!stop.signal.aborted) {
      const lock = databaseLock(options.db, 'relay');
      // Standing by: one attempt per retryMs (the lock is free the moment its holder's session ends).
      let held = false;
      try {
        held = await lock.tryAcquire();
      } catch (error) {
        logger.warn({ err: (error as Error).message }, 'taking the relay lock failed');
      }
      if (!held) {
        await sleep(options.retryMs, stop.signal);
        continue;
      }
      if (stop.signal.aborted) {
        await lock.release();
        break;
      }
      const lost = new AbortController();
      lock.onLost((error) => {
        logger.warn({ err: error.message }, 'relay lock lost; standing by');
        lost.abort();
      });
      leading = true;
      logger.info('this process is the relay: publishing the change log to JetStream');
      try {
        await relayWhileLeading(options, AbortSignal.any([stop.signal, lost.signal]), wake, counts);
      } catch (error) {
        logger.error({ err: (error as Error).message }, 'the relay stopped');
      } finally {
        leading = false;
        await lock.release();
      }
      await sleep(options.retryMs, stop.signal);
    }
  })();

  return {
    get leading() {
      return leading;
    },
    get published() {
      return counts.published;
    },
    poke: () => wake.set(),
    close: async () => {
      stop.abort();
      await loop;
    },
  };
}
