// The little of the WebSocket API the client uses: the browser's global WebSocket and the `ws`
// package (Node) both provide it through their `on…` handler properties.

/** Any WebSocket class: `globalThis.WebSocket` in browsers, `ws`'s default export in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => object;

export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { readonly data: unknown }) => void) | null;
  onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export const OPEN = 1;
export const CLOSED = 3;

/**
 * The WebSocket class to use: the one passed in, else the global one (browsers, Node ≥ 22), else the
 * `ws` package loaded on demand (Node 20). The import's specifier is a variable so that browser
 * bundles do not try to include `ws`.
 */
export async function resolveWebSocket(given: WebSocketConstructor | undefined): Promise<WebSocketConstructor | null> {
  if (given !== undefined) return given;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global !== undefined) return global;
  const specifier = 'ws';
  try {
    const module = (await import(/* @vite-ignore */ specifier)) as {
      default?: WebSocketConstructor;
      WebSocket?: WebSocketConstructor;
    };
    return module.WebSocket ?? module.default ?? null;
  } catch {
    return null;
  }
}

/** A text frame's payload as a string (ws hands text frames over as strings; be lenient anyway). */
export function frameText(data: unknown): string | null {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
  if (ArrayBuffer.isView(data)) return new TextDecoder().decode(data);
  return null;
}
