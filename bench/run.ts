// `npm run bench`: every benchmark on PostgreSQL (each creates and drops its own database), the
// gateway's figures beside the baseline's from the same run, each wall-clock figure beside the CPU
// time it cost (the stable figure on a shared box), as markdown tables printed and written to
// bench/results/latest.md with the raw figures in bench/results/latest.json.
//   SOLSTREAM_BENCH_IDLE=10000 SOLSTREAM_BENCH_TRANSACTIONS=20000 npm run bench
//   SOLSTREAM_BENCH_ONLY=gateway,ingest npm run bench     (parts: ingest, gateway, scale-out, commitment)
import fs from 'node:fs';
import os from 'node:os';
import { benchCommitment, renderCommitment } from './commitment.ts';
import { benchGateway, type GatewayBenchResult } from './gateway.ts';
import { runIngestBench, type IngestBenchResults } from './ingest.ts';
import { benchScaleOut, type ScaleOutFigures } from './scale-out.ts';

const PARTS = ['ingest', 'gateway', 'scale-out', 'commitment'] as const;
type Part = (typeof PARTS)[number];

function partsToRun(raw: string | undefined): ReadonlySet<Part> {
  if (raw === undefined || raw.trim() === '') return new Set(PARTS);
  const names = raw.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(PARTS as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new Error(`SOLSTREAM_BENCH_ONLY: unknown part ${unknown.join(', ')} (parts: ${PARTS.join(', ')})`);
  return new Set(names as Part[]);
}

const idleConnections = Number(process.env.SOLSTREAM_BENCH_IDLE ?? 10_000);
const transactions = Number(process.env.SOLSTREAM_BENCH_TRANSACTIONS ?? 10_000);
const parts = partsToRun(process.env.SOLSTREAM_BENCH_ONLY);
const log = (line: string) => process.stderr.write(`${line}\n`);

interface IngestRuns {
  readonly small: IngestBenchResults;
  readonly large: IngestBenchResults;
  readonly largeWithoutCapture: IngestBenchResults;
  readonly streamed: IngestBenchResults;
}

async function benchIngest(): Promise<IngestRuns> {
  const logRun = (r: IngestBenchResults) =>
    log(
      `ingest: ${r.persistedUpdatesPerSecond} updates/s persisted; CPU per update ${r.persistCpuUsPerUpdate} µs node, ` +
        `${r.postgresCpuUsPerUpdate} µs PostgreSQL`,
    );
  log('ingest: write path alone');
  const small = await runIngestBench({ transactions });
  log(`ingest: ${small.decodedPerSecond} decoded/s`);
  logRun(small);
  // Capture on and off one after the other, on the same transactions, for the capture's cost.
  log('ingest: write path alone, batches of 2,000');
  const large = await runIngestBench({ transactions, batchSize: 2000 });
  logRun(large);
  log('ingest: write path alone, batches of 2,000, capture off');
  const largeWithoutCapture = await runIngestBench({ transactions, batchSize: 2000, capture: false });
  logRun(largeWithoutCapture);
  log('ingest: with a gateway streaming every change');
  const streamed = await runIngestBench({ transactions, stream: true });
  log(`ingest: ${streamed.streamedChangesPerSecond} changes/s streamed`);
  return { small, large, largeWithoutCapture, streamed };
}

function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}, Node ${process.version}`;
}

const ratio = (x: number, y: number) => (Number.isFinite(x) && Number.isFinite(y) && y > 0 ? x / y : NaN);
const times = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : 'n/a');
const verdict = (met: boolean) => (met ? 'met' : 'missed');
/** Thousands separated, so that rates of six and seven digits read at a glance. */
const n = (x: number) => (Number.isFinite(x) ? x.toLocaleString('en-US') : 'n/a');

type Row = readonly [
  figure: string,
  solstream: string,
  baseline: string,
  ratio: string,
  target: string,
  verdict: string,
];

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function renderGateway(g: GatewayBenchResult): string {
  const { gateway: s, baseline: b } = g;
  const fanRate = ratio(s.fanOut.deliveriesPerSecond, b.fanOut.deliveriesPerSecond);
  const fanCpuRate = ratio(s.fanOut.deliveriesPerCpuSecond, b.fanOut.deliveriesPerCpuSecond);
  const memory = ratio(s.idle.kbPerConnection, b.idle.kbPerConnection);
  const snapshotMs = ratio(s.snapshot.ms, b.snapshot.ms);
  const snapshotCpu = (t: typeof s) => t.snapshot.serverCpuMsPer1000Rows + t.snapshot.postgresCpuMsPer1000Rows;
  const runs = (t: typeof s, figure: (r: (typeof s.fanOut.runs)[number]) => number) =>
    t.fanOut.runs.map((r) => n(figure(r))).join(', ');
  const rows: Row[] = [
    [
      'latency p50, 1,000 changes/s, 100 filtered subscribers',
      `${s.latency.p50Ms} ms`,
      `${b.latency.p50Ms} ms`,
      times(ratio(s.latency.p50Ms, b.latency.p50Ms)),
      '',
      '',
    ],
    [
      'latency p99, same load',
      `${s.latency.p99Ms} ms`,
      `${b.latency.p99Ms} ms`,
      times(ratio(s.latency.p99Ms, b.latency.p99Ms)),
      '≤ 5 ms',
      verdict(s.latency.p99Ms <= 5),
    ],
    [
      'latency phase: server CPU per change delivered (per delivery; deliveries)',
      `${s.latency.cpuUsPerChange} µs (${s.latency.cpuUsPerDelivery} µs; ${n(s.latency.deliveries)})`,
      `${b.latency.cpuUsPerChange} µs (${b.latency.cpuUsPerDelivery} µs; ${n(b.latency.deliveries)})`,
      times(ratio(s.latency.cpuUsPerChange, b.latency.cpuUsPerChange)),
      '',
      '',
    ],
    [
      `fan-out, ${n(s.fanOut.subscribers)} subscribers × ${s.fanOut.changes} changes: deliveries/s (best; runs)`,
      `${n(s.fanOut.deliveriesPerSecond)} (${runs(s, (r) => r.deliveriesPerSecond)})`,
      `${n(b.fanOut.deliveriesPerSecond)} (${runs(b, (r) => r.deliveriesPerSecond)})`,
      times(fanRate),
      '≥ 1.0× baseline',
      verdict(fanRate >= 1),
    ],
    [
      'fan-out: server CPU per delivery (least; runs)',
      `${s.fanOut.cpuUsPerDelivery} µs (${runs(s, (r) => r.cpuUsPerDelivery)})`,
      `${b.fanOut.cpuUsPerDelivery} µs (${runs(b, (r) => r.cpuUsPerDelivery)})`,
      times(ratio(s.fanOut.cpuUsPerDelivery, b.fanOut.cpuUsPerDelivery)),
      '',
      '',
    ],
    [
      'fan-out: deliveries per server CPU-second (best; runs)',
      `${n(s.fanOut.deliveriesPerCpuSecond)} (${runs(s, (r) => r.deliveriesPerCpuSecond)})`,
      `${n(b.fanOut.deliveriesPerCpuSecond)} (${runs(b, (r) => r.deliveriesPerCpuSecond)})`,
      times(fanCpuRate),
      '≥ 1.0× baseline',
      verdict(fanCpuRate >= 1),
    ],
    [
      `idle connections held (of ${n(s.idle.target)})`,
      n(s.idle.held),
      n(b.idle.held),
      '',
      '10,000',
      s.idle.target < 10_000 ? 'not measured at 10,000' : verdict(s.idle.held >= 10_000),
    ],
    [
      'memory per idle connection (RSS before → after)',
      `${s.idle.kbPerConnection} KiB (${s.idle.rssBeforeMb} → ${s.idle.rssAfterMb} MB)`,
      `${b.idle.kbPerConnection} KiB (${b.idle.rssBeforeMb} → ${b.idle.rssAfterMb} MB)`,
      times(memory),
      '≤ 1.2× baseline; 10,000 in ≤ 300 MB',
      `${verdict(memory <= 1.2)}; ${s.idle.held >= 10_000 ? verdict(s.idle.rssAfterMb <= 300) : 'not measured at 10,000'}`,
    ],
    [
      `snapshot of ${n(s.snapshot.rows)} rows, request → parsed (median of ${s.snapshot.runsMs.length})`,
      `${s.snapshot.ms} ms`,
      `${b.snapshot.ms} ms`,
      times(snapshotMs),
      '≤ 150 ms; ≤ 1.0× baseline',
      `${verdict(s.snapshot.ms <= 150)}; ${verdict(snapshotMs <= 1)}`,
    ],
    [
      'snapshot: server CPU per 1,000 rows',
      `${s.snapshot.serverCpuMsPer1000Rows} ms`,
      `${b.snapshot.serverCpuMsPer1000Rows} ms`,
      times(ratio(s.snapshot.serverCpuMsPer1000Rows, b.snapshot.serverCpuMsPer1000Rows)),
      '',
      '',
    ],
    [
      'snapshot: PostgreSQL CPU per 1,000 rows',
      `${s.snapshot.postgresCpuMsPer1000Rows} ms`,
      `${b.snapshot.postgresCpuMsPer1000Rows} ms`,
      times(ratio(s.snapshot.postgresCpuMsPer1000Rows, b.snapshot.postgresCpuMsPer1000Rows)),
      '',
      '',
    ],
    [
      'snapshot: server + PostgreSQL CPU per 1,000 rows',
      `${round(snapshotCpu(s))} ms`,
      `${round(snapshotCpu(b))} ms`,
      times(ratio(snapshotCpu(s), snapshotCpu(b))),
      '≤ 1.0× baseline',
      verdict(ratio(snapshotCpu(s), snapshotCpu(b)) <= 1),
    ],
  ];
  return [
    'Gateway beside the baseline (bench/baseline.ts: pg-listen → ws broadcast of every NOTIFY, no filters), ' +
      'each server in its own process on the same database, phases alternating; server CPU is that process.',
    '',
    markdownTable(['figure', 'solstream', 'baseline', 'solstream ÷ baseline', 'target', ''], rows),
  ].join('\n');
}

const round = (x: number) => Math.round(x * 100) / 100;

function renderIngest({ small, large, largeWithoutCapture: off, streamed }: IngestRuns): string {
  const runs = [small, large, off] as const;
  const row = (figure: string, value: (r: IngestBenchResults) => number, target = '', met = ''): string[] => [
    figure,
    ...runs.map((r) => n(value(r))),
    times(ratio(value(large), value(off))),
    target,
    met,
  ];
  const postgresOnOff = ratio(large.postgresCpuUsPerUpdate, off.postgresCpuUsPerUpdate);
  const rows = [
    row('decoded updates/s', (r) => r.decodedPerSecond),
    row('decode CPU per update, µs (node)', (r) => r.decodeCpuUsPerUpdate),
    row(
      'persisted updates/s',
      (r) => r.persistedUpdatesPerSecond,
      '≥ 10,000 (capture on)',
      [small, large].map((r) => verdict(r.persistedUpdatesPerSecond >= 10_000)).join(', '),
    ),
    row('persisted rows/s', (r) => r.persistedRowsPerSecond),
    row('persist CPU per update, µs (node)', (r) => r.persistCpuUsPerUpdate),
    [
      ...row('persist CPU per update, µs (PostgreSQL backends)', (r) => r.postgresCpuUsPerUpdate).slice(0, 5),
      '≤ 1.3× capture off',
      verdict(postgresOnOff <= 1.3),
    ],
    row('persisted updates per CPU-second (node + PostgreSQL)', (r) => r.persistedUpdatesPerCpuSecond),
    row('changes captured', (r) => r.changes),
    [
      `changes streamed to a subscriber/s (a separate run, batches of ${streamed.batchSize}, gateway in the same process)`,
      `${n(streamed.streamedChangesPerSecond)} (${n(streamed.changesStreamed)}/${n(streamed.changes)})`,
      '',
      '',
      '',
      '',
      '',
    ],
  ];
  return [
    `Ingest: ${n(small.transactions)} transactions of the local cluster's activity script, ${n(small.updates)} updates ` +
      `(${n(small.rows)} rows), decoded and mapped by the real programs and persisted by the batch writer`,
    '',
    markdownTable(
      [
        'figure',
        `batches of ${n(small.batchSize)}`,
        `batches of ${n(large.batchSize)}`,
        `batches of ${n(off.batchSize)}, capture off`,
        'capture on ÷ off',
        'target',
        '',
      ],
      rows,
    ),
  ].join('\n');
}

