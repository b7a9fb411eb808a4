// Clients of the local Geyser endpoint for the tests: the official Yellowstone client (native
// transport), and @grpc/grpc-js with the same generated codecs for what the official client hides
// (status codes, raw metadata). Both give Node streams of SubscribeUpdate objects.
import * as grpc from '@grpc/grpc-js';
import * as yellowstone from '@triton-one/yellowstone-grpc';
import { utils } from '@coral-xyz/anchor';
import {
  GEYSER_SERVICE,
  SubscribeRequest,
  type SubscribeUpdate,
  type SubscribeRequest as Request,
} from '../../src/simulate/geyser/codecs.ts';
import { waitUntil } from './wait.ts';

const bs58 = utils.bytes.bs58;

/**
 * The official client class. Its typings describe the CommonJS build, where the class is the
 * module's `default` property; loaded as ESM, the default import is the class itself.
 */
export const YellowstoneClient = ((yellowstone as unknown as { default?: unknown }).default ??
  yellowstone) as unknown as typeof yellowstone.default.default;

type DeepPartial<T> = T extends Uint8Array
  ? T
  : T extends (infer U)[]
    ? DeepPartial<U>[]
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : T;

export type RequestParts = DeepPartial<Request>;

/** A full request from the parts a test names (the codec fills in empty maps and lists). */
export const subscribeRequest = (parts: RequestParts): Request =>
  (SubscribeRequest.fromPartial as (object: RequestParts) => Request)(parts);

export const base58 = (bytes: Uint8Array | undefined): string => bs58.encode(bytes ?? new Uint8Array());

/** The kind of update: account, transaction, slot, ping, pong, blockMeta, … */
export function kindOf(update: SubscribeUpdate): string {
  const kind = (Object.keys(update) as (keyof SubscribeUpdate)[]).find(
    (key) => key !== 'filters' && key !== 'createdAt' && update[key] !== undefined,
  );
  return kind ?? 'none';
}

/** Everything a stream delivered, and how it ended. */
export class UpdateLog {
  readonly updates: SubscribeUpdate[] = [];
  error: (Error & { code?: number; details?: string }) | null = null;

  constructor(stream: Pick<NodeJS.EventEmitter, 'on'>) {
    stream.on('data', (update: SubscribeUpdate) => this.updates.push(update));
    stream.on('error', (error: Error) => (this.error = error));
  }

  of(kind: string): SubscribeUpdate[] {
    return this.updates.filter((u) => kindOf(u) === kind);
  }

  /** Waits for the first update (from `from` on) that satisfies `test`, and returns its index. */
  async until(test: (update: SubscribeUpdate) => boolean, from = 0): Promise<number> {
    let found = -1;
    await waitUntil(() => {
      found = this.updates.findIndex((u, i) => i >= from && test(u));
      return found >= 0 || this.error !== null;
    });
    if (found < 0) throw new Error(`stream ended before the update came: ${this.error?.message ?? ''}`);
    return found;
  }

  async ended(): Promise<Error & { code?: number; details?: string }> {
    await waitUntil(() => this.error !== null);
    return this.error as Error;
  }

  /** How the stream ended, in words: the official client puts the server's status in `cause`. */
  async endReason(): Promise<string> {
    const error = await this.ended();
    const cause = (error as { cause?: unknown }).cause;
    return `${error.message} ${cause instanceof Error ? cause.message : String(cause ?? '')}`;
  }
}

export const slotStatus = (slot: number, status: number) => (u: SubscribeUpdate) =>
  u.slot?.slot === String(slot) && u.slot.status === status;

type Unary<Req, Res> = (request: Req, metadata?: grpc.Metadata) => Promise<Res>;

export interface RawGeyserClient {
  subscribe(metadata?: grpc.Metadata): grpc.ClientDuplexStream<Request, SubscribeUpdate>;
  ping: Unary<{ count: number }, { count: number }>;
  close(): void;
}

const GeyserClient = grpc.makeClientConstructor(GEYSER_SERVICE, 'geyser.Geyser');

/** A plain @grpc/grpc-js client of the Geyser service. */
export function rawGeyserClient(url: string): RawGeyserClient {
  const client = new GeyserClient(new URL(url).host, grpc.credentials.createInsecure());
  const unary =
    <Req, Res>(name: string): Unary<Req, Res> =>
    (request, metadata = new grpc.Metadata()) =>
      new Promise((resolve, reject) =>
        (client[name] as (r: Req, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, v: Res) => void) => void).call(
          client,
          request,
          metadata,
          (error, value) => (error === null ? resolve(value) : reject(error)),
        ),
      );
  return {
    subscribe: (metadata = new grpc.Metadata()) =>
      (client.Subscribe as (m: grpc.Metadata) => grpc.ClientDuplexStream<Request, SubscribeUpdate>).call(
        client,
        metadata,
      ),
    ping: unary('Ping'),
    close: () => client.close(),
  };
}
