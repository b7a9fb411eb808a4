// Errors the client hands to its consumers: the server's stable error codes, plus the few the
// client itself decides (the server refused the key, the client was closed).
import { ErrorCode } from '../../../src/wire/index.ts';

/** Codes decided on the client side, beside the protocol's `ErrorCode`s. */
export enum ClientErrorCode {
  /** The server closed the connection with 4401: missing or unknown API key. Not retried. */
  Unauthorized = 'unauthorized',
  /** `close()` was called; nothing more will arrive. */
  ClientClosed = 'client_closed',
  /** No WebSocket implementation: pass `WebSocket` (in Node, the `ws` package's export). */
  NoWebSocket = 'no_websocket',
}

export type SolstreamErrorCode = ErrorCode | ClientErrorCode;

/** A failure with a stable `code` (see PROTOCOL.md for the server's codes). */
export class SolstreamError extends Error {
  constructor(
    readonly code: SolstreamErrorCode,
    message: string,
    /** The topic of the subscription the error ended, when it concerns one. */
    readonly topic?: string,
  ) {
    super(message);
    this.name = 'SolstreamError';
  }
}

export { ErrorCode };
