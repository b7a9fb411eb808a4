// `solstream tail` as a user runs it: a child process (`node bin/solstream.js tail …`) against a
// real gateway, its NDJSON output compared line by line for a known sequence of writes.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createTestDatabase, pubkey, startGateway, Writer, type Gateway, type TestDatabase } from './support.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/solstream.js');

class Tail {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private buffered = '';

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      const parts = this.buffered.split('\n');
      this.buffered = parts.pop() ?? '';
      this.lines.push(...parts);
    });
    child.stderr.on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  static start(args: string[]): Tail {
    // tail opens no database; any valid configuration will do.
    const child = spawn(process.execPath, [BIN, 'tail', ...args], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'silent', DATABASE_URL: 'sqlite:data/unused-by-tail.sqlite' },
    });
    return new Tail(child);
  }

  async until(count: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length < count) {
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(`tail printed ${this.lines.length} of ${count} lines; stderr: ${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** A line with the volatile parts (database timestamps, cursors) replaced by placeholders. */
function stable(line: string): unknown {
  const record = JSON.parse(line) as { row?: Record<string, unknown>; cursor?: string };
  if (record.row !== undefined) {
    for (const column of ['created_at', 'updated_at']) {
      const value = record.row[column];
      if (typeof value === 'string') {
        expect(value).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
        record.row[column] = '<timestamp>';
      }
    }
  }
  if (record.cursor !== undefined) {
    expect(record.cursor).to.match(/^\d+$/);
    record.cursor = '<cursor>';
  }
  return record;
}

describe('solstream tail', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let writer: Writer;
  let gateway: Gateway;
  const running: Tail[] = [];

  before(async () => {
    database = await createTestDatabase('postgres');
    writer = await Writer.open(database);
    gateway = await startGateway(database);
  });

  afterEach(() => {
    for (const tail of running.splice(0)) if (tail.child.exitCode === null) tail.child.kill('SIGKILL');
  });

  after(async () => {
    await gateway.close();
    await writer.close();
    await database.drop();
  });

  const escrowRow = (fields: {
    id: number;
    pubkey: string;
    maker: string;
    mints: string[];
    state: string;
    amount_a: string;
  }) => ({
    id: fields.id,
    pubkey: fields.pubkey,
    escrow_id: '7',
    maker: fields.maker,
    taker: null,
    mint_a: fields.mints[0],
    mint_b: fields.mints[1],
    amount_a: fields.amount_a,
    amount_b: '2000',
    vault: fields.mints[2],
    state: fields.state,
    created_slot: 42,
    completed_slot: null,
    created_at: '<timestamp>',
    updated_at: '<timestamp>',
  });

  it('prints the snapshot and then each change as NDJSON when stdout is a pipe', async () => {
    const maker = pubkey();
    const mints = [pubkey(), pubkey(), pubkey()];
    const insert = async (key: string, amount: string) => {
      await writer.sql(
        `INSERT INTO escrows (pubkey, escrow_id, maker, mint_a, mint_b, amount_a, amount_b, vault, state, created_slot)
         VALUES ($1, '7', $2, $3, $4, $5, '2000', $6, 'created', 42)`,
        [key, maker, mints[0], mints[1], amount, mints[2]],
      );
      const [row] = (
        await writer.db.sequelize.query('SELECT id FROM escrows WHERE pubkey = $1', { bind: [key], plain: false })
      )[0] as { id: number }[];
      return Number(row?.id);
    };
    const first = pubkey();
    const second = pubkey();
    const firstId = await insert(first, '1000');
    await writer.insertEscrow({ maker: pubkey() }); // someone else's: filtered out

    const tail = Tail.start(['escrows', '--filter', `maker=${maker}`, '--url', gateway.wsUrl]);
    running.push(tail);
    await tail.until(1);
    const secondId = await insert(second, '18446744073709551615');
    await writer.setEscrowState(first, 'funded');
    await writer.deleteEscrow(second);
    await tail.until(4);
    tail.child.kill('SIGINT');
    expect(await tail.exited).to.equal(0);

    expect(tail.lines.map(stable)).to.deep.equal([
      {
        type: 'snapshot',
        topic: 'escrows',
        row: escrowRow({ id: firstId, pubkey: first, maker, mints, state: 'created', amount_a: '1000' }),
        cursor: '<cursor>',
      },
      {
        type: 'change',
        topic: 'escrows',
        op: 'insert',
        row: escrowRow({
          id: secondId,
          pubkey: second,
          maker,
          mints,
          state: 'created',
          amount_a: '18446744073709551615',
        }),
        cursor: '<cursor>',
        slot: null,
        commitment: 'confirmed',
      },
      {
        type: 'change',
        topic: 'escrows',
        op: 'update',
        row: escrowRow({ id: firstId, pubkey: first, maker, mints, state: 'funded', amount_a: '1000' }),
        cursor: '<cursor>',
        slot: null,
        commitment: 'confirmed',
      },
      {
        type: 'change',
        topic: 'escrows',
        op: 'delete',
        row: escrowRow({
          id: secondId,
          pubkey: second,
          maker,
          mints,
          state: 'created',
          amount_a: '18446744073709551615',
        }),
        cursor: '<cursor>',
        slot: null,
        commitment: 'confirmed',
      },
    ]);
    const cursors = tail.lines.map((line) => BigInt((JSON.parse(line) as { cursor: string }).cursor));
    expect(cursors[1]! > cursors[0]! && cursors[2]! > cursors[1]! && cursors[3]! > cursors[2]!).to.equal(true);
  });

  it('resumes with --since from a printed cursor, printing only what came after it', async () => {
    const pool = await writer.insertPool();
    const before = await writer.insertSwap(pool, { slot: 1 });
    const first = Tail.start(['swaps', '--filter', `pool_pubkey=${pool}`, '--url', gateway.wsUrl]);
    running.push(first);
    await first.until(1);
    first.child.kill('SIGINT');
    expect(await first.exited).to.equal(0);
    const cursor = JSON.parse(first.lines[0]!) as { cursor: string; row: { signature: string } };
    expect(cursor.row.signature).to.equal(before);

    const after = [await writer.insertSwap(pool, { slot: 2 }), await writer.insertSwap(pool, { slot: 3 })];
    const resumed = Tail.start([
      'swaps',
      '--filter',
      `pool_pubkey=${pool}`,
      '--since',
      cursor.cursor,
      '--url',
      gateway.wsUrl,
    ]);
    running.push(resumed);
    await resumed.until(2);
    resumed.child.kill('SIGINT');
    expect(await resumed.exited).to.equal(0);
    expect(
      resumed.lines.map((l) => (JSON.parse(l) as { op: string; row: { signature: string } }).row.signature),
    ).to.deep.equal(after);
  });

  it('prints an aligned table with --format table', async () => {
    const maker = pubkey();
    await writer.insertEscrow({ maker, amount_a: '5' });
    const tail = Tail.start(['escrows', '--filter', `maker=${maker}`, '--format', 'table', '--url', gateway.wsUrl]);
    running.push(tail);
    await tail.until(3);
    tail.child.kill('SIGINT');
    expect(await tail.exited).to.equal(0);
    const [header, rule, row] = tail.lines as [string, string, string];
    expect(header).to.match(/^event\s+commitment\s+slot\s+cursor\s+id\s+pubkey\s+escrow_id\s+maker/);
    expect(rule).to.match(/^-+\s+-+\s+/);
    expect(row.startsWith('snapshot')).to.equal(true);
    // Columns line up: every column starts where its header does.
    const start = (text: string, from = 0) => header.indexOf(text, from);
    expect(row.slice(start('maker'), start('maker') + 5)).to.equal(maker.slice(0, 5));
    expect(row.slice(start('state'), start('state') + 7)).to.equal('created');
  });

  it('rejects an unknown topic and an unknown column with a clear message and exit code 2', async () => {
    const topic = Tail.start(['escrowz', '--url', gateway.wsUrl]);
    running.push(topic);
    expect(await topic.exited).to.equal(2);
    expect(topic.stderr).to.include('unknown topic "escrowz"').and.include('escrows');

    const column = Tail.start(['escrows', '--filter', 'owner=abc', '--url', gateway.wsUrl]);
    running.push(column);
    expect(await column.exited).to.equal(2);
    expect(column.stderr).to.include('escrows has no column "owner"').and.include('maker');

    const value = Tail.start(['escrows', '--filter', 'amount_a=-1', '--url', gateway.wsUrl]);
    running.push(value);
    expect(await value.exited).to.equal(2);
    expect(value.stderr).to.include('expected a u64 amount');
  });
});
