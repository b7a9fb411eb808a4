// What the tests decode with, none of it from the project's src/: Anchor's BorshCoder built from
// the programs' published IDL files (the legacy Tensor IDL converted to Anchor 0.30's format
// here), and the escrow and SPL Token layouts written out by hand.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BorshCoder, type Idl } from '@coral-xyz/anchor';
import { PublicKey } from '@solana/web3.js';

export const CP_SWAP = 'CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C';
export const ESCROW = 'qbuMdeYxYJXBjU6C6qFKjZKjXmrU83eDQomHdrch826';
export const TCOMP = 'TCMPhJdwDryooaGtiocG1u3xcYbRpiJzb283XfCZsDp';
export const GOVERNANCE = 'GovER5Lthms3bLBqWub97yVrMmEogzX7xNjdXpPPCVZw';
export const TOKEN_PROGRAM = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA';
export const ATA_PROGRAM = 'ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL';
export const SYSTEM_PROGRAM = '11111111111111111111111111111111';
export const PROGRAMS = [CP_SWAP, ESCROW, TCOMP, GOVERNANCE] as const;

const REFERENCE = fileURLToPath(new URL('../../../shared/reference/', import.meta.url));

function readReference(path: string): Record<string, unknown> {
  const full = `${REFERENCE}${path}`;
  if (!existsSync(full))
    throw new Error(`${full} is missing: the published reference data lives in ../shared/reference`);
  return JSON.parse(readFileSync(full, 'utf8')) as Record<string, unknown>;
}

/** A program's published interface file (../shared/reference/interfaces/). */
export function readInterface(file: string): Record<string, unknown> {
  return readReference(`interfaces/${file}`);
}

/** Mainnet bytes as published in public test suites (../shared/reference/mainnet-samples/). */
export function readSample(file: string): Record<string, unknown> {
  return readReference(`mainnet-samples/${file}`);
}

export function sha256_8(preimage: string): Buffer {
  return createHash('sha256').update(preimage).digest().subarray(0, 8);
}

function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function modernType(t: Json): Json {
  if (t === 'publicKey') return 'pubkey';
  if (typeof t !== 'object' || t === null || Array.isArray(t)) return t;
  if ('defined' in t) return { defined: typeof t['defined'] === 'string' ? { name: t['defined'] } : t['defined'] };
  if ('array' in t && Array.isArray(t['array']))
    return { array: [modernType(t['array'][0] ?? null), t['array'][1] ?? 0] };
  const [key] = Object.keys(t);
  return key === undefined ? t : { [key]: modernType(t[key] ?? null) };
}

function modernFields(fields: Json): Json {
  if (!Array.isArray(fields)) return fields;
  return fields.map((f) =>
    typeof f === 'object' && f !== null && !Array.isArray(f) && 'name' in f
      ? { ...f, type: modernType(f['type'] ?? null) }
      : modernType(f),
  );
}

function modernTypeDef(def: JsonObject): JsonObject {
  const ty = def['type'] as JsonObject;
  if (ty['kind'] === 'struct')
    return { name: def['name'] ?? '', type: { kind: 'struct', fields: modernFields(ty['fields'] ?? []) } };
  const variants = (ty['variants'] as JsonObject[]).map((v): JsonObject =>
    'fields' in v ? { name: v['name'] ?? '', fields: modernFields(v['fields'] ?? []) } : { name: v['name'] ?? '' },
  );
  return { name: def['name'] ?? '', type: { kind: 'enum', variants } };
}

/** A legacy (pre-0.30) Anchor IDL in the 0.30 format: discriminators computed from the names. */
export function modernizeLegacyIdl(legacy: Record<string, unknown>, address: string): Idl {
  const raw = legacy as JsonObject;
  const accounts = (raw['accounts'] as JsonObject[]) ?? [];
  const instructions = (raw['instructions'] as JsonObject[]).map((ix) => ({
    name: ix['name'],
    discriminator: [...sha256_8(`global:${snakeCase(String(ix['name']))}`)],
    accounts: (ix['accounts'] as JsonObject[]).map((a) => ({
      name: a['name'],
      writable: a['isMut'] === true,
      signer: a['isSigner'] === true,
      optional: a['isOptional'] === true,
    })),
    args: (ix['args'] as JsonObject[]).map((a) => ({ name: a['name'], type: modernType(a['type'] ?? null) })),
  }));
  return {
    address,
    metadata: { name: String(raw['name']), version: String(raw['version']), spec: '0.1.0' },
    instructions,
    accounts: accounts.map((a) => ({ name: a['name'], discriminator: [...sha256_8(`account:${String(a['name'])}`)] })),
    types: [...accounts.map(modernTypeDef), ...((raw['types'] as JsonObject[]) ?? []).map(modernTypeDef)],
  } as unknown as Idl;
}

