// solstream commands in their own processes, as an operator runs them: `solstream simulate` and
// `solstream serve`, started from bin/solstream.js with settings in the environment, their JSON log
// lines collected, stopped with SIGTERM or killed with SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/solstream.js', import.meta.url));

export type LogLine = Record<string, unknown> & { level: number; msg: string };

export class SolstreamProcess {
  readonly lines: LogLine[] = [];
  private readonly waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const out = readline.createInterface({ input: child.stdout! });
    out.on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { level: 30, msg: text };
      }
      this.lines.push(line);
      for (const waiter of [...this.waiters]) {
        if (waiter.match(line)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    });
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static start(name: string, args: readonly string[], env: Readonly<Record<string, string>>): SolstreamProcess {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, LOG_LEVEL: 'info', SOLSTREAM_LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = new SolstreamProcess(name, child);
    readline
      .createInterface({ input: child.stderr! })
      .on('line', (text) => started.lines.push({ level: 50, msg: text }));
    return started;
  }

  /** The first log line (already seen or to come) that `match` accepts. */
  async waitFor(match: (line: LogLine) => boolean, what: string, timeoutMs = 60_000): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return seen;
    let timer: NodeJS.Timeout | undefined;
    const found = new Promise<LogLine>((resolve) => this.waiters.push({ match, resolve }));
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.name}: timed out waiting for ${what}; last lines:\n${this.tail()}`)),
        timeoutMs,
      );
    });
    const exit = this.exited.then(({ code, signal }) => {
      throw new Error(`${this.name} exited (${code ?? signal}) while waiting for ${what}:\n${this.tail()}`);
    });
    try {
      return await Promise.race([found, timeout, exit]);
    } finally {
      clearTimeout(timer);
    }
  }

  tail(n = 15): string {
    return this.lines
      .slice(-n)
      .map((l) => JSON.stringify(l))
      .join('\n');
  }

  /** Error-level lines (and anything written to stderr). */
  errors(): LogLine[] {
    return this.lines.filter((l) => l.level >= 50);
  }

  signal(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** SIGTERM, then the exit. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.signal('SIGTERM');
    return this.exited;
  }

  /** SIGKILL: the process dies on the spot, in the middle of whatever it was doing. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }
}

/** A free TCP port `p` with `p + 1` free too (an RPC port and its websocket port). */
export async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port: p } = server.address() as net.AddressInfo;
        server.close(() => resolve(p));
      });
    });
    if (port >= 65535) continue;
    const next = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port + 1, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (next) return port;
  }
}

/** `solstream serve`'s URL from its log, once it serves. */
export async function servedUrl(serve: SolstreamProcess): Promise<string> {
  const line = await serve.waitFor((l) => l.msg === 'solstream is serving', 'the gateway to serve');
  return String(line['url']);
}

/** GET a JSON document. */
export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as T };
}

export async function eventually<T>(
  check: () => Promise<T | null | undefined | false>,
  what: string,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== null && value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
