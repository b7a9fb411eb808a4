// What every decoder factory accepts: the program id (defaults to the mainnet id), a watch list,
// and where unknown discriminators are reported.
import { DecodeStats, type UnknownDiscriminatorReport } from './events.ts';

export interface DecoderOptions {
  /** Deployed program id, base58; the program's mainnet id when absent. */
  readonly programId?: string;
  /**
   * Addresses to follow (pools, realms/governances, collections/mints/sellers, makers: see
   * docs/programs.md per program). Absent or empty: everything the program does.
   */
  readonly watch?: readonly string[];
  /** Called once per unknown discriminator met, with the signature or pubkey it came from. */
  readonly onUnknown?: (report: UnknownDiscriminatorReport) => void;
}

export class WatchList {
  private readonly set: ReadonlySet<string> | null;

  constructor(addresses: readonly string[] | undefined) {
    this.set = addresses === undefined || addresses.length === 0 ? null : new Set(addresses);
  }

  get all(): boolean {
    return this.set === null;
  }

  /** True when nothing is watched in particular, or any of `addresses` is watched. */
  admits(...addresses: readonly (string | null | undefined)[]): boolean {
    if (this.set === null) return true;
    return addresses.some((a) => a !== null && a !== undefined && this.set?.has(a) === true);
  }
}

export function statsFor(options: DecoderOptions): DecodeStats {
  return new DecodeStats(options.onUnknown);
}