export const cpSwapIdl = readInterface('raydium_cp_swap.json') as unknown as Idl;
export const cpSwapCoder = new BorshCoder(cpSwapIdl);
export const tensorIdl = modernizeLegacyIdl(readInterface('tensor_marketplace.json'), TCOMP);
export const tensorCoder = new BorshCoder(tensorIdl);

/** The IDL's account names of an instruction, in order. */
export function accountNames(idl: Idl, instruction: string): string[] {
  const ix = idl.instructions.find((i) => i.name === instruction);
  if (ix === undefined) throw new Error(`no instruction ${instruction}`);
  return ix.accounts.map((a) => a.name);
}

// --- SPL Token, by hand -------------------------------------------------------------------

export interface TokenAccount {
  readonly mint: string;
  readonly owner: string;
  readonly amount: bigint;
  readonly state: number;
}

export function decodeTokenAccount(data: Buffer): TokenAccount {
  if (data.length !== 165) throw new Error(`a token account is 165 bytes, not ${data.length}`);
  return {
    mint: new PublicKey(data.subarray(0, 32)).toBase58(),
    owner: new PublicKey(data.subarray(32, 64)).toBase58(),
    amount: data.readBigUInt64LE(64),
    state: data.readUInt8(108),
  };
}

export function decodeMint(data: Buffer): { supply: bigint; decimals: number; initialized: boolean } {
  if (data.length !== 82) throw new Error(`a mint is 82 bytes, not ${data.length}`);
  return { supply: data.readBigUInt64LE(36), decimals: data.readUInt8(44), initialized: data.readUInt8(45) === 1 };
}

// --- the escrow, by hand ------------------------------------------------------------------

export interface Offer {
  readonly id: bigint;
  readonly maker: string;
  readonly mintA: string;
  readonly mintB: string;
  readonly wanted: bigint;
  readonly bump: number;
}

export function decodeOffer(data: Buffer): Offer {
  if (!data.subarray(0, 8).equals(sha256_8('account:Offer'))) throw new Error('not an Offer account');
  return {
    id: data.readBigUInt64LE(8),
    maker: new PublicKey(data.subarray(16, 48)).toBase58(),
    mintA: new PublicKey(data.subarray(48, 80)).toBase58(),
    mintB: new PublicKey(data.subarray(80, 112)).toBase58(),
    wanted: data.readBigUInt64LE(112),
    bump: data.readUInt8(120),
  };
}

export function escrowInstruction(data: Buffer): { name: string; args: bigint[] } | null {
  for (const name of ['make_offer', 'take_offer', 'refund_offer']) {
    if (data.subarray(0, 8).equals(sha256_8(`global:${name}`))) {
      const args: bigint[] = [];
      for (let at = 8; at + 8 <= data.length; at += 8) args.push(data.readBigUInt64LE(at));
      return { name, args };
    }
  }
  return null;
}

// --- addresses ----------------------------------------------------------------------------

export function pda(seeds: (Buffer | string)[], programId: string): string {
  return PublicKey.findProgramAddressSync(
    seeds.map((s) => (typeof s === 'string' ? new PublicKey(s).toBuffer() : s)),
    new PublicKey(programId),
  )[0].toBase58();
}

export function associatedTokenAddress(owner: string, mint: string): string {
  return pda([owner, TOKEN_PROGRAM, mint], ATA_PROGRAM);
}

export function u16le(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

export function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

export function u64le(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
}

// --- logs ---------------------------------------------------------------------------------

/**
 * The "Program data:" payloads printed by `programId` itself, with the top-level instruction they
 * belong to, found by following the invoke/success stack of the runtime's log lines.
 */
export function programData(logs: readonly string[], programId: string): { data: string; outer: number }[] {
  const stack: string[] = [];
  let outer = -1;
  const out: { data: string; outer: number }[] = [];
  for (const line of logs) {
    const invoke = /^Program (\S+) invoke \[(\d+)\]$/.exec(line);
    if (invoke !== null) {
      const depth = Number(invoke[2]);
      if (depth === 1) outer += 1;
      stack.length = depth - 1;
      stack.push(invoke[1] ?? '');
    } else if (/^Program \S+ (success|failed)/.test(line)) {
      stack.pop();
    } else if (line.startsWith('Program data: ') && stack[stack.length - 1] === programId) {
      out.push({ data: line.slice('Program data: '.length), outer });
    }
  }
  return out;
}
