// Read-only REST: `GET /api/{topic}?{column}={value}&limit=N` (the websocket snapshot, over HTTP)
// and the seed's escrow routes. Query values are validated exactly like websocket filters.
import type { ChangeFeed } from '../capture/types.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/connection.ts';
import { findByPubkey, findEscrowsByParty, MAX_PAGE_SIZE } from '../db/repositories/index.ts';
import { ESCROW_STATES, isTopic, type EscrowState } from '../db/schema.ts';
import { compileFilter, FilterError, isPubkey } from '../gateway/filters.ts';
import { takeSnapshot } from '../gateway/snapshot.ts';

export interface JsonResponse {
  readonly status: number;
  readonly body: unknown;
}

export interface RestContext {
  readonly db: Database;
  readonly feed: ChangeFeed;
  readonly limits: Config['ws'];
  /** Topics the caller may read ('*' for all). */
  readonly topics: readonly string[] | '*';
}

export function errorResponse(status: number, code: string, message: string): JsonResponse {
  return { status, body: { error: { code, message } } };
}

const RANGE_SUFFIX = /^(.+)\.(gt|gte|lt|lte|in)$/;

function readLimit(value: string | null, fallback: number, max: number): number | JsonResponse {
  if (value === null) return fallback;
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    return errorResponse(400, 'invalid_limit', `limit must be a whole number between 1 and ${max}`);
  }
  return Number(value);
}

/**
 * `GET /api/{topic}`: `col=v` equality, `col.in=a,b`, `col.gte=…` (and gt, lt, lte) on numeric
 * columns, `limit`. Answers `{topic, cursor, rows, truncated}`; `cursor` can seed a websocket resume.
 */
export async function listTopic(context: RestContext, topic: string, query: URLSearchParams): Promise<JsonResponse> {
  if (!isTopic(topic)) return errorResponse(404, 'unknown_topic', `unknown topic "${topic.slice(0, 64)}"`);
  if (context.topics !== '*' && !context.topics.includes(topic)) {
    return errorResponse(403, 'forbidden_topic', `this API key may not read ${topic}`);
  }
  const filter: Record<string, unknown> = {};
  let limitParam: string | null = null;
  for (const [name, value] of query) {
    if (name === 'limit') {
      limitParam = value;
      continue;
    }
    if (name === 'api_key') continue;
    const range = RANGE_SUFFIX.exec(name);
    const column = range?.[1] ?? name;
    const existing = filter[column];
    if (range === null) {
      if (existing !== undefined) return errorResponse(400, 'invalid_filter', `"${column}" is given more than once`);
      filter[column] = value === 'null' ? null : value;
    } else {
      const op = range[2] as string;
      const condition = typeof existing === 'object' && existing !== null ? (existing as Record<string, unknown>) : {};
      if (existing !== undefined && (typeof existing !== 'object' || existing === null)) {
        return errorResponse(400, 'invalid_filter', `"${column}" has both a value and a condition`);
      }
      condition[op] = op === 'in' ? value.split(',') : value;
      filter[column] = condition;
    }
  }
  const limit = readLimit(limitParam, context.limits.snapshotDefaultLimit, context.limits.snapshotMaxLimit);
  if (typeof limit !== 'number') return limit;
  try {
    const compiled = compileFilter(topic, filter, { coerceStrings: true });
    const snapshot = await takeSnapshot(context.feed, context.db.dialect, {
      topic,
      filter: compiled,
      limit,
      refuseTruncation: false,
    });
    return {
      status: 200,
      body: { topic, cursor: snapshot.cursor, rows: snapshot.rows, truncated: snapshot.truncated },
    };
  } catch (error) {
    if (error instanceof FilterError) return errorResponse(400, 'invalid_filter', error.message);
    throw error;
  }
}

/** `GET /escrows/{pubkey}`: the escrow, or 404. */
export async function getEscrow(context: RestContext, pubkey: string): Promise<JsonResponse> {
  if (context.topics !== '*' && !context.topics.includes('escrows')) {
    return errorResponse(403, 'forbidden_topic', 'this API key may not read escrows');
  }
  if (!isPubkey(pubkey)) return errorResponse(400, 'invalid_pubkey', 'the escrow address must be a base58 public key');
  const escrow = await findByPubkey(context.db, 'escrows', pubkey);
  if (escrow === null) return errorResponse(404, 'not_found', 'Escrow not found');
  return { status: 200, body: escrow };
}

function readPositiveInt(query: URLSearchParams, name: string, fallback: number, max: number): number | JsonResponse {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    return errorResponse(400, `invalid_${name}`, `${name} must be a whole number between 1 and ${max}`);
  }
  return Number(raw);
}

/** `GET /escrows/maker/{address}?state=&page=&page_size=`: newest first, as the seed API pages them. */
export async function getMakerEscrows(
  context: RestContext,
  address: string,
  query: URLSearchParams,
): Promise<JsonResponse> {
  if (context.topics !== '*' && !context.topics.includes('escrows')) {
    return errorResponse(403, 'forbidden_topic', 'this API key may not read escrows');
  }
  if (!isPubkey(address)) return errorResponse(400, 'invalid_pubkey', 'the maker address must be a base58 public key');
  const state = query.get('state');
  if (state !== null && state !== '' && !(ESCROW_STATES as readonly string[]).includes(state)) {
    return errorResponse(400, 'invalid_state', `state must be one of ${ESCROW_STATES.join(', ')}`);
  }
  const page = readPositiveInt(query, 'page', 1, 1_000_000);
  if (typeof page !== 'number') return page;
  const pageSize = readPositiveInt(query, 'page_size', 20, MAX_PAGE_SIZE);
  if (typeof pageSize !== 'number') return pageSize;
  const escrows = await findEscrowsByParty(
    context.db,
    { maker: address },
    { page, pageSize, ...(state !== null && state !== '' ? { state: state as EscrowState } : {}) },
  );
  return { status: 200, body: { escrows, page, page_size: pageSize } };
}
