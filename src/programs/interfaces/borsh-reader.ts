// Decoding straight from a ProgramInterface: each layout compiled once into a function that reads
// the Borsh bytes in place. Values come out in the shape Anchor's coder gives (structs as objects,
// enums as `{ Variant: fields }` with tuple fields under "0", "1", …), except that integers wider
// than 32 bits are bigints and public keys base58 strings: what the mappers want, without the BN
// and PublicKey objects (and their base58 encoding) Anchor's coder makes for every field. A public
// key's base58 form is cached, since the same mints, pools and users recur in every transaction.
import { utils } from '@coral-xyz/anchor';
import {
  DISCRIMINATOR_LENGTH,
  TruncatedDataError,
  sha256Discriminator,
  snakeCase,
  type Decoded,
} from '../anchor-idl.ts';
import type { FieldType, Fields, ProgramInterface, TypeDef } from './program-interface.ts';

const bs58 = utils.bytes.bs58;

/** Base58 of 32 key bytes, cached by the bytes themselves. */
const base58Cache = new Map<string, string>();
const BASE58_CACHE_LIMIT = 200_000;

function base58(bytes: Uint8Array): string {
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  let text = base58Cache.get(key);
  if (text === undefined) {
    text = bs58.encode(bytes);
    if (base58Cache.size >= BASE58_CACHE_LIMIT) base58Cache.delete(base58Cache.keys().next().value as string);
    base58Cache.set(key, text);
  }
  return text;
}

class Cursor {
  at: number;
  constructor(
    readonly buf: Buffer,
    start: number,
  ) {
    this.at = start;
  }
  take(n: number): number {
    const at = this.at;
    if (at + n > this.buf.length) throw new RangeError(`needs ${at + n} bytes, has ${this.buf.length}`);
    this.at = at + n;
    return at;
  }
}

type Reader = (c: Cursor) => unknown;

const SCALARS: Record<string, Reader> = {
  u8: (c) => c.buf.readUInt8(c.take(1)),
  i8: (c) => c.buf.readInt8(c.take(1)),
  u16: (c) => c.buf.readUInt16LE(c.take(2)),
  i16: (c) => c.buf.readInt16LE(c.take(2)),
  u32: (c) => c.buf.readUInt32LE(c.take(4)),
  i32: (c) => c.buf.readInt32LE(c.take(4)),
  u64: (c) => c.buf.readBigUInt64LE(c.take(8)),
  i64: (c) => c.buf.readBigInt64LE(c.take(8)),
  u128: (c) => {
    const at = c.take(16);
    return c.buf.readBigUInt64LE(at) | (c.buf.readBigUInt64LE(at + 8) << 64n);
  },
  i128: (c) => {
    const at = c.take(16);
    return BigInt.asIntN(128, c.buf.readBigUInt64LE(at) | (c.buf.readBigUInt64LE(at + 8) << 64n));
  },
  bool: (c) => c.buf.readUInt8(c.take(1)) !== 0,
  pubkey: (c) => {
    const at = c.take(32);
    return base58(c.buf.subarray(at, at + 32));
  },
  string: (c) => {
    const length = c.buf.readUInt32LE(c.take(4));
    const at = c.take(length);
    return c.buf.toString('utf8', at, at + length);
  },
  bytes: (c) => {
    const length = c.buf.readUInt32LE(c.take(4));
    const at = c.take(length);
    return Uint8Array.prototype.slice.call(c.buf, at, at + length);
  },
};

class Compiler {
  private readonly named = new Map<string, Reader>();

  constructor(private readonly types: Readonly<Record<string, TypeDef>>) {}

  reader(type: FieldType): Reader {
    if (typeof type === 'string') {
      const scalar = SCALARS[type];
      if (scalar === undefined) throw new Error(`no reader for ${type}`);
      return scalar;
    }
    if ('option' in type) {
      const inner = this.reader(type.option);
      return (c) => (c.buf.readUInt8(c.take(1)) === 0 ? null : inner(c));
    }
    if ('vec' in type) {
      const inner = this.reader(type.vec);
      return (c) => {
        const length = c.buf.readUInt32LE(c.take(4));
        const out: unknown[] = [];
        for (let i = 0; i < length; i++) out.push(inner(c));
        return out;
      };
    }
    if ('array' in type) {
      const [element, length] = type.array;
      const inner = this.reader(element);
      return (c) => {
        const out: unknown[] = [];
        for (let i = 0; i < length; i++) out.push(inner(c));
        return out;
      };
    }
    return this.definedReader(type.defined);
  }

