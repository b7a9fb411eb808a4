// `npm run bench`: every benchmark on PostgreSQL (each creates and drops its own database), the
// gateway's figures beside the baseline's from the same run, as a markdown table printed and
// written to bench/results/latest.md with the raw figures in bench/results/latest.json.
//   SOLSTREAM_BENCH_IDLE=10000 SOLSTREAM_BENCH_TRANSACTIONS=20000 npm run bench
import fs from 'node:fs';
import os from 'node:os';
import { benchGateway, type GatewayBenchResult } from './gateway.ts';
import { runIngestBench, type IngestBenchResults } from './ingest.ts';
import { benchScaleOut, type ScaleOutFigures } from './scale-out.ts';

const idleConnections = Number(process.env.SOLSTREAM_BENCH_IDLE ?? 10_000);
const transactions = Number(process.env.SOLSTREAM_BENCH_TRANSACTIONS ?? 10_000);
const log = (line: string) => process.stderr.write(`${line}\n`);

log('ingest: write path alone');
const ingest = await runIngestBench({ transactions });
log(`ingest: ${ingest.decodedPerSecond} decoded/s, ${ingest.persistedUpdatesPerSecond} updates/s persisted`);
log('ingest: write path alone, batches of 2,000');
const ingestLarge = await runIngestBench({ transactions, batchSize: 2000 });
log(`ingest: ${ingestLarge.persistedUpdatesPerSecond} updates/s persisted`);
log('ingest: with a gateway streaming every change');
const streamed = await runIngestBench({ transactions, stream: true });
log(`ingest: ${streamed.streamedChangesPerSecond} changes/s streamed`);
log('gateway and baseline');
const gateway = await benchGateway({ idleConnections, log });
log('scale-out: 1, 2 and 4 gateways in direct and NATS mode');
const scaleOut = await benchScaleOut({ log });

const table = `${render(gateway, ingest, ingestLarge, streamed)}\n\n${renderScaleOut(scaleOut)}`;
process.stdout.write(`${table}\n`);
const dir = new URL('./results/', import.meta.url);
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(new URL('latest.md', dir), `${table}\n`);
fs.writeFileSync(
  new URL('latest.json', dir),
  `${JSON.stringify({ at: new Date().toISOString(), machine: machine(), gateway, ingest, ingestLargeBatches: ingestLarge, ingestStreamed: streamed, scaleOut }, null, 2)}\n`,
);
process.exit(0);

function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}, Node ${process.version}`;
}

function render(
  g: GatewayBenchResult,
  ingest: IngestBenchResults,
  large: IngestBenchResults,
  streamed: IngestBenchResults,
): string {
  const { gateway: s, baseline: b } = g;
  const ratio = (x: number, y: number) => (y > 0 ? `${(x / y).toFixed(2)}×` : 'n/a');
  const rows: [string, string, string, string, string][] = [
    [
      'latency p50, 1,000 changes/s, 100 filtered subscribers',
      `${s.latency.p50Ms} ms`,
      `${b.latency.p50Ms} ms`,
      '',
      '',
    ],
    [
      'latency p99, same load',
      `${s.latency.p99Ms} ms`,
      `${b.latency.p99Ms} ms`,
      '≤ 5 ms',
      s.latency.p99Ms <= 5 ? 'met' : 'missed',
    ],
    [
      'fan-out, 1,000 subscribers (deliveries/s, best of the runs in brackets)',
      `${s.fanOut.deliveriesPerSecond} (${(s.fanOut.runs ?? []).join(', ')})`,
      `${b.fanOut.deliveriesPerSecond} (${(b.fanOut.runs ?? []).join(', ')})`,
      '≥ 0.8× baseline',
      `${ratio(s.fanOut.deliveriesPerSecond, b.fanOut.deliveriesPerSecond)} ${s.fanOut.deliveriesPerSecond >= 0.8 * b.fanOut.deliveriesPerSecond ? 'met' : 'missed'}`,
    ],
    [
      `idle connections held (of ${s.idle.target})`,
      `${s.idle.held}`,
      `${b.idle.held}`,
      '10,000',
      s.idle.held >= 10_000 ? 'met' : 'missed',
    ],
    [
      'memory per idle connection',
      `${s.idle.kbPerConnection} KiB (RSS ${s.idle.rssBeforeMb} → ${s.idle.rssAfterMb} MB)`,
      `${b.idle.kbPerConnection} KiB (RSS ${b.idle.rssBeforeMb} → ${b.idle.rssAfterMb} MB)`,
      '10,000 in ≤ 300 MB',
      s.idle.held >= 10_000 && s.idle.rssAfterMb <= 300
        ? 'met'
        : s.idle.held < 10_000
          ? 'not measured at 10,000'
          : 'missed',
    ],
    [
      `snapshot of ${s.snapshot.rows} rows (median of ${s.snapshot.runsMs.length})`,
      `${s.snapshot.ms} ms`,
      `${b.snapshot.ms} ms`,
      '≤ 150 ms',
      s.snapshot.ms <= 150 ? 'met' : 'missed',
    ],
    ['ingest: decoded updates/s', `${ingest.decodedPerSecond}`, '', '', ''],
    [
      `ingest: persisted updates/s (batches of ${ingest.batchSize}; ${ingest.rows} rows, ${ingest.changes} changes)`,
      `${ingest.persistedUpdatesPerSecond}`,
      '',
      '≥ 10,000',
      ingest.persistedUpdatesPerSecond >= 10_000 ? 'met' : 'missed',
    ],
    ['ingest: persisted rows/s', `${ingest.persistedRowsPerSecond}`, '', '', ''],
    [
      `ingest: persisted updates/s, batches of ${large.batchSize}`,
      `${large.persistedUpdatesPerSecond}`,
      '',
      '≥ 10,000',
      large.persistedUpdatesPerSecond >= 10_000 ? 'met' : 'missed',
    ],
    [
      'ingest: changes streamed to a subscriber/s (gateway in the same process)',
      `${streamed.streamedChangesPerSecond} (${streamed.changesStreamed}/${streamed.changes})`,
      '',
      '',
      '',
    ],
  ];
  return [
    `Benchmark run ${new Date().toISOString()} on ${machine()}`,
    '',
    '| figure | solstream | baseline | target | |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** Each configuration beside direct mode with one gateway of the same run (its baseline). */
function renderScaleOut(results: readonly ScaleOutFigures[]): string {
  const base = results.find((r) => r.mode === 'direct' && r.gateways === 1);
  const vs = (x: number, y: number | undefined) => (y === undefined || y === 0 ? '' : ` (${(x / y).toFixed(2)}×)`);
  return [
    'Scale-out: 100 clients per gateway on 10 pools, 2,000 swaps at 500/s; (×) = against direct mode, 1 gateway, same run',
    '',
    '| mode | gateways | deliveries/s | p50 | p99 | PostgreSQL CPU serving gateways, ms per 1,000 changes | all backends, ms | gateway connections |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.mode} | ${r.gateways} | ${r.deliveriesPerSecond}${vs(r.deliveriesPerSecond, base?.deliveriesPerSecond)} | ` +
        `${r.p50Ms} ms${vs(r.p50Ms, base?.p50Ms)} | ${r.p99Ms} ms${vs(r.p99Ms, base?.p99Ms)} | ` +
        `${r.servingCpuMsPer1000Changes}${vs(r.servingCpuMsPer1000Changes, base?.servingCpuMsPer1000Changes)} | ` +
        `${r.postgresCpuMs} | ${r.gatewayConnections} |`,
    ),
  ].join('\n');
}
