// A server under test in a child process of its own (the gateway's test fixture, or the baseline's
// `serve`), so that its CPU time and memory, read from /proc/<pid>, are its own and not the load
// generator's or the clients'.
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';

export interface ServerProcess {
  readonly pid: number;
  readonly wsUrl: string;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
}

const GATEWAY = new URL('../test/gateway/fixtures/gateway-process.ts', import.meta.url).pathname;
const BASELINE = new URL('./baseline.ts', import.meta.url).pathname;

/**
 * The settings test/support/gateway.ts gives an in-process gateway (silent, any free port), direct
 * mode (no NATS_URL from the caller's environment), and a send buffer large enough that the
 * fan-out clients, which read as fast as this shared box lets them, are not dropped as slow.
 */
const GATEWAY_ENV: Readonly<Record<string, string>> = {
  LOG_LEVEL: 'silent',
  SOLSTREAM_SQLITE_POLL_MS: '10',
  SOLSTREAM_WS_MAX_BUFFERED_BYTES: String(64 * 1024 * 1024),
  NATS_URL: '',
};

/** Children still running, killed if this process exits without closing them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export type ServerKind = 'gateway' | 'baseline';

export async function spawnServer(kind: ServerKind, databaseUrl: string): Promise<ServerProcess> {
  const args = kind === 'gateway' ? [GATEWAY] : [BASELINE, 'serve'];
  const child = spawn(process.execPath, ['--import=tsx', ...args], {
    env: {
      ...process.env,
      ...(kind === 'gateway' ? GATEWAY_ENV : { LOG_LEVEL: 'silent' }),
      DATABASE_URL: databaseUrl,
      PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    running.delete(child);
  };
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${kind} process: no port within 60 s`)), 60_000);
      const fail = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`${kind} process exited with ${code} before listening`));
      };
      child.once('exit', fail);
      readline.createInterface({ input: child.stdout! }).once('line', (first) => {
        clearTimeout(timer);
        child.off('exit', fail);
        resolve(first);
      });
    });
    const { port } = JSON.parse(line) as { port: number };
    // node --import=tsx runs the script in the spawned process itself, so its pid is the server's.
    return { pid: child.pid!, wsUrl: `ws://127.0.0.1:${port}/ws`, kill };
  } catch (error) {
    await kill();
    throw error;
  }
}
