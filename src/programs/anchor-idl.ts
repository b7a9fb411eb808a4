// Anchor IDLs as data: loading a user's IDL file (the legacy pre-0.30 format converted
// mechanically, since Anchor 0.32's coders read only the new one), and one codec per IDL that finds
// accounts, instructions and events by their 8-byte discriminators and (de)serializes them with
// Anchor's own Borsh coder. The built-in programs' IDLs come from src/programs/interfaces/.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BorshCoder, type Idl } from '@coral-xyz/anchor';

export const DISCRIMINATOR_LENGTH = 8;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function sha256Discriminator(preimage: string): number[] {
  return [...createHash('sha256').update(preimage).digest().subarray(0, DISCRIMINATOR_LENGTH)];
}

/** Anchor's snake_case of an instruction name (`tcompNoop` → `tcomp_noop`, `buyT22` → `buy_t22`). */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

/** True for an IDL in the pre-0.30 format (no `address`, no discriminators). */
export function isLegacyIdl(raw: unknown): boolean {
  if (!isObject(raw)) return false;
  const instructions = raw['instructions'];
  const first = Array.isArray(instructions) ? instructions[0] : undefined;
  return !('address' in raw) || (isObject(first) && !('discriminator' in first));
}

function convertType(type: Json): Json {
  if (type === 'publicKey') return 'pubkey';
  if (typeof type === 'string' || !isObject(type)) return type;
  if ('defined' in type) {
    const defined = type['defined'];
    return {
      defined: typeof defined === 'string' ? { name: defined } : (defined ?? null),
    };
  }
  if ('option' in type) return { option: convertType(type['option'] ?? null) };
  if ('coption' in type) return { coption: convertType(type['coption'] ?? null) };
  if ('vec' in type) return { vec: convertType(type['vec'] ?? null) };
  if ('array' in type && Array.isArray(type['array'])) {
    const [inner, len] = type['array'];
    return { array: [convertType(inner ?? null), len ?? 0] };
  }
  return type;
}

function convertFields(fields: Json): Json {
  if (!Array.isArray(fields)) return fields;
  return fields.map((f) =>
    isObject(f) && 'name' in f && 'type' in f ? { ...f, type: convertType(f['type'] ?? null) } : convertType(f),
  );
}

function convertTypeDef(def: JsonObject): JsonObject {
  const ty = def['type'];
  if (!isObject(ty)) return def;
  if (ty['kind'] === 'struct')
    return {
      ...def,
      type: { ...ty, fields: convertFields(ty['fields'] ?? []) },
    };
  if (ty['kind'] === 'enum' && Array.isArray(ty['variants'])) {
    const variants = ty['variants'].map((v) =>
      isObject(v) && 'fields' in v ? { ...v, fields: convertFields(v['fields'] ?? []) } : v,
    );
    return { ...def, type: { ...ty, variants } };
  }
  if (ty['kind'] === 'alias')
    return {
      ...def,
      type: { kind: 'type', alias: convertType(ty['value'] ?? null) },
    };
  return def;
}

function convertInstructionAccounts(accounts: Json): Json {
  if (!Array.isArray(accounts)) return [];
  return accounts.map((a) => {
    if (!isObject(a)) return a;
    if (Array.isArray(a['accounts']))
      return {
        name: a['name'] ?? '',
        accounts: convertInstructionAccounts(a['accounts']),
      };
    const out: JsonObject = { name: a['name'] ?? '' };
    if (a['isMut'] === true) out['writable'] = true;
    if (a['isSigner'] === true) out['signer'] = true;
    if (a['isOptional'] === true) out['optional'] = true;
    if (a['docs'] !== undefined) out['docs'] = a['docs'];
    return out;
  });
}

/**
 * Converts a legacy (Anchor ≤ 0.29) IDL into the 0.30+ format without changing any layout, adding
 * the discriminators the 0.29 runtime used: sha256("account:<Name>") and sha256("global:<snake_name>").
 */
