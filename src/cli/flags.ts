// Command-line flags that stand for settings: `solstream serve --port 9000` is PORT=9000 for that
// run. Flags are parsed strictly (an unknown flag or a missing value is a usage error, never
// ignored) and validated with the settings they stand for, in src/config.ts.
import { parseArgs } from 'node:util';

export interface SettingFlag {
  /** The environment variable the flag sets. */
  readonly env: string;
  /** Placeholder for the value in usage text. */
  readonly value: string;
  readonly description: string;
}

export type FlagTable = Readonly<Record<string, SettingFlag>>;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Parses `argv` against `flags`; returns the settings they give, or `help` when asked for. */
export function parseSettingFlags(
  argv: readonly string[],
  flags: FlagTable,
): { readonly help: boolean; readonly env: Readonly<Record<string, string>> } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(Object.keys(flags).map((name) => [name, { type: 'string' as const }])),
      },
    });
  } catch (error) {
    // node:util's messages name the flag ("Unknown option '--prot'"), which is what a user needs.
    throw new UsageError((error as Error).message);
  }
  const env: Record<string, string> = {};
  for (const [name, flag] of Object.entries(flags)) {
    const value = (parsed.values as Record<string, unknown>)[name];
    if (typeof value === 'string') env[flag.env] = value;
  }
  return { help: parsed.values.help === true, env };
}

export function flagsUsage(command: string, summary: string, flags: FlagTable): string {
  const rows = Object.entries(flags).map(
    ([name, f]) => [`--${name} ${f.value}`, `${f.description} (${f.env})`] as const,
  );
  const width = Math.max(...rows.map(([left]) => left.length), '-h, --help'.length);
  return [
    `usage: solstream ${command} [options]`,
    '',
    summary,
    '',
    'options (each stands for the setting in parentheses, see README.md):',
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`),
    `  ${'-h, --help'.padEnd(width)}  this text`,
  ].join('\n');
}

const DATABASE: FlagTable = {
  'database-url': { env: 'DATABASE_URL', value: 'URL', description: 'postgres://… or sqlite:<path>' },
  'log-level': { env: 'LOG_LEVEL', value: 'LEVEL', description: 'fatal, error, warn, info, debug, trace or silent' },
  'log-format': { env: 'SOLSTREAM_LOG_FORMAT', value: 'FORMAT', description: 'auto, json or pretty' },
};

const SOLANA: FlagTable = {
  'rpc-url': { env: 'SOLANA_RPC_URL', value: 'URL', description: 'Solana JSON-RPC endpoint to ingest from' },
  'ws-url': { env: 'SOLANA_WS_URL', value: 'URL', description: 'its PubSub websocket endpoint' },
  commitment: {
    env: 'SOLANA_COMMITMENT',
    value: 'LEVEL',
    description: 'confirmed or finalized: what the database stores',
  },
  programs: { env: 'SOLSTREAM_PROGRAMS', value: 'LIST', description: 'programs to follow (docs/programs.md)' },
  'geyser-url': { env: 'SOLSTREAM_GEYSER_URL', value: 'URL', description: 'Yellowstone (Geyser gRPC) endpoint' },
  processed: {
    env: 'SOLSTREAM_PROCESSED',
    value: 'MODE',
    description: 'processed stream: auto, geyser, rpc-websocket or off',
  },
};

export const SERVE_FLAGS: FlagTable = {
  port: { env: 'PORT', value: 'N', description: 'port of the HTTP/websocket server (0: any free one)' },
  host: { env: 'HOST', value: 'HOST', description: 'interface to bind' },
  ingest: { env: 'SOLSTREAM_INGEST', value: 'MODE', description: 'auto, rpc, local or off' },
  ...DATABASE,
  ...SOLANA,
};

export const INGEST_FLAGS: FlagTable = { ...DATABASE, ...SOLANA };
