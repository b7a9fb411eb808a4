// `solstream tail TOPIC`: prints a topic's snapshot, then its live changes, through the TypeScript
// client (so it reconnects and resumes like any other client). NDJSON when stdout is not a
// terminal, an aligned table when it is.
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { createClient, SolstreamError, type Filter as ClientFilter } from '../../clients/typescript/src/index.ts';
import type { Config } from '../config.ts';
import { isTopic, TOPICS, type Topic } from '../db/schema.ts';
import { isCursor } from '../wire/cursor.ts';
import { COMMITMENTS, type Commitment } from '../wire/protocol.ts';
import { parseFilters, UsageError } from './tail/filters.ts';
import { ndjson, table, type Formatter, type TailRecord } from './tail/format.ts';

export const TAIL_USAGE = `usage: solstream tail TOPIC [options]

  --filter COLUMN=VALUE   keep rows where COLUMN equals VALUE; repeatable (AND).
                          COLUMN=a,b matches any of a and b; COLUMN>=N, >, <=, < on numeric columns;
                          COLUMN=null for empty values
  --since CURSOR          resume after CURSOR instead of taking a snapshot
  --limit N               snapshot size (the latest N rows of append-only topics)
  --no-snapshot           live changes only
  --commitment LEVEL      confirmed (default), finalized (changes once their slot is final), or
                          processed (speculative changes ahead of the database, rolled back when
                          their slot dies)
  --format ndjson|table   default: table on a terminal, ndjson otherwise
  --url URL               gateway websocket URL (default ws://HOST:PORT/ws from the configuration)
  --api-key KEY           API key, when the gateway requires one

topics: ${TOPICS.join(', ')}`;

interface TailOptions {
  readonly topic: Topic;
  readonly filter: ClientFilter<Topic>;
  readonly since?: string;
  readonly limit?: number;
  readonly snapshot: boolean;
  readonly commitment?: Commitment;
  readonly format: 'ndjson' | 'table';
  readonly url: string;
  readonly apiKey?: string;
}

function defaultUrl(config: Config): string {
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return `ws://${host.includes(':') ? `[${host}]` : host}:${config.port}/ws`;
}

export function parseTailArgs(argv: string[], config: Config, isTty: boolean): TailOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        filter: { type: 'string', multiple: true, short: 'f' },
        since: { type: 'string' },
        limit: { type: 'string' },
        'no-snapshot': { type: 'boolean' },
        commitment: { type: 'string' },
        format: { type: 'string' },
        url: { type: 'string' },
        'api-key': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) throw new UsageError('');
  if (positionals.length !== 1) throw new UsageError('expected exactly one TOPIC');
  const topic = positionals[0] as string;
  if (!isTopic(topic)) throw new UsageError(`unknown topic "${topic}" (topics: ${TOPICS.join(', ')})`);
  const format = values.format ?? (isTty ? 'table' : 'ndjson');
  if (format !== 'ndjson' && format !== 'table')
    throw new UsageError(`--format must be ndjson or table, got "${format}"`);
  if (values.since !== undefined && !isCursor(values.since)) {
    throw new UsageError(`--since must be a cursor as printed by tail (digits), got "${values.since}"`);
  }
  let limit: number | undefined;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!/^[1-9][0-9]*$/.test(values.limit) || !Number.isSafeInteger(limit)) {
      throw new UsageError(`--limit must be a positive whole number, got "${values.limit}"`);
    }
  }
  const commitment = values.commitment;
  if (commitment !== undefined && !(COMMITMENTS as readonly string[]).includes(commitment)) {
    throw new UsageError(`--commitment must be processed, confirmed or finalized, got "${commitment}"`);
  }
  let url = values.url ?? defaultUrl(config);
  if (!/^wss?:\/\//.test(url)) {
    if (/^https?:\/\//.test(url)) url = url.replace(/^http/, 'ws');
    else throw new UsageError(`--url must start with ws:// or wss://, got "${url}"`);
  }
  return {
    topic,
    filter: parseFilters(topic, values.filter ?? []) as ClientFilter<Topic>,
    ...(values.since !== undefined ? { since: values.since } : {}),
    ...(limit !== undefined ? { limit } : {}),
    snapshot: values['no-snapshot'] !== true,
    ...(commitment !== undefined ? { commitment: commitment as Commitment } : {}),
    format,
    url,
    ...(values['api-key'] !== undefined ? { apiKey: values['api-key'] } : {}),
  };
}