/** Each configuration beside direct mode with one gateway of the same run (its baseline). */
function renderScaleOut(results: readonly ScaleOutFigures[]): string {
  const base = results.find((r) => r.mode === 'direct' && r.gateways === 1);
  const vs = (x: number, y: number | undefined) => (y === undefined || y === 0 ? '' : ` (${(x / y).toFixed(2)}×)`);
  return [
    'Scale-out: 100 clients per gateway on 10 pools, 2,000 swaps at 500/s; (×) = against direct mode, 1 gateway, same run',
    '',
    markdownTable(
      [
        'mode',
        'gateways',
        'deliveries/s',
        'p50',
        'p99',
        'gateway processes CPU, µs per delivery',
        'PostgreSQL CPU serving gateways, ms per 1,000 changes',
        'all backends, ms',
        'gateway connections',
      ],
      results.map((r) => [
        r.mode,
        String(r.gateways),
        `${r.deliveriesPerSecond}${vs(r.deliveriesPerSecond, base?.deliveriesPerSecond)}`,
        `${r.p50Ms} ms${vs(r.p50Ms, base?.p50Ms)}`,
        `${r.p99Ms} ms${vs(r.p99Ms, base?.p99Ms)}`,
        `${r.gatewayCpuUsPerDelivery}${vs(r.gatewayCpuUsPerDelivery, base?.gatewayCpuUsPerDelivery)}`,
        `${r.servingCpuMsPer1000Changes}${vs(r.servingCpuMsPer1000Changes, base?.servingCpuMsPer1000Changes)}`,
        String(r.postgresCpuMs),
        String(r.gatewayConnections),
      ]),
    ),
  ].join('\n');
}

