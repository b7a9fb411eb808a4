// The TypeScript client as a stranger gets it: `npm pack`, installed into a scratch project outside
// this repository, type-checked with tsc against its declarations, and run against a real gateway.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startGateway, Writer, type Gateway } from '../support/gateway.ts';

const run = promisify(execFile);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const clientDir = path.join(repo, 'clients/typescript');
const tsc = path.join(repo, 'node_modules/typescript/bin/tsc');

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    outDir: 'out',
    types: ['node'],
  },
  include: ['main.ts'],
};

/** Uses the client the way its README says: typed rows, a change, its cursor. */
const MAIN = `import WebSocket from 'ws';
import { createClient, compareCursors, type RowOf, type SubscriptionEvent } from '@solstream/client';

const client = createClient({ url: process.argv[2] as string, WebSocket });
let last: string | null = null;
client.subscribe('swaps', { snapshot: false }).subscribe((event: SubscriptionEvent<'swaps'>) => {
  if (event.type === 'subscribed') console.log(JSON.stringify({ subscribed: true }));
  if (event.type !== 'change') return;
  const row: RowOf<'swaps'> = event.row;
  const amount: string = row.input_amount;
  if (last !== null && compareCursors(event.cursor, last) <= 0) throw new Error('cursor went backwards');
  last = event.cursor;
  console.log(JSON.stringify({ slot: row.slot, amount, cursor: event.cursor }));
  if (row.slot === 3) void client.close();
});
`;

/** Misuses it: a wrong topic and a wrong column type must not type-check. */
const WRONG = `import { createClient } from '@solstream/client';
const client = createClient({ url: 'ws://127.0.0.1:1/ws' });
client.subscribe('swapz');
client.subscribe('swaps', { filter: { slot: 'not a number' } });
`;

describe('TypeScript client package, installed outside the repository', function () {
  this.timeout(240_000);
  let scratch: string;
  let database: TestDatabase;
  let gateway: Gateway;
  let writer: Writer;

  before(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'solstream-client-'));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: clientDir });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    if (packed === undefined) throw new Error('npm pack reported nothing');
    expect(packed.files.map((f) => f.path)).to.include('dist/types/clients/typescript/src/index.d.ts');
    fs.writeFileSync(
      path.join(scratch, 'package.json'),
      JSON.stringify({ name: 'scratch', type: 'module', private: true }),
    );
    fs.writeFileSync(path.join(scratch, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    fs.writeFileSync(path.join(scratch, 'main.ts'), MAIN);
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        `./${packed.filename}`,
        'ws@^8',
        '@types/ws@^8',
        '@types/node@^20',
      ],
      { cwd: scratch },
    );
    database = await createTestDatabase('sqlite');
    gateway = await startGateway(database);
    writer = await Writer.open(database);
  });
  after(async () => {
    await writer?.close();
    await gateway?.close();
    await database?.drop();
    if (scratch !== undefined) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('type-checks a program against the installed declarations, and refuses a wrong topic or filter', async () => {
    await run(process.execPath, [tsc, '-p', scratch, '--noEmit']);
    fs.writeFileSync(path.join(scratch, 'wrong.ts'), WRONG);
    const wrong = await run(process.execPath, [
      tsc,
      '--noEmit',
      '--strict',
      '--module',
      'NodeNext',
      path.join(scratch, 'wrong.ts'),
    ]).then(
      () => null,
      (error: { stdout: string }) => error.stdout,
    );
    expect(wrong, 'a misuse must not type-check').to.be.a('string');
    expect(wrong, 'the unknown topic').to.match(/wrong\.ts\(3,.*"swapz"/);
    expect(wrong, 'the filter of a wrong type').to.match(/wrong\.ts\(4,/);
    // Nothing in the installed package points back into this repository.
    const installed = path.join(scratch, 'node_modules/@solstream/client');
    expect(fs.realpathSync(installed).startsWith(repo)).to.equal(false);
  });

  it('runs a subscription against a real gateway', async () => {
    await run(process.execPath, [tsc, '-p', scratch]);
    const pool = await writer.insertPool();
    const child = execFile(process.execPath, [path.join(scratch, 'out/main.js'), gateway.wsUrl], { cwd: scratch });
    const lines: string[] = [];
    let subscribed: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (subscribed = resolve));
    child.stdout?.on('data', (data: Buffer) => {
      lines.push(
        ...data
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      );
      if (lines.some((l) => l.includes('subscribed'))) subscribed();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await ready;
    for (const slot of [1, 2, 3]) await writer.insertSwap(pool, { slot, input_amount: '18446744073709551615' });
    expect(await exited).to.equal(0);
    const changes = lines
      .filter((l) => l.includes('slot'))
      .map((l) => JSON.parse(l) as { slot: number; amount: string });
    expect(changes.map((c) => c.slot)).to.deep.equal([1, 2, 3]);
    expect(changes[0]?.amount).to.equal('18446744073709551615');
  });
});
