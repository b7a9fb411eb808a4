// CPU time, the benchmarks' stable figure: wall-clock rates on a shared two-core box wander by a
// third between runs, the CPU a piece of work costs much less.
// - this process: process.cpuUsage() (user + system, µs);
// - a server under test in its own process: childCpu(pid), from /proc/<pid>/stat (utime + stime,
//   in clock ticks of 10 ms);
// - PostgreSQL: the backends serving one database, read the same way, for work the database does
//   on the benchmark's behalf (triggers, queries).
import { readFileSync } from 'node:fs';
import pg from 'pg';

const TICK_MS = 10;

/** CPU time of this process since `start()`, in ms. */
export function processCpu(): () => number {
  const start = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(start);
    return (used.user + used.system) / 1000;
  };
}

function ticksOf(pid: number): number | null {
  try {
    // Fields after the parenthesised command name: state is field 3, utime 14 and stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null; // the backend ended
  }
}

/** CPU time (user + system) another process on this machine has used so far, in ms. */
export function childCpu(pid: number): number {
  const ticks = ticksOf(pid);
  if (ticks === null) throw new Error(`no process ${pid} to read the CPU time of`);
  return ticks * TICK_MS;
}

/**
 * CPU time of every PostgreSQL backend connected to `database` (on this machine), from now until
 * the returned function is called, in ms. Backends that connect meanwhile count from zero, ones that
 * end meanwhile count up to their last reading (read again before they close: take readings with
 * `sample()` during long runs).
 */
export async function postgresCpu(
  adminUrl: string,
  database: string,
): Promise<{ sample(): Promise<void>; stop(): Promise<number> }> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const backends = async () =>
    (
      await admin.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [database],
      )
    ).rows.map((r) => r.pid);
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  for (const pid of await backends()) {
    const t = ticksOf(pid);
    if (t !== null) first.set(pid, t);
  }
  const sample = async () => {
    for (const pid of await backends()) {
      const t = ticksOf(pid);
      if (t === null) continue;
      if (!first.has(pid)) first.set(pid, 0);
      last.set(pid, t);
    }
  };
  return {
    sample,
    async stop() {
      await sample();
      await admin.end();
      let ticks = 0;
      for (const [pid, end] of last) ticks += end - (first.get(pid) ?? 0);
      return ticks * TICK_MS;
    },
  };
}
