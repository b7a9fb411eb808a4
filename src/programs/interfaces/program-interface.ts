// A program's interface as solstream describes it: account, instruction and event layouts in a
// compact typed form, written from each program's published layouts (names, field order, types
// and discriminator rules are facts of the deployed program). `toAnchorIdl` turns a description
// into the IDL shape Anchor's Borsh coder reads, so decoding and the local cluster's encoding use
// Anchor's own serialisation.
//
// Discriminators follow Anchor's rules, which the deployed programs use:
//   account     sha256("account:<Name>")[..8]
//   instruction sha256("global:<snake_case name>")[..8]
//   event       sha256("event:<Name>")[..8]
import type { Idl } from '@coral-xyz/anchor';
import { AnchorCodec, sha256Discriminator, snakeCase } from '../anchor-idl.ts';

export type ScalarType =
  | 'u8'
  | 'u16'
  | 'u32'
  | 'u64'
  | 'u128'
  | 'i8'
  | 'i16'
  | 'i32'
  | 'i64'
  | 'i128'
  | 'bool'
  | 'pubkey'
  | 'string'
  | 'bytes';

export type FieldType =
  | ScalarType
  | { readonly option: FieldType }
  | { readonly vec: FieldType }
  | { readonly array: readonly [FieldType, number] }
  | { readonly defined: string };

/** Struct fields in layout order (object keys keep their insertion order). */
export type Fields = Readonly<Record<string, FieldType>>;

export type TypeDef =
  | { readonly struct: Fields }
  /** Variants in order: none (unit), a tuple of types, or named fields. */
  | { readonly enum: Readonly<Record<string, null | readonly FieldType[] | Fields>> };

/**
 * An instruction account: its name, then `*` when writable, `!` when a signer, `?` when optional
 * (Anchor passes the program id in place of an absent optional account).
 */
export type AccountMeta = string;

export interface InstructionDef {
  /** Accounts in the program's order; absent when solstream only needs the instruction's name. */
  readonly accounts?: readonly AccountMeta[];
  /** Arguments in order; absent when solstream only needs the instruction's name. */
  readonly args?: Fields;
}

export interface ProgramInterface {
  /** The program's crate name (the IDL's metadata.name). */
  readonly name: string;
  /** Version of the deployed program (or its published interface) these layouts describe. */
  readonly version: string;
  /** Account layouts; `null` for an account type solstream recognises but never reads. */
  readonly accounts: Readonly<Record<string, Fields | null>>;
  readonly instructions: Readonly<Record<string, InstructionDef>>;
  readonly events?: Readonly<Record<string, Fields>>;
  readonly types?: Readonly<Record<string, TypeDef>>;
}

type IdlJson = Record<string, unknown>;

function idlType(type: FieldType): unknown {
  if (typeof type === 'string') return type;
  if ('option' in type) return { option: idlType(type.option) };
  if ('vec' in type) return { vec: idlType(type.vec) };
  if ('array' in type) return { array: [idlType(type.array[0]), type.array[1]] };
  return { defined: { name: type.defined } };
}

function idlFields(fields: Fields): IdlJson[] {
  return Object.entries(fields).map(([name, type]) => ({ name, type: idlType(type) }));
}

function idlTypeDef(name: string, def: TypeDef): IdlJson {
  if ('struct' in def) return { name, type: { kind: 'struct', fields: idlFields(def.struct) } };
  const variants = Object.entries(def.enum).map(([variant, fields]) => {
    if (fields === null) return { name: variant };
    if (Array.isArray(fields)) return { name: variant, fields: (fields as readonly FieldType[]).map(idlType) };
    return { name: variant, fields: idlFields(fields as Fields) };
  });
  return { name, type: { kind: 'enum', variants } };
}

function idlAccountMeta(meta: AccountMeta): IdlJson {
  const match = /^([A-Za-z0-9_]+)([*!?]*)$/.exec(meta);
  if (match === null) throw new Error(`"${meta}" is not an account (name followed by * ! ?)`);
  const [, name, flags = ''] = match;
  return {
    name,
    ...(flags.includes('*') ? { writable: true } : {}),
    ...(flags.includes('!') ? { signer: true } : {}),
    ...(flags.includes('?') ? { optional: true } : {}),
  };
}

/** The Anchor (0.30+ format) IDL of `program` deployed at `address`. */
export function toAnchorIdl(program: ProgramInterface, address: string): Idl {
  const types: IdlJson[] = [];
  for (const [name, fields] of Object.entries(program.accounts)) types.push(idlTypeDef(name, { struct: fields ?? {} }));
  for (const [name, fields] of Object.entries(program.events ?? {})) types.push(idlTypeDef(name, { struct: fields }));
  for (const [name, def] of Object.entries(program.types ?? {})) types.push(idlTypeDef(name, def));
  const idl = {
    address,
    metadata: { name: program.name, version: program.version, spec: '0.1.0' },
    instructions: Object.entries(program.instructions).map(([name, ix]) => ({
      name,
      discriminator: sha256Discriminator(`global:${snakeCase(name)}`),
      accounts: (ix.accounts ?? []).map(idlAccountMeta),
      args: idlFields(ix.args ?? {}),
    })),
    accounts: Object.keys(program.accounts).map((name) => ({
      name,
      discriminator: sha256Discriminator(`account:${name}`),
    })),
    events: Object.keys(program.events ?? {}).map((name) => ({
      name,
      discriminator: sha256Discriminator(`event:${name}`),
    })),
    errors: [],
    types,
  };
  return idl as unknown as Idl;
}

const codecs = new WeakMap<ProgramInterface, Map<string, AnchorCodec>>();

/** The codec of `program` deployed at `address`, built once per interface and address. */
export function codecOf(program: ProgramInterface, address: string): AnchorCodec {
  let byAddress = codecs.get(program);
  if (byAddress === undefined) codecs.set(program, (byAddress = new Map()));
  let codec = byAddress.get(address);
  if (codec === undefined) byAddress.set(address, (codec = new AnchorCodec(toAnchorIdl(program, address))));
  return codec;
}
