// Starts the independent Python cluster (test/independent/cluster/main.py) as a child process and
// talks to its control endpoints. The cluster needs python3 and nothing else; when python3 is
// missing this throws, so the suite fails instead of skipping.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./cluster/main.py', import.meta.url));
const START_TIMEOUT_MS = 30_000;

export interface ClusterState {
  readonly slot: number;
  readonly blockHeight: number;
  readonly transactions: number;
  readonly paused: boolean;
  readonly websockets: number;
  readonly subscriptions: number;
  readonly notifications: number;
  readonly droppedWebsockets: number;
  readonly rpcRequests: number;
  readonly rateLimited: number;
}

export interface IndependentCluster {
  readonly rpcUrl: string;
  readonly wsUrl: string;
  readonly process: ChildProcessWithoutNullStreams;
  state(): Promise<ClusterState>;
  control(action: 'pause' | 'resume' | 'drop-websockets' | `step?n=${number}`): Promise<ClusterState>;
  /** Sends SIGTERM and resolves with the exit code (null when killed by a signal). */
  stop(): Promise<number | null>;
}

export function requirePython(): string {
  const probe = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(
      `python3 is required to run the independent cluster (${probe.error?.message ?? probe.stderr}); install Python 3.11+`,
    );
  }
  return probe.stdout.trim();
}

export interface ClusterOptions {
  readonly seed?: number;
  readonly rate?: number;
  readonly history?: number;
  readonly programs?: readonly string[];
  readonly rateLimit?: number;
}

export async function startIndependentCluster(options: ClusterOptions = {}): Promise<IndependentCluster> {
  requirePython();
  const args = [
    MAIN,
    '--port',
    '0',
    '--seed',
    String(options.seed ?? 7),
    '--rate',
    String(options.rate ?? 0),
    '--history',
    String(options.history ?? 200),
  ];
  if (options.programs !== undefined) args.push('--programs', ...options.programs);
  if (options.rateLimit !== undefined) args.push('--rate-limit', String(options.rateLimit));
  const child = spawn('python3', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const urls = await new Promise<{ rpcUrl: string; wsUrl: string }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`cluster did not start in time: ${stderr}`)), START_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const newline = out.indexOf('\n');
      if (newline >= 0) {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(out.slice(0, newline)) as { rpcUrl: string; wsUrl: string });
        } catch (error) {
          reject(new Error(`cluster printed ${out.slice(0, newline)}: ${(error as Error).message}`));
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cluster exited with ${code} before listening: ${stderr}`));
    });
  });
  const request = async (method: 'GET' | 'POST', path: string): Promise<ClusterState> => {
    const res = await fetch(`${urls.rpcUrl}/control/${path}`, { method });
    if (!res.ok) throw new Error(`/control/${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as ClusterState;
  };
  return {
    ...urls,
    process: child,
    state: () => request('GET', 'state'),
    control: (action) => request('POST', action),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Polls `check` until it returns a value other than undefined; fails loudly with `what` after `ms`. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
