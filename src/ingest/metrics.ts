// What the ingester reports to /metrics. The pipeline counts into plain maps on its hot path and
// prom-client reads them at scrape time (a labelled counter increment per update costs more than
// the update's own bookkeeping).
import client from 'prom-client';
import type { SkipReason } from '../programs/types.ts';

/** Why an update, or part of one, produced no row. Every one is an error-level log. */
export type IngestSkipReason = SkipReason | 'rejected' | 'incomplete';

export type IngestRole = 'ingesting' | 'standby' | 'stopped';
export type IngestPhase = 'starting' | 'catching_up' | 'live' | 'lagging';

export interface IngestMetrics {
  decoded(program: string, kind: 'account' | 'transaction', count?: number): void;
  written(table: string, rows: number): void;
  /** Values dropped because a newer one is stored: ordinary when live, backfill and catch-up overlap. */
  stale(count: number): void;
  skipped(program: string, reason: IngestSkipReason, count?: number): void;
  queued(depth: number): void;
  rpcRequest(method: string): void;
  rpcError(method: string): void;
  rpcRetry(method: string): void;
  sourceDropped(source: string): void;
  catchUp(): void;
  chainSlot(slot: number): void;
  /** The newest slot whose transactions of `program` are all written (its checkpoint). */
  checkpoint(program: string, slot: number, at: number): void;
  role(role: IngestRole): void;
  phase(phase: IngestPhase): void;
  /** The processed stream announced `rows` speculative rows of `table`. */
  processedAnnounced(table: string, rows: number): void;
  /** A slot the processed stream announced changes from reached its fate. */
  processedFate(fate: 'confirmed' | 'finalized' | 'dead'): void;
  /** Processed updates not announced because the stream fell behind. */
  processedDropped(count: number): void;
}

export const noIngestMetrics: IngestMetrics = {
  decoded: () => undefined,
  written: () => undefined,
  stale: () => undefined,
  skipped: () => undefined,
  queued: () => undefined,
  rpcRequest: () => undefined,
  rpcError: () => undefined,
  rpcRetry: () => undefined,
  sourceDropped: () => undefined,
  catchUp: () => undefined,
  chainSlot: () => undefined,
  checkpoint: () => undefined,
  role: () => undefined,
  phase: () => undefined,
  processedAnnounced: () => undefined,
  processedFate: () => undefined,
  processedDropped: () => undefined,
};

/** A counter whose increments are tallied in a map and handed to prom-client when scraped. */
function tallied(registry: client.Registry, name: string, help: string, labelNames: readonly string[]) {
  const pending = new Map<string, { labels: Record<string, string>; value: number }>();
  new client.Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const { labels, value } of pending.values()) this.inc(labels, value);
      pending.clear();
    },
  });
  return (labels: Record<string, string>, value = 1) => {
    const key = labelNames.map((l) => labels[l] ?? '').join('\u0000');
    const entry = pending.get(key);
    if (entry === undefined) pending.set(key, { labels, value });
    else entry.value += value;
  };
}

const ROLES: readonly IngestRole[] = ['ingesting', 'standby', 'stopped'];
const PHASES: readonly IngestPhase[] = ['starting', 'catching_up', 'live', 'lagging'];

