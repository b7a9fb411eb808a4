// The Yellowstone `geyser.Geyser` service for @grpc/grpc-js, built from the message codecs that the
// official client package generates from geyser.proto (`dist/*/grpc/geyser.js`). They are loaded
// from the package's own directory: its exports map only names the client entry point, which also
// loads a native binding the server does not need (and that not every platform has).
import { createRequire } from 'node:module';
import path from 'node:path';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import type * as Yellowstone from '@triton-one/yellowstone-grpc';

export type {
  GetBlockHeightRequest,
  GetBlockHeightResponse,
  GetLatestBlockhashRequest,
  GetLatestBlockhashResponse,
  GetSlotRequest,
  GetSlotResponse,
  GetVersionRequest,
  GetVersionResponse,
  IsBlockhashValidRequest,
  IsBlockhashValidResponse,
  PingRequest,
  PongResponse,
  SubscribeReplayInfoRequest,
  SubscribeReplayInfoResponse,
  SubscribeRequestFilterAccounts,
  SubscribeRequestFilterAccountsFilter,
  SubscribeRequestFilterBlocks,
  SubscribeRequestFilterTransactions,
  SubscribeUpdateAccountInfo,
  SubscribeUpdateBlockMeta,
  SubscribeUpdateEntry,
  SubscribeUpdateTransactionInfo,
} from '@triton-one/yellowstone-grpc';

type Codecs = Pick<
  typeof Yellowstone,
  | 'CommitmentLevel'
  | 'SlotStatus'
  | 'SubscribeRequest'
  | 'SubscribeUpdate'
  | 'SubscribeDeshredRequest'
  | 'SubscribeUpdateDeshred'
  | 'SubscribeReplayInfoRequest'
  | 'SubscribeReplayInfoResponse'
  | 'PingRequest'
  | 'PongResponse'
  | 'GetLatestBlockhashRequest'
  | 'GetLatestBlockhashResponse'
  | 'GetBlockHeightRequest'
  | 'GetBlockHeightResponse'
  | 'GetSlotRequest'
  | 'GetSlotResponse'
  | 'IsBlockhashValidRequest'
  | 'IsBlockhashValidResponse'
  | 'GetVersionRequest'
  | 'GetVersionResponse'
>;

const require = createRequire(import.meta.url);
const clientEntry = require.resolve('@triton-one/yellowstone-grpc');
const codecs = require(path.join(path.dirname(clientEntry), 'grpc', 'geyser.js')) as Codecs;

/** The version of the client package whose generated codecs (and so whose geyser.proto) are served. */
export const CODECS_VERSION = (
  require(path.join(path.dirname(clientEntry), '..', '..', 'package.json')) as { version: string }
).version;

export const { CommitmentLevel, SlotStatus, SubscribeRequest, SubscribeUpdate } = codecs;
// Value and type of the same name, as the generated module exports them.
export type CommitmentLevel = Yellowstone.CommitmentLevel;
export type SlotStatus = Yellowstone.SlotStatus;
export type SubscribeRequest = Yellowstone.SubscribeRequest;
export type SubscribeUpdate = Yellowstone.SubscribeUpdate;

interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

function method<Req, Res>(
  name: string,
  request: MessageCodec<Req>,
  response: MessageCodec<Res>,
  streams: { requestStream: boolean; responseStream: boolean },
): MethodDefinition<Req, Res> {
  return {
    path: `/geyser.Geyser/${name}`,
    ...streams,
    requestSerialize: (value: Req) => Buffer.from(request.encode(value).finish()),
    requestDeserialize: (bytes: Buffer) => request.decode(bytes),
    responseSerialize: (value: Res) => Buffer.from(response.encode(value).finish()),
    responseDeserialize: (bytes: Buffer) => response.decode(bytes),
  };
}

const unary = { requestStream: false, responseStream: false };
const bidi = { requestStream: true, responseStream: true };

/** Every method of `service Geyser`, as geyser.proto declares them. */
export const GEYSER_SERVICE = {
  Subscribe: method('Subscribe', codecs.SubscribeRequest, codecs.SubscribeUpdate, bidi),
  SubscribeDeshred: method('SubscribeDeshred', codecs.SubscribeDeshredRequest, codecs.SubscribeUpdateDeshred, bidi),
  SubscribeReplayInfo: method(
    'SubscribeReplayInfo',
    codecs.SubscribeReplayInfoRequest,
    codecs.SubscribeReplayInfoResponse,
    unary,
  ),
  Ping: method('Ping', codecs.PingRequest, codecs.PongResponse, unary),
  GetLatestBlockhash: method(
    'GetLatestBlockhash',
    codecs.GetLatestBlockhashRequest,
    codecs.GetLatestBlockhashResponse,
    unary,
  ),
  GetBlockHeight: method('GetBlockHeight', codecs.GetBlockHeightRequest, codecs.GetBlockHeightResponse, unary),
  GetSlot: method('GetSlot', codecs.GetSlotRequest, codecs.GetSlotResponse, unary),
  IsBlockhashValid: method('IsBlockhashValid', codecs.IsBlockhashValidRequest, codecs.IsBlockhashValidResponse, unary),
  GetVersion: method('GetVersion', codecs.GetVersionRequest, codecs.GetVersionResponse, unary),
} satisfies ServiceDefinition;
