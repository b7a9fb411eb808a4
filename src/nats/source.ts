// The live source of NATS mode: an ordered JetStream consumer per gateway process, instead of a
// LISTEN connection per gateway. It starts right after the stream's last message as it stands
// when the gateway starts, and the feed's starting position is the newest change in the log read
// after that, so every change after the position is either in the log's past (served by replays)
// or still to come through the stream.
//
// Nothing is lost whatever the stream holds: each message says which change came before it in the
// stream (Solstream-Prev), and when that is beyond what this gateway has emitted, the gap (a relay
// that started over from the log's newest, messages removed by the stream's retention) is read
// from the change log first, in its place in the feed's queue. A message of another log's epoch
// is ignored.
import { DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import type { LiveSink, LiveSource, LogReader } from '../capture/types.ts';
import type { Logger } from '../log.ts';
import { decodeChange } from './messages.ts';
import { ensureStream, type Nats } from './stream.ts';

/** How long one pull request waits for messages, in ms (the client sends heartbeats at half of it). */
const PULL_EXPIRES_MS = 5000;
/** The longest close() waits for the consumer to stop. */
const CLOSE_WAIT_MS = 2000;

export interface JetStreamSourceOptions {
  readonly nats: Nats;
  /** The log this gateway serves (for its epoch). */
  readonly reader: LogReader;
  readonly logger: Logger;
  /** Called on poke(): the relay, when it runs in this process, reads the log at once. */
  readonly onPoke?: () => void;
}

export function jetstreamSource(options: JetStreamSourceOptions): LiveSource {
  const { nats, reader, logger } = options;
  const stream = nats.config.stream;
  let closed = false;
  let messages: ConsumerMessages | null = null;
  let running: Promise<void> = Promise.resolve();
  let warnedEpoch = false;

  /** Where the next consumer starts: the stream sequence after the last message handled. */
  let nextSeq = 1;
  /** The highest offset handed to the feed's queue so far (emitted once the queue gets there). */
  let queued = 0n;

  const handle = (sink: LiveSink, seq: number, headers: Parameters<typeof decodeChange>[0], data: Uint8Array) => {
    nextSeq = seq + 1;
    let incoming;
    try {
      incoming = decodeChange(headers, data);
    } catch (error) {
      logger.warn({ err: (error as Error).message, seq }, 'ignoring a message that is not a change');
      return;
    }
    if (incoming.epoch !== reader.epoch) {
      if (!warnedEpoch)
        logger.warn({ seq, epoch: incoming.epoch, ours: reader.epoch }, 'ignoring changes of another log');
      warnedEpoch = true;
      return;
    }
    const cursor = BigInt(incoming.cursor);
    if (cursor <= queued) return;
    // Whatever came between what this gateway has and this message's predecessor is read from the log.
    if (BigInt(incoming.prev) > queued) void sink.catchUp(incoming.prev).catch(() => undefined);
    if (incoming.change === null) void sink.catchUp(incoming.cursor).catch(() => undefined);
    else {
      const change = incoming.change;
      sink.enqueue(() => [change]);
    }
    queued = cursor;
  };

  /** Consumes from `nextSeq` until closed, recreating the consumer whenever it ends. */
  const consume = async (sink: LiveSink): Promise<void> => {
    for (let failures = 0; !closed;) {
      try {
        const info = await nats.jsm.streams.info(stream);
        // A stream recreated since (its sequences start over) or trimmed below where we were.
        if (info.state.last_seq + 1 < nextSeq) {
          logger.warn(
            { stream, nextSeq, lastSeq: info.state.last_seq },
            'the stream was reset; consuming it from its start',
          );
          nextSeq = info.state.first_seq;
        }
        if (nextSeq < info.state.first_seq) nextSeq = info.state.first_seq;
        const consumer = await nats.js.consumers.get(stream, {
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: Math.max(1, nextSeq),
        });
        // Pull requests of 5 s (heartbeats every 2.5 s): after a NATS restart, which loses the ordered
        // consumer, the client notices within seconds and recreates it at the next sequence.
        messages = await consumer.consume({ max_messages: 1000, expires: PULL_EXPIRES_MS });
        const current = messages;
        // close() may have run while the consumer was being created: it found nothing to stop.
        // (Not awaited: closing an ordered consumer that has not settled yet can wait for ever; the
        // connection, closed next, ends it anyway.)
        if (closed) {
          void current.close().catch(() => undefined);
          return;
        }
        void (async () => {
          for await (const status of current.status()) {
            if (status.type === 'heartbeats_missed') sink.setLive(false);
          }
        })().catch(() => undefined);
        sink.setLive(true);
        failures = 0;
        for await (const message of current) {
          sink.setLive(true);
          handle(sink, message.seq, message.headers, message.data);
        }
      } catch (error) {
        if (closed) return;
        failures += 1;
        sink.setLive(false);
        logger.warn({ err: (error as Error).message, failures }, 'JetStream consumer failed; starting a new one');
      }
      if (closed) return;
      sink.setLive(false);
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** failures, 5000)));
    }
  };

  return {
    async start(sink) {
      await ensureStream(nats);
      const info = await nats.jsm.streams.info(stream);
      nextSeq = info.state.last_seq + 1;
      // Read after the stream's state: every change in the stream up to last_seq is at or below it.
      const position = await sink.newest();
      queued = BigInt(position);
      // Without the server nothing arrives: not live until the connection is back (the consumer
      // then resumes at the next sequence; the next message sets the feed live).
      void (async () => {
        for await (const status of nats.connection.status()) {
          if (status.type === 'disconnect') sink.setLive(false);
        }
      })().catch(() => undefined);
      running = consume(sink);
      return position;
    },
    poke: () => options.onPoke?.(),
    async close() {
      closed = true;
      // Bounded: an ordered consumer that has not settled can take for ever to close, and the
      // connection, closed after the feed, ends it anyway.
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
      await Promise.race([
        (async () => {
          await messages?.close().catch(() => undefined);
          await running;
        })(),
        bound,
      ]);
      clearTimeout(timer);
    },
  };
}
