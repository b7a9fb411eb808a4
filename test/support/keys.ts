// Fresh on-chain identifiers for tests, so every test owns its rows.
import crypto from 'node:crypto';
import { PublicKey } from '@solana/web3.js';

/** A random, valid base58 public key. */
export const pubkey = (): string => new PublicKey(crypto.randomBytes(32)).toBase58();

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** A random base58 transaction signature (64 bytes). */
export function signature(): string {
  let n = BigInt('0x' + crypto.randomBytes(64).toString('hex'));
  let out = '';
  while (n > 0n) {
    out = BASE58[Number(n % 58n)] + out;
    n /= 58n;
  }
  return out;
}
