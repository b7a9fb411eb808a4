// Fan-out to many subscriptions that each follow one value (bots on their own pools): the CPU the
// gateway core spends per change, in-process, with the real FanOut and filters and an in-memory
// feed (no sockets: what is measured is finding a change's subscribers, not writing to them).
//   node --import=tsx bench/fanout-by-value.ts [subscriptions] [changes]
import { FanOut } from '../src/gateway/fanout.ts';
import { compileFilter } from '../src/gateway/filters.ts';
import { noMetrics } from '../src/gateway/types.ts';
import { fakeFeed, swapRow } from '../test/support/fake-feed.ts';
import { pubkey } from '../test/support/keys.ts';

const [subscriptions = 10_000, count = 2_000] = process.argv.slice(2).map(Number);
const { log, source, feed } = await fakeFeed();
const fanOut = new FanOut(feed, noMetrics);
const pools = Array.from({ length: subscriptions }, () => pubkey());
let delivered = 0;
for (const pool of pools) {
  const filter = compileFilter('swaps', { pool_pubkey: pool });
  fanOut.attach(
    'swaps',
    (change) => {
      if (fanOut.view(filter, change) !== null) delivered++;
    },
    filter,
  );
}
const changes = Array.from({ length: count }, (_, i) =>
  log.commit('swaps', 'insert', swapRow(pools[i % subscriptions] as string, i), undefined, i),
);
const started = process.cpuUsage();
for (const change of changes) source.publish(change);
while (delivered < count) await new Promise((resolve) => setImmediate(resolve));
const used = process.cpuUsage(started);
const perChange = (used.user + used.system) / count;
process.stdout.write(
  `${subscriptions} subscriptions on distinct pools, ${count} changes: ${perChange.toFixed(1)} µs of CPU per change (${delivered} delivered)\n`,
);
await feed.close();