export function convertLegacyIdl(raw: unknown, address?: string): Idl {
  if (!isObject(raw)) throw new TypeError('an IDL must be a JSON object');
  const metadata = isObject(raw['metadata']) ? raw['metadata'] : {};
  const programAddress = address ?? (typeof metadata['address'] === 'string' ? metadata['address'] : undefined);
  if (programAddress === undefined)
    throw new TypeError('a legacy IDL needs metadata.address or an explicit program id');
  const types: JsonObject[] = (Array.isArray(raw['types']) ? raw['types'] : []).filter(isObject).map(convertTypeDef);
  const accounts = (Array.isArray(raw['accounts']) ? raw['accounts'] : []).filter(isObject);
  const events = (Array.isArray(raw['events']) ? raw['events'] : []).filter(isObject);
  for (const def of [...accounts, ...events]) {
    const name = def['name'];
    if (types.some((t) => t['name'] === name)) continue;
    const fields = Array.isArray(def['fields'])
      ? def['fields'].map((f) => (isObject(f) ? { name: f['name'] ?? '', type: f['type'] ?? null } : f))
      : undefined;
    types.push(
      convertTypeDef(
        fields !== undefined
          ? { name: name ?? '', type: { kind: 'struct', fields } }
          : { name: name ?? '', type: def['type'] ?? null },
      ),
    );
  }
  const instructions = (Array.isArray(raw['instructions']) ? raw['instructions'] : []).filter(isObject).map((ix) => ({
    name: ix['name'] ?? '',
    ...(ix['docs'] !== undefined ? { docs: ix['docs'] } : {}),
    discriminator: sha256Discriminator(`global:${snakeCase(String(ix['name']))}`),
    accounts: convertInstructionAccounts(ix['accounts'] ?? []),
    args: (Array.isArray(ix['args']) ? ix['args'] : []).filter(isObject).map((a) => ({
      name: a['name'] ?? '',
      type: convertType(a['type'] ?? null),
    })),
  }));
  const converted: JsonObject = {
    address: programAddress,
    metadata: {
      name: String(raw['name'] ?? 'program'),
      version: String(raw['version'] ?? '0.0.0'),
      spec: '0.1.0',
    },
    instructions,
    accounts: accounts.map((a) => ({
      name: a['name'] ?? '',
      discriminator: sha256Discriminator(`account:${String(a['name'])}`),
    })),
    events: events.map((e) => ({
      name: e['name'] ?? '',
      discriminator: sha256Discriminator(`event:${String(e['name'])}`),
    })),
    errors: Array.isArray(raw['errors']) ? raw['errors'] : [],
    types,
  };
  return converted as unknown as Idl;
}

