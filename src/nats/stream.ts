// The JetStream side of NATS mode: the connection, and the stream that holds one database's
// changes (a subject per topic, `<prefix>.<topic>`), created or brought in line with the
// configuration by whichever process gets there first.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { NatsConfig } from '../config.ts';
import type { Topic } from '../db/schema.ts';
import type { Logger } from '../log.ts';

export interface Nats {
  readonly connection: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly config: NatsConfig;
  /** The largest message the server accepts (its max_payload), for the cursor-only fallback. */
  readonly maxPayload: number;
  close(): Promise<void>;
}

const NANOS_PER_SECOND = 1_000_000_000;

export function subjectOf(config: Pick<NatsConfig, 'subjectPrefix'>, topic: Topic): string {
  return `${config.subjectPrefix}.${topic}`;
}

export function streamConfig(config: NatsConfig): Partial<StreamConfig> & { name: string } {
  return {
    name: config.stream,
    subjects: [`${config.subjectPrefix}.>`],
    retention: RetentionPolicy.Limits,
    // Files, not memory: the stream is the relay's resume point and the gateways' history, and
    // must survive a NATS restart.
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: config.maxAgeSeconds * NANOS_PER_SECOND,
    max_bytes: config.maxBytes,
    max_msgs: config.maxMessages,
    duplicate_window: config.duplicateWindowSeconds * NANOS_PER_SECOND,
    num_replicas: config.replicas,
  };
}

/** Connects to NATS (reconnecting for ever once connected) and checks JetStream is there. */
export async function connectNats(config: NatsConfig, logger: Logger): Promise<Nats> {
  let connection: NatsConnection;
  try {
    connection = await connect({
      servers: [...config.servers],
      name: `solstream ${process.pid}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 10_000,
    });
  } catch (error) {
    throw new Error(`cannot connect to NATS at ${config.servers.join(', ')}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const watching = (async () => {
    for await (const status of connection.status()) {
      if (status.type === 'disconnect') logger.warn({ server: status.server }, 'NATS connection lost; reconnecting');
      else if (status.type === 'reconnect') logger.info({ server: status.server }, 'NATS connection restored');
    }
  })().catch(() => undefined);
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(connection);
  } catch (error) {
    await connection.close().catch(() => undefined);
    throw new Error(
      `NATS at ${config.servers.join(', ')} has no JetStream (start nats-server with -js): ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const maxPayload = connection.info?.max_payload ?? 1024 * 1024;
  if (config.maxPayloadBytes > maxPayload) {
    logger.warn(
      { configured: config.maxPayloadBytes, server: maxPayload },
      'SOLSTREAM_NATS_MAX_PAYLOAD_BYTES is above the server max_payload; using the server limit',
    );
  }
  return {
    connection,
    js: jetstream(connection),
    jsm,
    config,
    maxPayload: Math.min(maxPayload, config.maxPayloadBytes),
    close: async () => {
      await connection.drain().catch(() => connection.close());
      await watching;
    },
  };
}

/** Creates the stream, or updates it when the configuration changed (retention, limits). */
export async function ensureStream(nats: Nats): Promise<void> {
  const wanted = streamConfig(nats.config);
  try {
    const info = await nats.jsm.streams.info(wanted.name);
    const current = info.config;
    const differs = (Object.keys(wanted) as (keyof typeof wanted)[]).some(
      (key) => JSON.stringify(current[key]) !== JSON.stringify(wanted[key]),
    );
    if (differs) await nats.jsm.streams.update(wanted.name, { ...current, ...wanted });
  } catch (error) {
    if (!/stream not found/i.test((error as Error).message)) throw error;
    try {
      await nats.jsm.streams.add(wanted);
    } catch (added) {
      // Another process created it in the meantime.
      if (!/already in use/i.test((added as Error).message)) throw added;
    }
  }
}
