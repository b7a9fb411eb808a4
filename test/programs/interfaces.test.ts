// The project's own interface definitions (src/programs/interfaces/) against the programs'
// published interface files in ../shared/reference/interfaces: same names, discriminators and
// account orders, and data encoded through either decodes identically through the other.
import { BorshCoder, type Idl } from '@coral-xyz/anchor';
import BN from 'bn.js';
import { PublicKey } from '@solana/web3.js';
import { expect } from 'chai';
import { convertLegacyIdl } from '../../src/programs/anchor-idl.ts';
import { cpSwapCodec, RAYDIUM_CP_SWAP_PROGRAM_ID } from '../../src/programs/raydium-cp-swap.ts';
import { tensorCodec, TENSOR_MARKETPLACE_PROGRAM_ID } from '../../src/programs/tensor-marketplace.ts';
import { Prng } from '../../src/simulate/activity/prng.ts';
import { referenceJson } from '../support/reference.ts';

type IdlType = Idl['types'] extends (infer T)[] | undefined ? T : never;
type Json = unknown;

interface Side {
  readonly idl: Idl;
  readonly coder: BorshCoder;
}

/** A random value of an IDL type, in the shape Anchor's Borsh coder encodes. */
function sample(type: Json, types: readonly IdlType[], rng: Prng): unknown {
  if (typeof type === 'string') {
    switch (type) {
      case 'u8':
        return rng.int(0, 255);
      case 'u16':
        return rng.int(0, 65535);
      case 'u32':
        return rng.int(0, 2 ** 32 - 1);
      case 'i64':
        return new BN(rng.bigint(0n, 2n ** 62n).toString()).neg();
      case 'u64':
        return new BN(rng.bigint(0n, 2n ** 64n - 1n).toString());
      case 'u128':
        return new BN(rng.bigint(0n, 2n ** 128n - 1n).toString());
      case 'bool':
        return rng.chance(0.5);
      case 'pubkey':
        return new PublicKey(rng.pubkey());
      case 'string':
        return `s${rng.int(0, 1e6)}`;
      case 'bytes':
        return Buffer.from(Array.from({ length: rng.int(0, 5) }, () => rng.int(0, 255)));
      default:
        throw new Error(`no sample for ${type}`);
    }
  }
  const t = type as Record<string, Json>;
  if ('option' in t) return rng.chance(0.3) ? null : sample(t['option'], types, rng);
  if ('vec' in t) return Array.from({ length: rng.int(0, 3) }, () => sample(t['vec'], types, rng));
  if ('array' in t) {
    const [inner, length] = t['array'] as [Json, number];
    return Array.from({ length }, () => sample(inner, types, rng));
  }
  const name = (t['defined'] as { name: string }).name;
  const def = types.find((d) => d.name === name);
  if (def === undefined) throw new Error(`type ${name} is not defined`);
  const ty = def.type as { kind: string; fields?: Json[]; variants?: { name: string; fields?: Json[] }[] };
  if (ty.kind === 'struct') return fields(ty.fields ?? [], types, rng);
  const variant = ty.variants?.[rng.int(0, (ty.variants?.length ?? 1) - 1)];
  if (variant === undefined) throw new Error(`enum ${name} has no variants`);
  return { [variant.name]: variant.fields === undefined ? {} : fields(variant.fields, types, rng) };
}

function fields(list: readonly Json[], types: readonly IdlType[], rng: Prng): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  list.forEach((f, i) => {
    const named = typeof f === 'object' && f !== null && 'name' in f;
    const field = f as { name?: string; type?: Json };
    out[named ? String(field.name) : String(i)] = sample(named ? field.type : f, types, rng);
  });
  return out;
}

