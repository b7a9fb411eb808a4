// `solstream migrate up | down [--to NAME] | status`
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { describeTarget, openDatabase } from '../db/connection.ts';
import { withDatabaseLock } from '../db/locks.ts';
import { createMigrator } from '../db/migrator.ts';

const HELP = `usage: solstream migrate up [--to NAME]      apply pending migrations (up to and including NAME)
       solstream migrate down [--to NAME|0]  revert the last migration (or down to and including NAME; 0 = all)
       solstream migrate status              list applied and pending migrations`;

export async function run(argv: string[], config: Config): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { to: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [action] = positionals;
  if (values.help || action === undefined || !['up', 'down', 'status'].includes(action) || positionals.length > 1) {
    process.stdout.write(`${HELP}\n`);
    return values.help ? 0 : 2;
  }
  const db = await openDatabase(config);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  try {
    const migrator = createMigrator(db, out);
    out(`database: ${describeTarget(config)}`);
    if (action === 'status') {
      for (const m of await migrator.executed()) out(`  applied  ${m.name}`);
      for (const m of await migrator.pending()) out(`  pending  ${m.name}`);
      return 0;
    }
    const known = [...(await migrator.executed()), ...(await migrator.pending())].map((m) => m.name);
    if (values.to !== undefined && values.to !== '0' && !known.includes(values.to)) {
      process.stderr.write(`no migration named "${values.to}"; known: ${known.join(', ')}\n`);
      return 2;
    }
    // Under the migrate lock, as `serve` migrates: never beside a replica that is starting.
    await withDatabaseLock(db, 'migrate', async () => {
      if (action === 'up') {
        const done = await migrator.up(values.to === undefined ? {} : { to: values.to });
        if (done.length === 0) out('nothing to migrate: the schema is up to date');
      } else {
        const to = values.to === undefined ? undefined : values.to === '0' ? 0 : values.to;
        const done = await migrator.down(to === undefined ? {} : { to });
        if (done.length === 0) out('nothing to revert');
      }
    });
    return 0;
  } finally {
    await db.close();
  }
}
