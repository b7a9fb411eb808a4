// Derived addresses (PDAs, associated token accounts), computed once per set of seeds. Finding a
// PDA hashes the seeds once per bump tried and checks the point is off the curve; done per
// transaction it was most of the decoders' time. The results depend only on their inputs, so a
// bounded cache is always safe to drop.
import { PublicKey } from '@solana/web3.js';

export const TOKEN_PROGRAM_ID = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA';
export const TOKEN_2022_PROGRAM_ID = 'TokenzQdBNbLqP5VEhdkAS6EPFLC1PQnBxvR7DZj1L1';
export const ASSOCIATED_TOKEN_PROGRAM_ID = 'ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL';
export const SYSTEM_PROGRAM_ID = '11111111111111111111111111111111';

/** A seed: a base58 public key (its 32 bytes) or raw bytes. */
export type Seed = string | Uint8Array;

const CACHE_LIMIT = 100_000;
const cache = new Map<string, string>();

function cacheKey(programId: string, seeds: readonly Seed[]): string {
  let key = programId;
  for (const seed of seeds) key += typeof seed === 'string' ? `|k${seed}` : `|b${Buffer.from(seed).toString('hex')}`;
  return key;
}

/** The program address of `seeds` under `programId` (base58), as findProgramAddressSync gives it. */
export function programAddress(programId: string, seeds: readonly Seed[]): string {
  const key = cacheKey(programId, seeds);
  let address = cache.get(key);
  if (address === undefined) {
    address = PublicKey.findProgramAddressSync(
      seeds.map((s) => (typeof s === 'string' ? new PublicKey(s).toBuffer() : Buffer.from(s))),
      new PublicKey(programId),
    )[0].toBase58();
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(key, address);
  }
  return address;
}

/** The associated token account of `owner` for `mint`. */
export function associatedTokenAddress(owner: string, mint: string, tokenProgram = TOKEN_PROGRAM_ID): string {
  return programAddress(ASSOCIATED_TOKEN_PROGRAM_ID, [owner, tokenProgram, mint]);
}