/** Decoded values in a comparable form: integers as decimal strings, keys as base58, bytes as hex. */
function plain(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (BN.isBN(value)) return value.toString();
  if (value instanceof PublicKey) return value.toBase58();
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'number' || typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

const discriminators = (items: readonly { name: string; discriminator: number[] }[] | undefined) =>
  Object.fromEntries((items ?? []).map((i) => [i.name, Buffer.from(i.discriminator).toString('hex')]));

function accountMetas(idl: Idl, name: string): string[] {
  const flat: string[] = [];
  const walk = (items: readonly unknown[]) => {
    for (const item of items as {
      name: string;
      accounts?: unknown[];
      writable?: boolean;
      signer?: boolean;
      optional?: boolean;
    }[]) {
      if (item.accounts !== undefined) walk(item.accounts);
      else flat.push(`${item.name}${item.writable ? '*' : ''}${item.signer ? '!' : ''}${item.optional ? '?' : ''}`);
    }
  };
  walk(idl.instructions.find((i) => i.name === name)?.accounts ?? []);
  return flat;
}

function compare(program: string, published: Side, ours: Side): void {
  describe(`${program}: the project's interface against the published one`, () => {
    const rng = new Prng(17);
    const ourInstructions = new Map(ours.idl.instructions.map((i) => [i.name, i]));

    it('names every instruction and account the published interface has, with the same discriminators', () => {
      expect(discriminators(ours.idl.instructions)).to.deep.equal(discriminators(published.idl.instructions));
      expect(discriminators(ours.idl.accounts)).to.deep.equal(discriminators(published.idl.accounts));
      expect(discriminators(ours.idl.events)).to.deep.equal(discriminators(published.idl.events));
    });

    it('lists the accounts of every instruction it describes in the same order, with the same flags', () => {
      for (const ix of ours.idl.instructions) {
        if (ix.accounts.length === 0) continue;
        expect(accountMetas(ours.idl, ix.name), ix.name).to.deep.equal(accountMetas(published.idl, ix.name));
      }
    });

    it('decodes accounts and events encoded with the published interface identically, and the other way round', () => {
      const layouts = [
        ...(ours.idl.accounts ?? []).map((a) => ({ kind: 'account' as const, name: a.name })),
        ...(ours.idl.events ?? []).map((e) => ({ kind: 'event' as const, name: e.name })),
      ];
      for (const { kind, name } of layouts) {
        const ourType = ours.idl.types?.find((t) => t.name === name);
        if ((ourType?.type as { fields?: unknown[] }).fields?.length === 0) continue; // recognised, not read
        for (let round = 0; round < 20; round++) {
          const value = sample({ defined: { name } }, published.idl.types ?? [], rng) as Record<string, unknown>;
          for (const [from, to] of [
            [published, ours],
            [ours, published],
          ] as const) {
            const bytes = from.coder.types.encode(name, value);
            expect(plain(to.coder.types.decode(name, bytes)), `${kind} ${name}`).to.deep.equal(plain(value));
          }
        }
      }
    });

    it('decodes the arguments of every instruction it describes as the published interface encodes them, and the other way round', () => {
      for (const ix of published.idl.instructions) {
        const mine = ourInstructions.get(ix.name);
        if (mine === undefined || (mine.args.length === 0 && ix.args.length > 0)) continue; // recognised by name only
        for (let round = 0; round < 10; round++) {
          const args = fields(
            ix.args.map((a) => ({ name: a.name, type: a.type })),
            published.idl.types ?? [],
            rng,
          );
          for (const [from, to] of [
            [published, ours],
            [ours, published],
          ] as const) {
            const data = from.coder.instruction.encode(ix.name, args);
            const decoded = to.coder.instruction.decode(data);
            expect(decoded?.name, ix.name).to.equal(ix.name);
            expect(plain(decoded?.data), ix.name).to.deep.equal(plain(args));
          }
        }
      }
    });
  });
}

const raydium = referenceJson<Idl>('interfaces/raydium_cp_swap.json');
compare(
  'Raydium CP-Swap',
  { idl: raydium, coder: new BorshCoder(raydium) },
  { idl: cpSwapCodec(RAYDIUM_CP_SWAP_PROGRAM_ID).idl, coder: cpSwapCodec(RAYDIUM_CP_SWAP_PROGRAM_ID).coder },
);

const tensor = convertLegacyIdl(referenceJson('interfaces/tensor_marketplace.json'), TENSOR_MARKETPLACE_PROGRAM_ID);
compare(
  'Tensor marketplace',
  { idl: tensor, coder: new BorshCoder(tensor) },
  { idl: tensorCodec().idl, coder: tensorCodec().coder },
);
