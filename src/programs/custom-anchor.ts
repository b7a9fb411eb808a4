// A user's own Anchor program: its IDL file plus a mapping of account types and event names to
// seed tables. Each mapped field is copied to a column; pubkeys become base58, integers become
// decimal strings for u64 columns and numbers otherwise. Events may come as logs or emit_cpi.
//
// Mapping (JSON), e.g.:
//   { "accounts": { "Vault": { "topic": "escrows", "columns": { "maker": "owner", "amount_a": "deposited", … } } },
//     "events":   { "Swapped": { "topic": "swaps", "columns": { "pool_pubkey": "pool", … } } } }
// "$pubkey" (the account's address), "$signature" and "$slot" are available as field names.
import { PublicKey } from '@solana/web3.js';
import { TABLES, isTopic, type Topic } from '../db/schema.ts';
import { toU64String } from '../db/rows.ts';
import { AnchorCodec, loadIdlFile } from './anchor-idl.ts';
import { WatchList, statsFor, type DecoderOptions } from './decoder-options.ts';
import { decodeAccountData, decodeEvents, decodeInstructions, type DecodeStats } from './events.ts';
import { transactionRow } from './transactions.ts';
import type { AccountInput, DecodedRow, Program, TransactionInput } from './types.ts';

export interface TableMapping {
  readonly topic: Topic;
  /** Column → IDL field name (or $pubkey / $signature / $slot). */
  readonly columns: Readonly<Record<string, string>>;
}

export interface CustomMapping {
  readonly accounts?: Readonly<Record<string, TableMapping>>;
  readonly events?: Readonly<Record<string, TableMapping>>;
}

/** Checks a mapping against the IDL and the seed schema; throws an Error listing every problem. */
export function validateMapping(codec: AnchorCodec, raw: unknown): CustomMapping {
  const problems: string[] = [];
  const mapping = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const check = (kind: 'accounts' | 'events', names: Set<string>): void => {
    const section = mapping[kind];
    if (section === undefined) return;
    if (typeof section !== 'object' || section === null) return void problems.push(`${kind} must be an object`);
    for (const [name, m] of Object.entries(section as Record<string, unknown>)) {
      if (!names.has(name)) problems.push(`${kind}.${name}: not in the IDL (has ${[...names].join(', ') || 'none'})`);
      const tm = m as Partial<TableMapping> | null;
      if (tm === null || typeof tm !== 'object' || !isTopic(tm.topic)) {
        problems.push(`${kind}.${name}.topic must be one of ${Object.keys(TABLES).join(', ')}`);
        continue;
      }
      const columns: Readonly<Record<string, unknown>> = TABLES[tm.topic].columns;
      for (const column of Object.keys(tm.columns ?? {}))
        if (!(column in columns)) problems.push(`${kind}.${name}.columns.${column}: not a column of ${tm.topic}`);
    }
  };
  check('accounts', new Set((codec.idl.accounts ?? []).map((a) => a.name)));
  check('events', new Set((codec.idl.events ?? []).map((e) => e.name)));
  if (problems.length > 0) throw new Error(`invalid mapping for ${codec.programId}: ${problems.join('; ')}`);
  return mapping as CustomMapping;
}

function columnValue(topic: Topic, column: string, value: unknown): unknown {
  const def = (TABLES[topic].columns as Readonly<Record<string, { kind: string }>>)[column];
  if (value instanceof PublicKey) return value.toBase58();
  if (value !== null && typeof value === 'object' && 'toArrayLike' in value) value = BigInt(String(value));
  if (def?.kind === 'u64') return toU64String(value, column);
  if (typeof value === 'bigint')
    return def?.kind === 'timestamp' ? new Date(Number(value) * 1000).toISOString() : Number(value);
  if (def?.kind === 'timestamp' && typeof value === 'number') return new Date(value * 1000).toISOString();
  if (def?.kind === 'json')
    return JSON.parse(
      JSON.stringify(value, (_k, v: unknown) =>
        v instanceof PublicKey ? v.toBase58() : typeof v === 'bigint' ? v.toString() : v,
      ),
    );
  return value;
}

function mapRow(m: TableMapping, fields: Record<string, unknown>): DecodedRow {
  const row: Record<string, unknown> = {};
  for (const [column, field] of Object.entries(m.columns)) row[column] = columnValue(m.topic, column, fields[field]);
  return { topic: m.topic, row } as DecodedRow;
}

export interface CustomAccount {
  readonly mapping: TableMapping;
  readonly fields: Record<string, unknown>;
}

export interface CustomTransaction {
  readonly firstName: string | null;
  readonly events: readonly { readonly mapping: TableMapping; readonly fields: Record<string, unknown> }[];
}

/** A user's Anchor program: rows straight from its accounts and events, no joins. */
export class CustomAnchorProgram implements Program<CustomAccount, CustomTransaction> {
  readonly name: string;
  readonly domain = 'custom' as const;
  readonly programId: string;
  readonly stats: DecodeStats;
  private readonly codec: AnchorCodec;
  private readonly mapping: CustomMapping;
  private readonly watch: WatchList;

  constructor(
    options: DecoderOptions & { readonly idlPath: string; readonly mapping: unknown; readonly name?: string },
  ) {
    const idl = loadIdlFile(options.idlPath, options.programId);
    this.codec = new AnchorCodec(idl);
    this.programId = idl.address;
    this.name = options.name ?? idl.metadata.name;
    this.mapping = validateMapping(this.codec, options.mapping);
    this.watch = new WatchList(options.watch);
    this.stats = statsFor(options);
  }

  decodeAccount(pubkey: string, data: Uint8Array): CustomAccount | null {
    if (data.length === 0 || !this.watch.admits(pubkey)) return null;
    const decoded = decodeAccountData(this.codec, this.stats, this.programId, pubkey, data);
    if (decoded === null) return null;
    const mapping = this.mapping.accounts?.[decoded.name];
    return mapping === undefined ? null : { mapping, fields: decoded.data };
  }

  decodeTransaction(tx: TransactionInput): CustomTransaction | null {
    const instructions = decodeInstructions(tx, this.codec, this.stats, { includeInner: true });
    if (instructions.length === 0) return null;
    if (!this.watch.all && !instructions.some((ix) => this.watch.admits(...ix.accounts))) return null;
    const events: CustomTransaction['events'][number][] = [];
    for (const ev of decodeEvents(tx, this.codec, { stats: this.stats })) {
      const mapping = this.mapping.events?.[ev.name];
      if (mapping !== undefined) events.push({ mapping, fields: ev.data });
    }
    return { firstName: instructions[0]?.name ?? null, events };
  }

  mapAccount(account: CustomAccount, input: AccountInput): DecodedRow[] {
    const row = mapRow(account.mapping, { ...account.fields, $pubkey: input.pubkey, $slot: input.slot });
    return [{ ...row, account: { pubkey: input.pubkey, slot: input.slot, from: 'account' } }];
  }

  mapTransaction(decoded: CustomTransaction, tx: TransactionInput): DecodedRow[] {
    return [
      transactionRow(tx, this.programId, decoded.firstName),
      ...decoded.events.map((ev) => mapRow(ev.mapping, { ...ev.fields, $signature: tx.signature, $slot: tx.slot })),
    ];
  }
}