// Last, so that every helper above is initialised before the run renders with it.
const ingest = parts.has('ingest') ? await benchIngest() : null;
if (parts.has('gateway')) log('gateway and baseline');
const gateway = parts.has('gateway') ? await benchGateway({ idleConnections, log }) : null;
if (parts.has('scale-out')) log('scale-out: 1, 2 and 4 gateways in direct and NATS mode');
const scaleOut = parts.has('scale-out') ? await benchScaleOut({ log }) : null;
const commitment = parts.has('commitment') ? await benchCommitment({ log }) : null;

const sections = [
  `Benchmark run ${new Date().toISOString()} on ${machine()}; parts: ${[...parts].join(', ')}. ` +
    'CPU figures are utime + stime from /proc (ticks of 10 ms) of the process named.',
  gateway && renderGateway(gateway),
  ingest && renderIngest(ingest),
  scaleOut && renderScaleOut(scaleOut),
  commitment && renderCommitment(commitment),
].filter((section): section is string => typeof section === 'string');
const report = sections.join('\n\n');
process.stdout.write(`${report}\n`);
const dir = new URL('./results/', import.meta.url);
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(new URL('latest.md', dir), `${report}\n`);
fs.writeFileSync(
  new URL('latest.json', dir),
  `${JSON.stringify(
    {
      at: new Date().toISOString(),
      machine: machine(),
      parts: [...parts],
      gateway,
      ingest: ingest?.small ?? null,
      ingestLargeBatches: ingest?.large ?? null,
      ingestLargeBatchesWithoutCapture: ingest?.largeWithoutCapture ?? null,
      ingestStreamed: ingest?.streamed ?? null,
      scaleOut,
      commitment,
    },
    null,
    2,
  )}\n`,
);
process.exit(0);
