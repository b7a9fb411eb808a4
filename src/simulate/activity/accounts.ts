// Instruction account lists in the exact order the program's IDL declares them.
import type { AnchorCodec } from '../../programs/anchor-idl.ts';
import type { SimAccountMeta } from '../types.ts';

/** Orders `accounts` (keyed by IDL account name) as the IDL lists them; every name must be given, optional ones may be left out. */
export function orderedAccounts(
  codec: AnchorCodec,
  instruction: string,
  accounts: Readonly<Record<string, SimAccountMeta>>,
): SimAccountMeta[] {
  const names = codec.instructionAccountNames(instruction);
  if (names.length === 0) throw new Error(`${instruction} is not an instruction of ${codec.programId}`);
  const ix = codec.idl.instructions.find((i) => i.name === instruction);
  const optional = new Set(
    (ix?.accounts ?? []).filter((a) => 'optional' in a && a.optional === true).map((a) => a.name),
  );
  const out: SimAccountMeta[] = [];
  for (const name of names) {
    const m = accounts[name];
    if (m === undefined) {
      // Anchor passes the program id in place of an absent optional account.
      if (optional.has(name)) out.push({ pubkey: codec.programId, isSigner: false, isWritable: false });
      else throw new Error(`${instruction}: account ${name} not given`);
    } else out.push(m);
  }
  for (const name of Object.keys(accounts))
    if (!names.includes(name)) throw new Error(`${instruction}: ${name} is not one of its accounts`);
  return out;
}
