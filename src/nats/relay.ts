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
// What it reads is direct mode's feed, once per database instead of once per gateway: LISTEN on
// the capture channel (one connection, the leader's; a change comes whole in its notification,
// a larger one is read from the log), the SQLite poll, plus a read of the log every pollMs in
// case a notification went missing; it starts at the stream's last change, not at the newest.
import { createChangeFeed, directSource, withPollFallback } from '../capture/feed.ts';
import type { Change, ChangeFeed, LogReader } from '../capture/types.ts';
import { TOPICS } from '../db/schema.ts';
import type { Database } from '../db/connection.ts';
import { databaseLock } from '../db/locks.ts';
import type { Logger } from '../log.ts';
import { decodeChange, encodeChange } from './messages.ts';
import { ensureStream, subjectOf, type Nats } from './stream.ts';

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
  /**
   * Calls `listener` with each publication's lag (ms from the change's commit to the stream's
   * acknowledgement) from now on; returns the unsubscribe.
   */
  onPublished(listener: (lagMs: number) => void): () => void;
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

interface Leading {
  published: number;
  readonly listeners: Set<(lagMs: number) => void>;
  /** The feed of the current round (for pokes), while there is one. */
  feed: ChangeFeed | null;
}

/**
 * One round of relaying: a feed over the log that starts where the stream ends (direct mode's
 * LISTEN with the change in the notification, or the SQLite poll, plus a poll fallback), each
 * change published as it is emitted, pipelined, each publish expecting the sequence after the
 * previous one. Resolves when `signal` aborts; rejects on the first failed publish.
 */
async function relayRound(options: RelayOptions, signal: AbortSignal, counts: Leading): Promise<void> {
  const { nats, reader, logger } = options;
  await ensureStream(nats);
  const from = await readStreamPosition(options);
  logger.info({ from: from.position, lastSeq: from.lastSeq }, "relay resuming after the stream's last change");
  let prev = from.position;
  let expected = from.lastSeq;
  let failure: ((error: Error) => void) | null = null;
  const failed = new Promise<never>((_, reject) => (failure = reject));
  failed.catch(() => undefined);
  const publish = (change: Change): void => {
    const message = encodeChange(change, prev, reader.epoch, nats.maxPayload);
    prev = change.cursor;
    nats.js
      .publish(subjectOf(nats.config, change.topic), message.data, {
        msgID: message.msgId,
        headers: message.headers,
        expect: { lastSequence: expected++ },
      })
      .then((ack) => {
        // A duplicate was already in the stream: the sequences of what follows no longer line up.
        if (ack.duplicate) throw new Error(`change ${change.cursor} was already in the stream`);
        counts.published += 1;
        if (counts.listeners.size > 0) {
          const lag = Math.max(0, Date.now() - change.committedAt);
          for (const listener of counts.listeners) listener(lag);
        }
      })
      .catch((error: Error) => failure?.(error));
  };
  const source = withPollFallback(directSource(options.db, { sqlitePollMs: options.pollMs }), options.pollMs);
  const feed = await createChangeFeed({ source, reader, logger, retentionSeconds: null, startAt: from.position });
  // Every topic's stream emits synchronously in cursor order, so one callback per topic sees the
  // log in order.
  const streams = TOPICS.map((topic) => feed.topic$(topic).subscribe({ next: publish }));
  counts.feed = feed;
  try {
    await Promise.race([
      failed,
      new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
      }),
    ]);
  } finally {
    counts.feed = null;
    for (const stream of streams) stream.unsubscribe();
    await feed.close();
  }
}

async function relayWhileLeading(options: RelayOptions, signal: AbortSignal, counts: Leading): Promise<void> {
  for (let failures = 0; !signal.aborted;) {
    try {
      await relayRound(options, signal, counts);
      failures = 0;
    } catch (error) {
      failures += 1;
      options.logger.warn(
        { err: (error as Error).message, failures },
        'relaying failed; re-reading where the stream stands and retrying',
      );
      await sleep(Math.min(100 * 2 ** failures, 5000), signal);
    }
  }
}

/** Runs for relay: takes the lock when free, relays while holding it, stands by otherwise. */
export function startRelayElection(options: RelayOptions): RelayElection {
  const { logger } = options;
  const stop = new AbortController();
  const counts: Leading = { published: 0, listeners: new Set(), feed: null };
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
        await relayWhileLeading(options, AbortSignal.any([stop.signal, lost.signal]), counts);
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
    onPublished(listener) {
      counts.listeners.add(listener);
      return () => counts.listeners.delete(listener);
    },
    poke: () => counts.feed?.poke(),
    close: async () => {
      stop.abort();
      await loop;
    },
  };
}
