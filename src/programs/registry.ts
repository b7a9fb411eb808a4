// The programs solstream follows: kind, deployed id (mainnet by default, always overridable; any
// number of SPL Governance instances), domain, decoder, and an optional watch list.
//
// Configuration value (env SOLSTREAM_PROGRAMS), either
//   compact: "escrow,raydium-cp-swap@<pool>|<pool>,spl-governance:<programId>@<realm>,tensor-marketplace"
//            (entry = kind[:programId][@watched|watched…])
//   or JSON: [{ "kind": "spl-governance", "programId": "…", "watch": ["<realm>"] },
//             { "kind": "custom-anchor", "idl": "./idl.json", "mapping": "./mapping.json" | { … } }]
// Absent or empty: the four built-in programs at their mainnet ids, unwatched (everything).
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PublicKey } from '@solana/web3.js';
import { createEscrowProgram, ESCROW_PROGRAM_ID } from './escrow/index.ts';
import { createRaydiumCpSwapProgram, RAYDIUM_CP_SWAP_PROGRAM_ID } from './raydium-cp-swap/index.ts';
import { createTensorMarketplaceProgram, TENSOR_MARKETPLACE_PROGRAM_ID } from './tensor-marketplace/index.ts';
import { createSplGovernanceProgram, SPL_GOVERNANCE_PROGRAM_ID } from './spl-governance/index.ts';
import { CustomAnchorProgram } from './custom-anchor.ts';
import type { DecoderOptions } from './decoder-options.ts';
import type { UnknownDiscriminatorReport } from './events.ts';
import type { AnyProgram, ProgramDomain } from './types.ts';

export const PROGRAM_KINDS = [
  'escrow',
  'raydium-cp-swap',
  'tensor-marketplace',
  'spl-governance',
  'custom-anchor',
] as const;
export type ProgramKind = (typeof PROGRAM_KINDS)[number];

export interface ProgramConfig {
  readonly kind: ProgramKind;
  readonly programId: string;
  readonly domain: ProgramDomain;
  /** Addresses to follow; empty = everything the program does. */
  readonly watch: readonly string[];
  /** custom-anchor only: absolute path of the IDL file, and the validated-at-build mapping. */
  readonly idlPath?: string;
  readonly mapping?: unknown;
  readonly name?: string;
}

interface BuiltIn {
  readonly defaultId: string;
  readonly domain: ProgramDomain;
  readonly create: (options: DecoderOptions) => AnyProgram;
  readonly watches: string;
}

export const BUILT_IN_PROGRAMS: Readonly<Record<Exclude<ProgramKind, 'custom-anchor'>, BuiltIn>> = {
  escrow: {
    defaultId: ESCROW_PROGRAM_ID,
    domain: 'escrow',
    create: createEscrowProgram,
    watches: 'makers or offer accounts',
  },
  'raydium-cp-swap': {
    defaultId: RAYDIUM_CP_SWAP_PROGRAM_ID,
    domain: 'amm',
    create: createRaydiumCpSwapProgram,
    watches: 'pool accounts',
  },
  'tensor-marketplace': {
    defaultId: TENSOR_MARKETPLACE_PROGRAM_ID,
    domain: 'marketplace',
    create: createTensorMarketplaceProgram,
    watches: 'NFT mints, whitelists (collections), sellers/buyers or list states',
  },
  'spl-governance': {
    defaultId: SPL_GOVERNANCE_PROGRAM_ID,
    domain: 'governance',
    create: createSplGovernanceProgram,
    watches: 'realms, governances or proposals',
  },
};

export class ProgramsConfigError extends Error {
  constructor(message: string) {
    super(`SOLSTREAM_PROGRAMS: ${message}`);
    this.name = 'ProgramsConfigError';
  }
}

function checkPubkey(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw new ProgramsConfigError(`${what} must be a base58 public key`);
  const v = value.trim();
  try {
    if (new PublicKey(v).toBase58() === v) return v;
  } catch {
    // reported below
  }
  throw new ProgramsConfigError(`${what} "${v}" is not a valid base58 public key`);
}

function checkKind(value: unknown, where: string): ProgramKind {
  if (typeof value === 'string' && (PROGRAM_KINDS as readonly string[]).includes(value)) return value as ProgramKind;
  throw new ProgramsConfigError(
    `${where}: unknown program kind "${String(value)}" (one of ${PROGRAM_KINDS.join(', ')})`,
  );
}

