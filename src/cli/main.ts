// `solstream <command>`: reads the configuration once and hands it to one subcommand.
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { flagsUsage, INGEST_FLAGS, parseSettingFlags, SERVE_FLAGS, UsageError, type FlagTable } from './flags.ts';

export type Command = (argv: string[], config: Config) => Promise<number>;

interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<Command>;
  /** Flags standing for settings; a command with a table takes no other arguments. */
  readonly flags?: FlagTable;
}

const COMMANDS: Record<string, CommandEntry> = {
  serve: {
    summary: 'run the gateway (HTTP + websocket), change capture, and the ingester when configured',
    load: async () => (await import('./serve.ts')).run,
    flags: SERVE_FLAGS,
  },
  migrate: { summary: 'migrate up | down [--to NAME] | status', load: async () => (await import('./migrate.ts')).run },
  ingest: {
    summary: 'run the ingester alone (one per database ingests; others stand by)',
    load: async () => (await import('./ingest.ts')).run,
    flags: INGEST_FLAGS,
  },
  simulate: {
    summary: 'run the offline local cluster (Solana JSON-RPC + PubSub with live program activity)',
    load: async () => (await import('./simulate.ts')).run,
  },
  tail: { summary: 'print a topic: snapshot, then live changes', load: async () => (await import('./tail.ts')).run },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: solstream <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Settings come from the environment (DATABASE_URL, PORT, …); see README.md.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`solstream: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  let env: NodeJS.ProcessEnv = process.env;
  let args = rest;
  if (command.flags !== undefined) {
    try {
      const parsed = parseSettingFlags(rest, command.flags);
      if (parsed.help) {
        process.stdout.write(`${flagsUsage(name, command.summary, command.flags)}\n`);
        return 0;
      }
      env = { ...process.env, ...parsed.env };
      args = [];
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      process.stderr.write(
        `solstream ${name}: ${error.message}\n\n${flagsUsage(name, command.summary, command.flags)}\n`,
      );
      return 2;
    }
  }
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`solstream: configuration error: ${error.message}\n`);
      return 78; // EX_CONFIG
    }
    throw error;
  }
  try {
    return await (
      await command.load()
    )(args, config);
  } catch (error) {
    process.stderr.write(`solstream ${name}: ${(error as Error).message}\n`);
    return 1;
  }
}