  /** A named type, compiled on first use (recursive types resolve through this indirection). */
  private definedReader(name: string): Reader {
    let reader = this.named.get(name);
    if (reader !== undefined) return reader;
    const def = this.types[name];
    if (def === undefined) throw new Error(`type ${name} is not defined`);
    const compiled: { read?: Reader } = {};
    reader = (c) => (compiled.read as Reader)(c);
    this.named.set(name, reader);
    compiled.read = 'struct' in def ? this.struct(def.struct) : this.enumeration(def.enum);
    return reader;
  }

  struct(fields: Fields): Reader {
    const readers = Object.entries(fields).map(([name, type]) => [name, this.reader(type)] as const);
    return (c) => {
      const out: Record<string, unknown> = {};
      for (const [name, read] of readers) out[name] = read(c);
      return out;
    };
  }

  private enumeration(variants: Readonly<Record<string, null | readonly FieldType[] | Fields>>): Reader {
    const readers = Object.entries(variants).map(([name, fields]): readonly [string, Reader] => {
      if (fields === null) return [name, () => ({})];
      if (Array.isArray(fields)) {
        const tuple = (fields as readonly FieldType[]).map((f) => this.reader(f));
        return [
          name,
          (c) => {
            const out: Record<string, unknown> = {};
            tuple.forEach((read, i) => (out[String(i)] = read(c)));
            return out;
          },
        ];
      }
      return [name, this.struct(fields as Fields)];
    });
    return (c) => {
      const tag = c.buf.readUInt8(c.take(1));
      const variant = readers[tag];
      if (variant === undefined) throw new RangeError(`enum variant ${tag} does not exist`);
      return { [variant[0]]: variant[1](c) };
    };
  }
}

interface Entry {
  readonly name: string;
  readonly read: Reader;
}

/** Finds layouts by discriminator and reads them; null for an unknown discriminator. */
export class InterfaceReader {
  private readonly accounts = new Map<string, Entry>();
  private readonly instructions = new Map<string, Entry>();
  private readonly events = new Map<string, Entry>();

  constructor(program: ProgramInterface) {
    const compiler = new Compiler(program.types ?? {});
    const key = (preimage: string) => Buffer.from(sha256Discriminator(preimage)).toString('latin1');
    for (const [name, fields] of Object.entries(program.accounts))
      this.accounts.set(key(`account:${name}`), { name, read: compiler.struct(fields ?? {}) });
    for (const [name, ix] of Object.entries(program.instructions))
      this.instructions.set(key(`global:${snakeCase(name)}`), { name, read: compiler.struct(ix.args ?? {}) });
    for (const [name, fields] of Object.entries(program.events ?? {}))
      this.events.set(key(`event:${name}`), { name, read: compiler.struct(fields) });
  }

  account(data: Uint8Array): Decoded | null {
    return read(this.accounts, data, 'account');
  }

  instruction(data: Uint8Array): Decoded | null {
    return read(this.instructions, data, 'instruction');
  }

  event(data: Uint8Array): Decoded | null {
    return read(this.events, data, 'event');
  }
}

function read(entries: Map<string, Entry>, data: Uint8Array, kind: string): Decoded | null {
  if (data.length < DISCRIMINATOR_LENGTH) return null;
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const entry = entries.get(buf.toString('latin1', 0, DISCRIMINATOR_LENGTH));
  if (entry === undefined) return null;
  try {
    return { name: entry.name, data: entry.read(new Cursor(buf, DISCRIMINATOR_LENGTH)) as Record<string, unknown> };
  } catch (err) {
    throw new TruncatedDataError(`${kind} ${entry.name}`, err);
  }
}
