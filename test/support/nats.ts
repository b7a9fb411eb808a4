// The NATS server the NATS-mode suites run against (the machine's nats-server with JetStream;
// .ci/run starts it when it is down), streams of their own per test, and restarting the server.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import { promisify } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { decodeChange, type IncomingChange } from '../../src/nats/messages.ts';

const run = promisify(execFile);

export const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const NATS_SERVER = '/usr/sbin/nats-server';
/** How the machine's server is started (the same as in .ci/run). */
const START = [
  '--start',
  '--oknodo',
  '--background',
  '--exec',
  NATS_SERVER,
  '--',
  '-a',
  '127.0.0.1',
  '-p',
  '4222',
  '-js',
  '-sd',
  '/var/lib/nats-server',
  '-l',
  '/var/log/nats-server.log',
];

function port(): { host: string; port: number } {
  const url = new URL(NATS_URL);
  return { host: url.hostname, port: Number(url.port || 4222) };
}

/** True when something answers on the NATS port. */
export function natsAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port());
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Fails loudly when NATS with JetStream is not there: the suite must not pass by skipping. */
export async function requireNats(): Promise<void> {
  if (!(await natsAnswers())) {
    throw new Error(`NATS does not answer at ${NATS_URL}: start nats-server with JetStream (see .ci/run)`);
  }
  const nc = await connect({ servers: NATS_URL });
  try {
    await jetstreamManager(nc);
  } catch (error) {
    throw new Error(`NATS at ${NATS_URL} has no JetStream (-js): ${(error as Error).message}`);
  } finally {
    await nc.close();
  }
}

/** Environment for a gateway in NATS mode on a stream and subjects no other test uses. */
export function natsEnv(): { env: Record<string, string>; stream: string } {
  const id = crypto.randomBytes(5).toString('hex');
  const stream = `TEST_${id}`;
  return {
    stream,
    env: {
      NATS_URL,
      SOLSTREAM_NATS_STREAM: stream,
      SOLSTREAM_NATS_SUBJECT_PREFIX: `test_${id}`,
      SOLSTREAM_RELAY_RETRY_MS: '100',
      SOLSTREAM_RELAY_POLL_MS: '200',
    },
  };
}

/** Waits until `probe` answers true, checking after each `stepMs`; throws after `attempts`. */
export async function eventually(probe: () => Promise<boolean>, what: string, attempts = 300, stepMs = 100) {
  for (let i = 0; i < attempts; i++) {
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
  throw new Error(`gave up waiting: ${what}`);
}

/** Starts the machine's nats-server if it is not running, and waits until it answers. */
export async function ensureNatsRunning(): Promise<void> {
  if (await natsAnswers()) return;
  await run('start-stop-daemon', START);
  await eventually(natsAnswers, 'nats-server to answer after starting it');
}

/** Stops the machine's nats-server (the process running /usr/sbin/nats-server) and waits until it is gone. */
export async function stopNats(): Promise<void> {
  await run('start-stop-daemon', ['--stop', '--oknodo', '--retry', '10', '--exec', NATS_SERVER]);
  await eventually(async () => !(await natsAnswers()), 'nats-server to stop');
}

/** Every change message in `stream`, in stream order. */
export async function readStream(stream: string): Promise<(IncomingChange & { seq: number })[]> {
  const nc: NatsConnection = await connect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const total = info.state.messages;
    const out: (IncomingChange & { seq: number })[] = [];
    if (total === 0) return out;
    const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume();
    for await (const message of messages) {
      out.push({ ...decodeChange(message.headers, message.data), seq: message.seq });
      if (message.seq >= info.state.last_seq) break;
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** Deletes a test's stream. */
export async function deleteStream(stream: string): Promise<void> {
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => undefined);
  } finally {
    await nc.close();
  }
}
