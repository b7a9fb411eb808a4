// Clusters for ingestion tests, each in its own process and each able to hold still for a
// comparison: `solstream simulate` (the project's local cluster; SIGUSR1 pauses its activity,
// SIGUSR2 resumes it, SIGHUP drops its websockets) and the independent cluster in test/independent (Python, sharing no code
// with the project; paused and resumed over its control endpoints).
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Connection } from '@solana/web3.js';
import { eventually, freePortPair, SolstreamProcess } from './processes.ts';

export interface TestCluster {
  readonly kind: 'simulate' | 'independent';
  readonly rpcUrl: string;
  readonly wsUrl: string;
  /** The newest slot. */
  slot(): Promise<number>;
  /** Resolves once the cluster has produced `n` more slots. */
  advance(n: number): Promise<void>;
  /** Stops producing transactions (the RPC keeps answering). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Cuts every PubSub connection, as a validator does to a lagging client. */
  dropWebsockets(): Promise<void>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  readonly seed: number;
  /** Transactions per second. */
  readonly rate: number;
  /** Transactions already on the chain when the cluster starts answering. */
  readonly history: number;
}

function slots(rpcUrl: string) {
  const connection = new Connection(rpcUrl, 'confirmed');
  const slot = () => connection.getSlot('confirmed');
  const confirmedSlot = slot;
  const advance = async (n: number) => {
    const from = await slot();
    await eventually(async () => (await slot()) >= from + n, `${n} more slots`, 60_000, 50);
  };
  return { slot, advance, confirmedSlot };
}

/** `solstream simulate` in its own process, with `history` transactions played before it is returned. */
export async function startSimulate(options: ClusterOptions): Promise<TestCluster> {
  const port = await freePortPair();
  // Forks on, and slots confirmed shortly after they land: the ingester (at `confirmed`) must store
  // every confirmed transaction and nothing of a fork that died.
  const sim = SolstreamProcess.start(
    'simulate',
    [
      'simulate',
      '--port',
      String(port),
      '--grpc-port',
      String(await freePortPair()),
      '--seed',
      String(options.seed),
      '--rate',
      String(options.rate),
      '--confirm-after',
      '300ms',
      '--finalize-after',
      '2s',
      '--fork-rate',
      '0.1',
    ],
    {},
  );
  const started = await sim.waitFor((l) => l.msg.startsWith('local cluster running'), 'the local cluster');
  const rpcUrl = String(started['rpcUrl']);
  const { slot, advance, confirmedSlot } = slots(rpcUrl);
  // One transaction per slot: history is reached when the slot is.
  await eventually(async () => (await slot()) >= options.history, `${options.history} transactions of history`);
  let pauses = 0;
  let resumes = 0;
  let drops = 0;
  return {
    kind: 'simulate',
    rpcUrl,
    wsUrl: String(started['wsUrl']),
    slot,
    advance,
    async pause() {
      const n = ++pauses;
      sim.signal('SIGUSR1');
      await eventually(async () => sim.lines.filter((l) => l.msg === 'activity paused').length >= n, 'the pause');
      // The last slots confirm a moment after the activity stops: wait until nothing moves.
      let last = -1;
      await eventually(
        async () => {
          const now = await confirmedSlot();
          const still = now === last;
          last = now;
          return still;
        },
        'the confirmed slot to settle',
        30_000,
        700,
      );
    },
    async resume() {
      const n = ++resumes;
      sim.signal('SIGUSR2');
      await eventually(async () => sim.lines.filter((l) => l.msg === 'activity resumed').length >= n, 'the resume');
    },
    async dropWebsockets() {
      const n = ++drops;
      sim.signal('SIGHUP');
      await eventually(async () => sim.lines.filter((l) => l.msg === 'websockets dropped').length >= n, 'the drop');
    },
    async close() {
      await sim.stop();
    },
  };
}

const INDEPENDENT = fileURLToPath(new URL('../independent/cluster/main.py', import.meta.url));

/** The independent Python cluster (test/independent), with `history` transactions played at start. */
export async function startIndependent(options: ClusterOptions): Promise<TestCluster> {
  const child = spawn(
    'python3',
    [
      INDEPENDENT,
      '--port',
      '0',
      '--seed',
      String(options.seed),
      '--rate',
      String(options.rate),
      '--history',
      String(options.history),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { rpcUrl, wsUrl } = await new Promise<{ rpcUrl: string; wsUrl: string }>((resolve, reject) => {
    child.once('error', (error) =>
      reject(new Error(`python3 could not start the independent cluster: ${error.message}`)),
    );
    child.once('exit', (code) => reject(new Error(`the independent cluster exited with ${code}`)));
    readline
      .createInterface({ input: child.stdout })
      .once('line', (line) => resolve(JSON.parse(line) as { rpcUrl: string; wsUrl: string }));
  });
  const control = async (path: string) => {
    const response = await fetch(`${rpcUrl}/control/${path}`, { method: 'POST' });
    if (!response.ok) throw new Error(`control ${path}: HTTP ${response.status}`);
  };
  const { slot, advance } = slots(rpcUrl);
  return {
    kind: 'independent',
    rpcUrl,
    wsUrl,
    slot,
    advance,
    pause: () => control('pause'),
    resume: () => control('resume'),
    dropWebsockets: () => control('drop-websockets'),
    async close() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
