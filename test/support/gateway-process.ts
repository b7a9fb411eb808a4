// Gateways in child processes (test/gateway/fixtures/gateway-process.ts), for tests that kill one
// with SIGKILL or run several side by side on one database.
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import type { TestDatabase } from './database.ts';

const FIXTURE = new URL('../gateway/fixtures/gateway-process.ts', import.meta.url).pathname;

export interface GatewayProcess {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly wsUrl: string;
  readonly httpUrl: string;
}

export async function spawnGateway(database: TestDatabase, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import=tsx', FIXTURE], {
    env: {
      ...process.env,
      DATABASE_URL: database.url,
      PORT: '0',
      LOG_LEVEL: 'silent',
      SOLSTREAM_SQLITE_POLL_MS: '10',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: child.stdout! });
  const { port, pid } = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`gateway process exited with ${code}`)));
    lines.once('line', (line) => resolve(JSON.parse(line) as { port: number; pid: number }));
  });
  return { process: child, pid, port, wsUrl: `ws://127.0.0.1:${port}/ws`, httpUrl: `http://127.0.0.1:${port}` };
}

/** SIGKILL, and wait for the exit. */
export function killGateway(child: Pick<GatewayProcess, 'process'>): Promise<void> {
  return new Promise((resolve) => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) return resolve();
    child.process.once('exit', () => resolve());
    child.process.kill('SIGKILL');
  });
}