function entry(
  kind: ProgramKind,
  programId: unknown,
  watch: unknown,
  where: string,
  extra: Record<string, unknown> = {},
  baseDir = process.cwd(),
): ProgramConfig {
  const watchList =
    watch === undefined
      ? []
      : Array.isArray(watch)
        ? watch.map((w, i) => checkPubkey(w, `${where}.watch[${i}]`))
        : null;
  if (watchList === null) throw new ProgramsConfigError(`${where}.watch must be an array of public keys`);
  if (kind !== 'custom-anchor') {
    const builtIn = BUILT_IN_PROGRAMS[kind];
    return {
      kind,
      programId: programId === undefined ? builtIn.defaultId : checkPubkey(programId, `${where}.programId`),
      domain: builtIn.domain,
      watch: watchList,
    };
  }
  const idl = extra['idl'];
  if (typeof idl !== 'string' || idl === '')
    throw new ProgramsConfigError(`${where}: a custom-anchor program needs "idl": the path of its IDL file`);
  const idlPath = resolve(baseDir, idl);
  if (!existsSync(idlPath)) throw new ProgramsConfigError(`${where}: IDL file not found: ${idlPath}`);
  let mapping = extra['mapping'];
  if (typeof mapping === 'string') {
    const mappingPath = resolve(baseDir, mapping);
    if (!existsSync(mappingPath)) throw new ProgramsConfigError(`${where}: mapping file not found: ${mappingPath}`);
    try {
      mapping = JSON.parse(readFileSync(mappingPath, 'utf8'));
    } catch (err) {
      throw new ProgramsConfigError(`${where}: mapping file ${mappingPath} is not JSON: ${(err as Error).message}`);
    }
  }
  if (typeof mapping !== 'object' || mapping === null)
    throw new ProgramsConfigError(
      `${where}: a custom-anchor program needs "mapping" (an object or the path of a JSON file)`,
    );
  const name = typeof extra['name'] === 'string' ? extra['name'] : undefined;
  const config: ProgramConfig = {
    kind,
    programId: programId === undefined ? '' : checkPubkey(programId, `${where}.programId`),
    domain: 'custom',
    watch: watchList,
    idlPath,
    mapping,
    ...(name !== undefined ? { name } : {}),
  };
  // Build once now so that a bad IDL or mapping is reported at start, not on the first transaction.
  try {
    const decoder = new CustomAnchorProgram({
      idlPath,
      mapping,
      ...(config.programId !== '' ? { programId: config.programId } : {}),
    });
    return { ...config, programId: decoder.programId };
  } catch (err) {
    throw new ProgramsConfigError(`${where}: ${(err as Error).message}`);
  }
}

/** Parses and validates the programs configuration; throws ProgramsConfigError with a clear message. */
export function parseProgramsConfig(raw: string | undefined, baseDir = process.cwd()): ProgramConfig[] {
  const text = raw?.trim() ?? '';
  let configs: ProgramConfig[];
  if (text === '') {
    configs = (Object.keys(BUILT_IN_PROGRAMS) as Exclude<ProgramKind, 'custom-anchor'>[]).map((k) =>
      entry(k, undefined, undefined, k),
    );
  } else if (text.startsWith('[') || text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ProgramsConfigError(`not valid JSON: ${(err as Error).message}`);
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    configs = list.map((item, i) => {
      const where = `[${i}]`;
      if (typeof item !== 'object' || item === null)
        throw new ProgramsConfigError(`${where} must be an object with "kind"`);
      const o = item as Record<string, unknown>;
      return entry(checkKind(o['kind'], where), o['programId'], o['watch'], where, o, baseDir);
    });
  } else {
    configs = text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((part) => {
        const m = /^([a-z-]+)(?::([^@]+))?(?:@(.+))?$/.exec(part);
        if (m === null) throw new ProgramsConfigError(`"${part}" is not kind[:programId][@watched|watched…]`);
        const kind = checkKind(m[1], `"${part}"`);
        if (kind === 'custom-anchor')
          throw new ProgramsConfigError(`"${part}": custom-anchor programs need the JSON form (idl and mapping)`);
        return entry(kind, m[2], m[3]?.split('|'), `"${part}"`);
      });
  }
  const seen = new Set<string>();
  for (const c of configs) {
    if (seen.has(c.programId)) throw new ProgramsConfigError(`program id ${c.programId} is configured twice`);
    seen.add(c.programId);
  }
  if (configs.length === 0) throw new ProgramsConfigError('no programs configured');
  return configs;
}

/** One program (decoder + mapper) per configured program. */
export function buildPrograms(
  configs: readonly ProgramConfig[],
  options: { readonly onUnknown?: (report: UnknownDiscriminatorReport) => void } = {},
): AnyProgram[] {
  return configs.map((c) => {
    const common: DecoderOptions = {
      programId: c.programId,
      watch: c.watch,
      ...(options.onUnknown !== undefined ? { onUnknown: options.onUnknown } : {}),
    };
    if (c.kind === 'custom-anchor') {
      return new CustomAnchorProgram({
        ...common,
        idlPath: c.idlPath ?? '',
        mapping: c.mapping,
        ...(c.name !== undefined ? { name: c.name } : {}),
      });
    }
    return BUILT_IN_PROGRAMS[c.kind].create(common);
  });
}