export function createIngestMetrics(registry: client.Registry): IngestMetrics {
  const decoded = tallied(
    registry,
    'solstream_ingest_updates_decoded_total',
    'Account updates and transactions decoded, by program and kind.',
    ['program', 'kind'],
  );
  const written = tallied(registry, 'solstream_ingest_rows_written_total', 'Rows written by the ingester, by table.', [
    'table',
  ]);
  const stale = tallied(
    registry,
    'solstream_ingest_stale_values_total',
    'State rows whose every value was older than the stored one (dropped; normal when live and backfilled data overlap).',
    [],
  );
  const skipped = tallied(
    registry,
    'solstream_ingest_skipped_total',
    'Updates, or rows of them, that produced nothing, by program and reason (rejected, incomplete, parent_unavailable, inconsistent, decode_error). Any increase means data the chain has is missing: alert on it.',
    ['program', 'reason'],
  );
  const requests = tallied(
    registry,
    'solstream_rpc_requests_total',
    'Solana RPC requests made, by method (each attempt).',
    ['method'],
  );
  const errors = tallied(registry, 'solstream_rpc_errors_total', 'Solana RPC requests that failed, by method.', [
    'method',
  ]);
  const retries = tallied(
    registry,
    'solstream_rpc_retries_total',
    'Solana RPC requests retried after a failure, by method.',
    ['method'],
  );
  const drops = tallied(
    registry,
    'solstream_ingest_source_drops_total',
    'Live sources that dropped (websocket closed, stream broken), by source.',
    ['source'],
  );
  const catchUps = tallied(
    registry,
    'solstream_ingest_catch_ups_total',
    'Catch-ups run: reading back what the chain did since the checkpoints.',
    [],
  );
  const announced = tallied(
    registry,
    'solstream_processed_rows_announced_total',
    'Speculative rows the processed stream announced to the gateways, by table.',
    ['table'],
  );
  const fates = tallied(
    registry,
    'solstream_processed_slot_fates_total',
    'Slots the processed stream announced changes from, by fate (confirmed, finalized, dead).',
    ['fate'],
  );
  const processedDropped = tallied(
    registry,
    'solstream_processed_dropped_total',
    'Processed updates not announced because the processed stream fell behind (they reach subscribers when confirmed).',
    [],
  );
  const queue = new client.Gauge({
    name: 'solstream_ingest_queue_depth',
    help: 'Live updates received and not yet written.',
    registers: [registry],
  });
  const chain = new client.Gauge({
    name: 'solstream_ingest_chain_slot',
    help: 'Newest slot seen from the chain.',
    registers: [registry],
  });
  const checkpoints = new Map<string, { slot: number; at: number }>();
  new client.Gauge({
    name: 'solstream_ingest_checkpoint_slot',
    help: 'Per program, the newest slot up to which every transaction is written.',
    labelNames: ['program'],
    registers: [registry],
    collect() {
      for (const [program, { slot }] of checkpoints) this.set({ program }, slot);
    },
  });
  new client.Gauge({
    name: 'solstream_ingest_checkpoint_age_seconds',
    help: 'Per program, seconds since its checkpoint last advanced.',
    labelNames: ['program'],
    registers: [registry],
    collect() {
      const now = Date.now();
      for (const [program, { at }] of checkpoints) this.set({ program }, (now - at) / 1000);
    },
  });
  const role = new client.Gauge({
    name: 'solstream_ingest_role',
    help: 'This process ingests (ingesting), waits for the ingest lock (standby), or does not ingest (stopped): 1 for the current role.',
    labelNames: ['role'],
    registers: [registry],
  });
  const phase = new client.Gauge({
    name: 'solstream_ingest_phase',
    help: 'Phase of this process’s ingester: 1 for the current one.',
    labelNames: ['phase'],
    registers: [registry],
  });
  for (const r of ROLES) role.set({ role: r }, r === 'stopped' ? 1 : 0);
  for (const p of PHASES) phase.set({ phase: p }, 0);
  return {
    decoded: (program, kind, count = 1) => decoded({ program, kind }, count),
    written: (table, rows) => written({ table }, rows),
    stale: (count) => stale({}, count),
    skipped: (program, reason, count = 1) => skipped({ program, reason }, count),
    queued: (depth) => queue.set(depth),
    rpcRequest: (method) => requests({ method }),
    rpcError: (method) => errors({ method }),
    rpcRetry: (method) => retries({ method }),
    sourceDropped: (source) => drops({ source }),
    catchUp: () => catchUps({}),
    chainSlot: (slot) => chain.set(slot),
    checkpoint: (program, slot, at) => checkpoints.set(program, { slot, at }),
    role: (current) => {
      for (const r of ROLES) role.set({ role: r }, r === current ? 1 : 0);
    },
    phase: (current) => {
      for (const p of PHASES) phase.set({ phase: p }, p === current ? 1 : 0);
    },
    processedAnnounced: (table, rows) => announced({ table }, rows),
    processedFate: (fate) => fates({ fate }),
    processedDropped: (count) => processedDropped({}, count),
  };
}
