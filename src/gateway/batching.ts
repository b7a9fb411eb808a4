// Batching of a turn's frames per socket (see TurnBatcher), for the `ws` adapter (ws.ts).
import type { WebSocket } from 'ws';

/** Bytes a corked socket gathers before they are written without waiting for the end of the turn. */
export const CORK_FLUSH_BYTES = 64 * 1024;

/** The part of the TCP socket under a `ws` connection that batching needs. */
export interface RawSocket {
  cork(): void;
  uncork(): void;
  readonly writableCorked: number;
  readonly writableLength: number;
}

/**
 * Frames sent in one turn of the event loop leave each socket in one write. `ws` writes every
 * frame at once (a writev per frame per socket, which dominated the fan-out's profile); a change
 * handed to a thousand subscribers, or a burst of changes read in one go, would cost a system call
 * per frame. Each socket written to is corked at its first frame of the turn and uncorked after the
 * turn's I/O callbacks (setImmediate), so what one turn sends to it goes out together. Past
 * CORK_FLUSH_BYTES it is written at once: batching never holds much, and never delays a big frame.
 */
export class TurnBatcher {
  private corked: RawSocket[] = [];

  private readonly flush = (): void => {
    const sockets = this.corked;
    this.corked = [];
    for (const raw of sockets) raw.uncork();
  };

  /** Called before a frame is written to `raw`. */
  before(raw: RawSocket): void {
    if (raw.writableCorked > 0) return;
    raw.cork();
    if (this.corked.push(raw) === 1) setImmediate(this.flush);
  }

  /** Called after a frame is written to `raw`. */
  after(raw: RawSocket): void {
    if (raw.writableLength < CORK_FLUSH_BYTES || raw.writableCorked !== 1) return;
    // Write what is gathered now and keep batching: the socket stays on this turn's list.
    raw.uncork();
    raw.cork();
  }
}

/** `ws` keeps the TCP socket on `_socket`; without it (or with another transport) frames go out unbatched. */
export function rawSocketOf(ws: WebSocket): RawSocket | null {
  const raw = (ws as unknown as { _socket?: Partial<RawSocket> })._socket;
  return raw !== undefined && typeof raw.cork === 'function' && typeof raw.writableCorked === 'number'
    ? (raw as RawSocket)
    : null;
}