export async function run(argv: string[], config: Config): Promise<number> {
  let options: TailOptions;
  try {
    options = parseTailArgs(argv, config, process.stdout.isTTY === true);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message !== '') process.stderr.write(`solstream tail: ${error.message}\n\n`);
    process.stderr.write(`${TAIL_USAGE}\n`);
    return error.message === '' ? 0 : 2;
  }
  const formatter: Formatter = options.format === 'table' ? table(options.topic) : ndjson;
  const client = createClient({
    url: options.url,
    WebSocket,
    ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
  });
  const print = (record: TailRecord) => {
    const lines = formatter.format(record);
    if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  };

  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.stdout.off('error', onStdoutError);
      void client.close().then(() => resolve(code));
    };
    const onSignal = () => finish(0);
    // The reader went away (`| head`): stop quietly.
    const onStdoutError = (error: NodeJS.ErrnoException) => finish(error.code === 'EPIPE' ? 0 : 1);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.stdout.on('error', onStdoutError);

    let wasConnected = false;
    client.stateChanges$.subscribe((change) => {
      if (change.newState === 'connected') {
        if (wasConnected) process.stderr.write(`solstream tail: reconnected to ${options.url}\n`);
        wasConnected = true;
      } else if (change.newState === 'connecting' && change.attempt !== undefined) {
        process.stderr.write(
          `solstream tail: connection lost (${change.code ?? '?'}${change.reason ? ` ${change.reason}` : ''}); ` +
            `retrying in ${change.delayMs ?? 0} ms (attempt ${change.attempt})\n`,
        );
      }
    });

    const snapshot = options.limit !== undefined ? { limit: options.limit } : options.snapshot;
    client
      .subscribe(options.topic, {
        filter: options.filter,
        snapshot: options.snapshot ? snapshot : false,
        ...(options.since !== undefined ? { since: options.since } : {}),
        ...(options.commitment !== undefined ? { commitment: options.commitment } : {}),
      })
      .subscribe({
        next: (event) => {
          switch (event.type) {
            case 'snapshot':
              for (const row of event.rows) print({ type: 'snapshot', topic: event.topic, row, cursor: event.cursor });
              return;
            case 'change':
              print({
                type: 'change',
                topic: event.topic,
                op: event.op,
                row: event.row,
                cursor: event.cursor,
                slot: event.slot,
                commitment: event.commitment,
              });
              return;
            case 'speculative':
              print({
                type: 'change',
                topic: event.topic,
                op: event.op,
                row: event.row,
                cursor: null,
                slot: event.slot,
                commitment: event.commitment,
              });
              return;
            case 'slot':
              print({ type: 'slot', topic: event.topic, slot: event.slot, commitment: event.commitment });
              return;
            case 'retract':
              print({ type: 'retract', topic: event.topic, slot: event.slot, changes: event.changes });
              return;
            case 'reset':
              print({ type: 'reset', topic: event.topic, reason: event.reason });
              process.stderr.write(`solstream tail: ${event.reason}: changes were missed; taking a new snapshot\n`);
              return;
            case 'subscribed':
              return;
          }
        },
        error: (error: unknown) => {
          const message = error instanceof SolstreamError ? `${error.code}: ${error.message}` : String(error);
          process.stderr.write(`solstream tail: ${message}\n`);
          finish(1);
        },
        complete: () => finish(0),
      });
  });
}
