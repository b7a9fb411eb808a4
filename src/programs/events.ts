// The one event mechanism every decoder uses. Programs publish events three ways:
//   1. Anchor `emit!`: a "Program data: <base64>" log line printed while the program is executing
//      (attributed by following the invoke stack in the logs, since CPIs interleave their lines);
//   2. Anchor `emit_cpi!`: an inner instruction to the program itself whose data is the event-CPI
//      tag e445a52e51cb9a1d, then the event discriminator and the Borsh payload;
//   3. program-specific formats (e.g. Tensor's self-invoked `tcomp_noop` instruction), supplied by
//      the decoder as an extractor over the program's inner instructions.
// An unknown discriminator is counted and reported with its signature; truncated data raises
// DecodeError naming the signature.
import { PublicKey } from '@solana/web3.js';
import type { AnchorCodec } from './anchor-idl.ts';
import { DISCRIMINATOR_LENGTH, TruncatedDataError, discriminatorHex, type Decoded } from './anchor-idl.ts';
import { DecodeError, type CompiledInstructionInput, type TransactionInput } from './types.ts';

export const EVENT_IX_TAG = Uint8Array.from([0xe4, 0x45, 0xa5, 0x2e, 0x51, 0xcb, 0x9a, 0x1d]);

/** An instruction of the watched program, top-level or inner, with its accounts resolved. */
export interface ProgramInstruction {
  readonly programId: string;
  readonly accounts: readonly string[];
  readonly data: Uint8Array;
  /** Index of the top-level instruction it belongs to. */
  readonly outerIndex: number;
  /** Position among that instruction's inner instructions, or null for the top-level one. */
  readonly innerIndex: number | null;
}

export interface DecodedEvent extends Decoded {
  readonly source: 'log' | 'cpi' | 'custom';
  /** Top-level instruction during which the event was emitted (-1 when the logs cannot tell). */
  readonly outerIndex: number;
  /** The carrying inner instruction, for `cpi` and `custom` events. */
  readonly carrier?: ProgramInstruction;
}

export interface UnknownDiscriminatorReport {
  readonly programId: string;
  readonly signature?: string;
  readonly pubkey?: string;
  readonly kind: 'account' | 'event' | 'instruction';
  readonly discriminator: string;
}

/** Counters a decoder keeps; the ingester may export them as metrics. */
export class DecodeStats {
  unknownDiscriminators = 0;
  /** The most recent unknown discriminators (bounded), newest last. */
  readonly recentUnknown: UnknownDiscriminatorReport[] = [];

  constructor(private readonly onUnknown?: (report: UnknownDiscriminatorReport) => void) {}

  unknown(report: UnknownDiscriminatorReport): void {
    this.unknownDiscriminators += 1;
    this.recentUnknown.push(report);
    if (this.recentUnknown.length > 100) this.recentUnknown.shift();
    this.onUnknown?.(report);
  }
}

function resolve(tx: TransactionInput, ix: CompiledInstructionInput): { programId: string; accounts: string[] } {
  const key = (i: number): string => {
    const k = tx.accountKeys[i];
    if (k === undefined)
      throw new DecodeError(`account index ${i} is outside the ${tx.accountKeys.length} account keys`, {
        signature: tx.signature,
      });
    return k;
  };
  return { programId: key(ix.programIdIndex), accounts: ix.accounts.map(key) };
}

/** Every instruction (top-level and inner, in execution order) addressed to `programId`. */
/**
 * Decodes an account of an Anchor program. An unknown discriminator is counted and reported (null
 * comes back); data too short for its layout is a DecodeError naming the account.
 */
export function decodeAccountData(
  codec: AnchorCodec,
  stats: DecodeStats,
  programId: string,
  pubkey: string,
  data: Uint8Array,
): Decoded | null {
  let decoded: Decoded | null;
  try {
    decoded = codec.decodeAccount(data);
  } catch (err) {
    if (err instanceof TruncatedDataError) throw new DecodeError(err.message, { pubkey });
    throw err;
  }
  if (decoded === null) stats.unknown({ programId, pubkey, kind: 'account', discriminator: discriminatorHex(data) });
  return decoded;
}

export function programInstructions(tx: TransactionInput, programId: string): ProgramInstruction[] {
  const out: ProgramInstruction[] = [];
  tx.instructions.forEach((ix, outerIndex) => {
    const top = resolve(tx, ix);
    if (top.programId === programId) out.push({ ...top, data: ix.data, outerIndex, innerIndex: null });
    (tx.innerInstructions.get(outerIndex) ?? []).forEach((inner, innerIndex) => {
      const r = resolve(tx, inner);
      if (r.programId === programId) out.push({ ...r, data: inner.data, outerIndex, innerIndex });
    });
  });
  return out;
}

/** True when the transaction calls `programId` at all (top-level or CPI). */
export function touchesProgram(tx: TransactionInput, programId: string): boolean {
  return programInstructions(tx, programId).length > 0;
}

const INVOKE = /^Program (\S+) invoke \[(\d+)\]$/;
const EXIT = /^Program (\S+) (success|failed)/;
const DATA = 'Program data: ';

/**
 * "Program data:" payloads printed by `programId` itself (not by a program it called, nor by one
 * that called it), with the top-level instruction they belong to.
 */