/** Reads an IDL file (either format). Throws an Error naming the file when it cannot. */
export function loadIdlFile(path: string | URL, address?: string): Idl {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read IDL file ${String(path)}: ${(err as Error).message}`);
  }
  if (isLegacyIdl(raw)) return convertLegacyIdl(raw, address);
  const idl = raw as Idl;
  return address !== undefined && address !== idl.address ? { ...idl, address } : idl;
}

export interface Decoded {
  readonly name: string;
  readonly data: Record<string, unknown>;
}

interface Entry {
  readonly name: string;
  readonly discriminator: Buffer;
}

export function discriminatorHex(data: Uint8Array): string {
  return Buffer.from(data.subarray(0, DISCRIMINATOR_LENGTH)).toString('hex');
}

/** Thrown by the codec when bytes are too short for the layout their discriminator names. */
export class TruncatedDataError extends Error {
  constructor(
    readonly what: string,
    cause: unknown,
  ) {
    super(`${what}: data too short for its layout (${(cause as Error).message})`);
    this.name = 'TruncatedDataError';
  }
}

interface SizedLayout {
  readonly span: number;
  getSpan(b: Buffer, offset?: number): number;
}

// The Borsh layouts read past the end of a short buffer as zeros instead of failing, so the size a
// layout needs is checked before decoding (variable-size layouts measure themselves, and throw
// when even their length prefixes are cut off).
function checkSpan(layout: SizedLayout | undefined, body: Buffer): void {
  if (layout === undefined) return;
  const span = layout.span >= 0 ? layout.span : layout.getSpan(body, 0);
  if (span > body.length) throw new RangeError(`needs ${span} bytes, has ${body.length}`);
}

/**
 * The coder for one Anchor program. `decode*` return null for an unknown discriminator, decode the
 * known prefix of a longer payload (a newer program version's trailing fields are ignored), and
 * throw TruncatedDataError when the bytes end before the layout does.
 */
export class AnchorCodec {
  readonly coder: BorshCoder;
  private readonly accounts: Map<string, Entry>;
  private readonly instructions: Map<string, Entry>;
  private readonly events: Map<string, Entry>;

  constructor(readonly idl: Idl) {
    this.coder = new BorshCoder(idl);
    const index = (items: readonly { name: string; discriminator: number[] }[] | undefined) =>
      new Map(
        (items ?? []).map((i) => [
          Buffer.from(i.discriminator).toString('hex'),
          { name: i.name, discriminator: Buffer.from(i.discriminator) },
        ]),
      );
    this.accounts = index(idl.accounts);
    this.instructions = index(idl.instructions);
    this.events = index(idl.events);
  }

  get programId(): string {
    return this.idl.address;
  }

  accountName(data: Uint8Array): string | null {
    return this.accounts.get(discriminatorHex(data))?.name ?? null;
  }

  decodeAccount(data: Uint8Array): Decoded | null {
    const entry = this.accounts.get(discriminatorHex(data));
    if (entry === undefined) return null;
    return {
      name: entry.name,
      data: this.decodeType(entry.name, data, `account ${entry.name}`),
    };
  }

  decodeInstruction(data: Uint8Array): Decoded | null {
    const entry = this.instructions.get(discriminatorHex(data));
    if (entry === undefined) return null;
    const layout = (
      this.coder.instruction as unknown as {
        ixLayouts: Map<string, { layout: { decode(b: Buffer): unknown } }>;
      }
    ).ixLayouts.get(entry.name);
    if (layout === undefined) return null;
    try {
      const body = Buffer.from(data.subarray(DISCRIMINATOR_LENGTH));
      checkSpan(layout.layout as unknown as SizedLayout, body);
      return { name: entry.name, data: layout.layout.decode(body) as Record<string, unknown> };
    } catch (err) {
      throw new TruncatedDataError(`instruction ${entry.name}`, err);
    }
  }

  /** An event payload: 8-byte event discriminator then the Borsh struct. */
  decodeEvent(data: Uint8Array): Decoded | null {
    const entry = this.events.get(discriminatorHex(data));
    if (entry === undefined) return null;
    return {
      name: entry.name,
      data: this.decodeType(entry.name, data, `event ${entry.name}`),
    };
  }

  private decodeType(name: string, data: Uint8Array, what: string): Record<string, unknown> {
    const body = Buffer.from(data.subarray(DISCRIMINATOR_LENGTH));
    const layouts = (this.coder.types as unknown as { typeLayouts: Map<string, SizedLayout> }).typeLayouts;
    try {
      checkSpan(layouts.get(name), body);
      return this.coder.types.decode(name, body) as Record<string, unknown>;
    } catch (err) {
      throw new TruncatedDataError(what, err);
    }
  }

  encodeAccount(name: string, value: Record<string, unknown>): Buffer {
    return this.withDiscriminator(this.accounts, name, this.coder.types.encode(name, value));
  }

  encodeEvent(name: string, value: Record<string, unknown>): Buffer {
    return this.withDiscriminator(this.events, name, this.coder.types.encode(name, value));
  }

  encodeInstruction(name: string, args: Record<string, unknown>): Buffer {
    return this.coder.instruction.encode(name, args);
  }

  /** Account names of an instruction in IDL order (nested groups flattened). */
  instructionAccountNames(name: string): string[] {
    const ix = this.idl.instructions.find((i) => i.name === name);
    if (ix === undefined) return [];
    const flat: string[] = [];
    const walk = (items: readonly unknown[]): void => {
      for (const item of items) {
        const it = item as { name: string; accounts?: readonly unknown[] };
        if (Array.isArray(it.accounts)) walk(it.accounts);
        else flat.push(it.name);
      }
    };
    walk(ix.accounts);
    return flat;
  }

  private withDiscriminator(map: Map<string, Entry>, name: string, body: Buffer): Buffer {
    for (const entry of map.values()) if (entry.name === name) return Buffer.concat([entry.discriminator, body]);
    throw new Error(`${name} is not in the IDL of ${this.programId}`);
  }
}
