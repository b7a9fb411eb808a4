// The commands an operator types: flags stand for settings, and anything else is refused with usage.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createEmptyDatabase } from '../support/database.ts';
import { freePortPair, servedUrl, SolstreamProcess } from '../support/processes.ts';

const BIN = fileURLToPath(new URL('../../bin/solstream.js', import.meta.url));

function run(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, SOLSTREAM_INGEST: 'off' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('solstream command-line flags', function () {
  this.timeout(60_000);

  for (const [args, message] of [
    [['serve', '--prot', '9000'], /Unknown option '--prot'/],
    [['serve', '--port'], /--port/],
    [['ingest', 'extra'], /extra/],
  ] as const) {
    it(`refuses "solstream ${args.join(' ')}" with a usage message and status 2`, async () => {
      const { code, stderr } = await run(args);
      expect(code).to.equal(2);
      expect(stderr).to.match(message);
      expect(stderr).to.contain(`usage: solstream ${args[0]}`);
    });
  }

  it('lists every flag with the setting it stands for under --help', async () => {
    const { code, stdout } = await run(['serve', '--help']);
    expect(code).to.equal(0);
    for (const flag of ['--port N', '--host HOST', '--database-url URL', '--rpc-url URL', '--ingest MODE'])
      expect(stdout).to.contain(flag);
    expect(stdout).to.contain('(PORT)');
  });

  it('serves on the port --port names, over the PORT setting', async () => {
    const database = await createEmptyDatabase('sqlite');
    const port = await freePortPair();
    const serve = SolstreamProcess.start('serve', ['serve', '--port', String(port), '--ingest', 'off'], {
      DATABASE_URL: database.url,
      PORT: '1',
    });
    try {
      expect(await servedUrl(serve)).to.equal(`http://127.0.0.1:${port}`);
    } finally {
      await serve.kill();
      await database.remove();
    }
  });

  it('refuses a bad value for a flag as it would the setting, naming the setting', async () => {
    const { code, stderr } = await run(['serve', '--port', 'ninety']);
    expect(code).to.equal(78);
    expect(stderr).to.match(/PORT must be a whole number/);
  });
});