export function logDataPayloads(
  logs: readonly string[],
  programId: string,
): { data: Uint8Array; outerIndex: number }[] {
  const stack: string[] = [];
  let outerIndex = -1;
  const out: { data: Uint8Array; outerIndex: number }[] = [];
  for (const line of logs) {
    const invoke = INVOKE.exec(line);
    if (invoke !== null) {
      const depth = Number(invoke[2]);
      if (depth === 1) {
        outerIndex += 1;
        stack.length = 0;
      }
      stack.length = Math.min(stack.length, depth - 1);
      stack.push(invoke[1] ?? '');
      continue;
    }
    if (EXIT.test(line)) {
      stack.pop();
      continue;
    }
    if (line.startsWith(DATA) && stack[stack.length - 1] === programId) {
      out.push({
        data: Buffer.from(line.slice(DATA.length), 'base64'),
        outerIndex,
      });
    }
  }
  return out;
}

/** A program-specific event carrier: returns the event payload an inner instruction carries, or null. */
export type CustomEventExtractor = (ix: ProgramInstruction) => Decoded | null;

export interface EventOptions {
  readonly stats: DecodeStats;
  readonly custom?: CustomEventExtractor;
}

function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

function decodeOrReport(
  codec: AnchorCodec,
  tx: TransactionInput,
  payload: Uint8Array,
  stats: DecodeStats,
): Decoded | null {
  if (payload.length < DISCRIMINATOR_LENGTH) {
    throw new DecodeError(`event of ${codec.programId} shorter than its discriminator`, { signature: tx.signature });
  }
  try {
    const decoded = codec.decodeEvent(payload);
    if (decoded === null)
      stats.unknown({
        programId: codec.programId,
        signature: tx.signature,
        kind: 'event',
        discriminator: discriminatorHex(payload),
      });
    return decoded;
  } catch (err) {
    if (err instanceof TruncatedDataError)
      throw new DecodeError(`${codec.programId} ${err.message}`, {
        signature: tx.signature,
      });
    throw err;
  }
}

/** All events of `codec`'s program in a transaction, in emission order per source. */
export function decodeEvents(tx: TransactionInput, codec: AnchorCodec, options: EventOptions): DecodedEvent[] {
  const events: DecodedEvent[] = [];
  for (const { data, outerIndex } of logDataPayloads(tx.logMessages, codec.programId)) {
    const decoded = decodeOrReport(codec, tx, data, options.stats);
    if (decoded !== null) events.push({ ...decoded, source: 'log', outerIndex });
  }
  for (const ix of programInstructions(tx, codec.programId)) {
    if (ix.innerIndex === null) continue;
    if (startsWith(ix.data, EVENT_IX_TAG)) {
      const decoded = decodeOrReport(codec, tx, ix.data.subarray(EVENT_IX_TAG.length), options.stats);
      if (decoded !== null)
        events.push({
          ...decoded,
          source: 'cpi',
          outerIndex: ix.outerIndex,
          carrier: ix,
        });
      continue;
    }
    if (options.custom !== undefined) {
      let decoded: Decoded | null;
      try {
        decoded = options.custom(ix);
      } catch (err) {
        if (err instanceof TruncatedDataError)
          throw new DecodeError(`${codec.programId} ${err.message}`, {
            signature: tx.signature,
          });
        throw err;
      }
      if (decoded !== null)
        events.push({
          ...decoded,
          source: 'custom',
          outerIndex: ix.outerIndex,
          carrier: ix,
        });
    }
  }
  return events;
}

/** The payload of an `emit_cpi!` inner instruction for an encoded event (used by the local cluster). */
export function eventCpiData(encodedEvent: Uint8Array): Buffer {
  return Buffer.concat([EVENT_IX_TAG, encodedEvent]);
}

/**
 * A top-level instruction of the program decoded with its IDL, with accounts by IDL name. Unknown
 * discriminators are counted; truncated arguments raise DecodeError.
 */
export interface NamedInstruction extends ProgramInstruction {
  readonly name: string;
  readonly args: Record<string, unknown>;
  /** IDL account name → pubkey (accounts beyond the IDL's list are left out). */
  readonly named: Readonly<Record<string, string>>;
}

export function decodeInstructions(
  tx: TransactionInput,
  codec: AnchorCodec,
  stats: DecodeStats,
  opts: { readonly includeInner?: boolean } = {},
): NamedInstruction[] {
  const out: NamedInstruction[] = [];
  for (const ix of programInstructions(tx, codec.programId)) {
    if (ix.innerIndex !== null && opts.includeInner !== true) continue;
    if (startsWith(ix.data, EVENT_IX_TAG)) continue;
    let decoded: Decoded | null;
    try {
      decoded = codec.decodeInstruction(ix.data);
    } catch (err) {
      if (err instanceof TruncatedDataError)
        throw new DecodeError(`${codec.programId} ${err.message}`, {
          signature: tx.signature,
        });
      throw err;
    }
    if (decoded === null) {
      stats.unknown({
        programId: codec.programId,
        signature: tx.signature,
        kind: 'instruction',
        discriminator: discriminatorHex(ix.data),
      });
      continue;
    }
    const names = codec.instructionAccountNames(decoded.name);
    const named: Record<string, string> = {};
    names.forEach((n, i) => {
      const key = ix.accounts[i];
      if (key !== undefined) named[n] = key;
    });
    out.push({ ...ix, name: decoded.name, args: decoded.data, named });
  }
  return out;
}

/** Base58 of a decoded pubkey field (web3.js PublicKey) or a string. */
export function pubkeyString(value: unknown): string {
  if (value instanceof PublicKey) return value.toBase58();
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && 'toBase58' in value && typeof value.toBase58 === 'function')
    return String(value.toBase58());
  throw new TypeError(`not a public key: ${String(value)}`);
}

/** A u64 decoded by Borsh (BN) as bigint. */
export function u64Of(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return BigInt(value);
  if (value !== null && typeof value === 'object' && 'toString' in value) return BigInt(value.toString());
  throw new TypeError(`not an integer: ${String(value)}`);
}
