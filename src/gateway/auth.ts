// Who may connect: API keys (from the Authorization header, a websocket subprotocol entry or the
// query string) and, for browsers, an Origin allow-list.
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ApiKey } from '../config.ts';
import { KEY_SUBPROTOCOL_PREFIX } from '../wire/protocol.ts';
import type { Principal } from './types.ts';

/** The key a request presents, from the first place that has one, or null. */
export function presentedKey(request: IncomingMessage): string | null {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match?.[1] !== undefined) return match[1];
  }
  const protocols = request.headers['sec-websocket-protocol'];
  if (protocols !== undefined) {
    for (const entry of protocols.split(',')) {
      const protocol = entry.trim();
      if (protocol.startsWith(KEY_SUBPROTOCOL_PREFIX)) return protocol.slice(KEY_SUBPROTOCOL_PREFIX.length);
    }
  }
  const query = new URL(request.url ?? '/', 'http://localhost').searchParams.get('api_key');
  return query === null || query === '' ? null : query;
}

const digest = (text: string): Buffer => crypto.createHash('sha256').update(text).digest();

/** Whoever connects to an open gateway: one object shared by every connection. */
const EVERYONE: Principal = Object.freeze({ key: null, topics: '*' });

/**
 * The principal for a request: everyone on an open gateway (no keys configured), the matching key's
 * topics otherwise, or null for a missing or unknown key. Keys are compared in constant time.
 */
export function authenticate(request: IncomingMessage, apiKeys: readonly ApiKey[]): Principal | null {
  if (apiKeys.length === 0) return EVERYONE;
  const presented = presentedKey(request);
  if (presented === null) return null;
  const presentedDigest = digest(presented);
  let found: ApiKey | null = null;
  for (const apiKey of apiKeys) {
    if (crypto.timingSafeEqual(digest(apiKey.key), presentedDigest)) found = apiKey;
  }
  // Logs and metrics name a key by a short fingerprint, never by the key itself.
  return found === null ? null : { key: presentedDigest.toString('hex').slice(0, 8), topics: found.topics };
}

/** Browsers send Origin; other clients usually do not and are not restricted by it. */
export function originAllowed(request: IncomingMessage, allowedOrigins: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (allowedOrigins.length === 0 || origin === undefined) return true;
  return allowedOrigins.includes(origin);
}
