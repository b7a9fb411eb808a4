// The examples run as documented (`node --import=tsx examples/x.ts …`) against a real gateway.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createTestDatabase, pubkey, startGateway, Writer, type Gateway, type TestDatabase } from './support.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function run(script: string, args: string[]): { child: ChildProcessWithoutNullStreams; output: () => string } {
  const child = spawn(process.execPath, ['--import=tsx', path.join(ROOT, 'examples', script), ...args], { cwd: ROOT });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function until(condition: () => boolean, what: string, output: () => string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('examples', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let writer: Writer;
  let gateway: Gateway;
  const children: ChildProcessWithoutNullStreams[] = [];

  before(async () => {
    database = await createTestDatabase('sqlite');
    writer = await Writer.open(database);
    gateway = await startGateway(database);
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await gateway.close();
    await writer.close();
    await database.drop();
  });

  it('escrow-mirror keeps the set of active escrows', async () => {
    const maker = pubkey();
    const first = await writer.insertEscrow({ maker, amount_a: '5' });
    const mirror = run('escrow-mirror.ts', [gateway.wsUrl, maker]);
    children.push(mirror.child);
    await until(() => /active=1 /.test(mirror.output()), 'the snapshot', mirror.output);
    await writer.insertEscrow({ maker, amount_a: '7', state: 'funded' });
    await until(() => /active=2 .*locked_a=12/.test(mirror.output()), 'the insert', mirror.output);
    await writer.setEscrowState(first, 'completed');
    await until(() => /active=1 .*-1 .*locked_a=7/.test(mirror.output()), 'the completion', mirror.output);
    mirror.child.kill('SIGINT');
  });

  it('trading-bot prints price and volume per window for its pool', async () => {
    const pool = await writer.insertPool();
    const other = await writer.insertPool();
    const bot = run('trading-bot.ts', [pool, gateway.wsUrl, '1']);
    children.push(bot.child);
    await until(() => bot.output().includes('subscribed at cursor'), 'the subscription', bot.output);
    await writer.insertSwap(pool, { input_amount: '100', output_amount: '250' });
    await writer.insertSwap(pool, { input_amount: '100', output_amount: '300' });
    await writer.insertSwap(other, { input_amount: '1', output_amount: '1' });
    // The two swaps may fall in one window or in two: add the windows up.
    const windows = () =>
      [...bot.output().matchAll(/swaps=(\d+) +price=(\S+) +volume_in=(\d+) +volume_out=(\d+)/g)].map((m) => ({
        swaps: Number(m[1]),
        price: m[2],
        volumeIn: BigInt(m[3] as string),
        volumeOut: BigInt(m[4] as string),
      }));
    await until(() => windows().reduce((n, w) => n + w.swaps, 0) >= 2, 'two swaps', bot.output);
    await new Promise((r) => setTimeout(r, 1500));
    const seen = windows();
    expect(seen.reduce((n, w) => n + w.swaps, 0)).to.equal(2);
    expect(seen.reduce((n, w) => n + w.volumeIn, 0n)).to.equal(200n);
    expect(seen.reduce((n, w) => n + w.volumeOut, 0n)).to.equal(550n);
    expect(seen.at(-1)?.price).to.equal('3.0000000');
    bot.child.kill('SIGINT');
  });
});
