// One change as a JetStream message, and back. The body is the change in wire form (topic, op, row,
// old row, commit time, chain slot); the headers carry what a consumer needs before it reads the body:
//   Solstream-Cursor  the change-log offset of this change
//   Solstream-Prev    the offset of the change published just before it (everything in between
//                     was never in this stream: a consumer that has not seen it reads it from the log)
//   Solstream-Epoch   the epoch of the log it came from (src/capture/log-identity.ts)
//   Solstream-Ref     present on a change too large for a message: the body is empty and the
//                     consumer reads the change from the log by its cursor
//   Nats-Msg-Id       the wire cursor (epoch + offset), so a re-publish after a relay failover is
//                     dropped by the server's duplicate window
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import type { Change, ChangeOp } from '../capture/types.ts';
import { isTopic } from '../db/schema.ts';
import { formatCursor } from '../wire/cursor.ts';

export const HEADER = {
  cursor: 'Solstream-Cursor',
  prev: 'Solstream-Prev',
  epoch: 'Solstream-Epoch',
  ref: 'Solstream-Ref',
} as const;

/** Room kept for headers and protocol framing below the payload limit. */
const HEADER_ALLOWANCE = 512;

interface Body {
  readonly topic: string;
  readonly op: ChangeOp;
  readonly row: Readonly<Record<string, unknown>>;
  readonly oldRow?: Readonly<Record<string, unknown>>;
  readonly committedAt: number;
  readonly slot?: number | null;
}

export interface OutgoingMessage {
  readonly msgId: string;
  readonly headers: MsgHdrs;
  readonly data: Uint8Array;
  /** True when the change was too large and goes as a cursor-only reference. */
  readonly reference: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeChange(change: Change, prev: string, epoch: string, maxPayload: number): OutgoingMessage {
  const body: Body = {
    topic: change.topic,
    op: change.op,
    row: change.row,
    ...(change.oldRow !== undefined ? { oldRow: change.oldRow } : {}),
    committedAt: change.committedAt,
    slot: change.slot,
  };
  const encoded = encoder.encode(JSON.stringify(body));
  const reference = encoded.byteLength > maxPayload - HEADER_ALLOWANCE;
  const headers = natsHeaders();
  headers.set(HEADER.cursor, change.cursor);
  headers.set(HEADER.prev, prev);
  headers.set(HEADER.epoch, epoch);
  if (reference) headers.set(HEADER.ref, '1');
  return {
    msgId: formatCursor(epoch, change.cursor),
    headers,
    data: reference ? new Uint8Array() : encoded,
    reference,
  };
}

export interface IncomingChange {
  readonly cursor: string;
  readonly prev: string;
  readonly epoch: string;
  /** The change, or null for a reference to read from the log. */
  readonly change: Change | null;
}

const OFFSET = /^(0|[1-9][0-9]{0,18})$/;

/** Reads a message published by encodeChange; throws on anything else. */
export function decodeChange(headers: MsgHdrs | undefined, data: Uint8Array): IncomingChange {
  const cursor = headers?.get(HEADER.cursor) ?? '';
  const prev = headers?.get(HEADER.prev) ?? '';
  const epoch = headers?.get(HEADER.epoch) ?? '';
  if (!OFFSET.test(cursor) || !OFFSET.test(prev) || epoch === '') {
    throw new Error('not a solstream change message (missing or malformed Solstream-* headers)');
  }
  if (headers?.has(HEADER.ref) === true) return { cursor, prev, epoch, change: null };
  const body = JSON.parse(decoder.decode(data)) as Body;
  if (!isTopic(body.topic)) throw new Error(`a change message names an unknown topic "${String(body.topic)}"`);
  const change: Change = {
    cursor,
    topic: body.topic,
    op: body.op,
    row: body.row,
    committedAt: body.committedAt,
    slot: body.slot ?? null,
    ...(body.oldRow !== undefined ? { oldRow: body.oldRow } : {}),
  };
  return { cursor, prev, epoch, change };
}
