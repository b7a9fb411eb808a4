// Streams the swaps of one pool and prints, per minute, the last price and the volume traded.
//
//   node --import=tsx examples/trading-bot.ts POOL_PUBKEY [ws://127.0.0.1:8080/ws] [WINDOW_SECONDS=60]
//
// Needs a running gateway (`solstream serve`). The client reconnects and resumes by itself: a
// gateway restart loses no swap and counts none twice. SOLSTREAM_API_KEY is sent when set.
import WebSocket from 'ws';
import { bufferTime, filter, map, tap } from 'rxjs';
import { createClient, type RowOf } from '../clients/typescript/src/index.ts';

const [pool, url = 'ws://127.0.0.1:8080/ws', windowSeconds = '60'] = process.argv.slice(2);
if (pool === undefined) {
  console.error('usage: node --import=tsx examples/trading-bot.ts POOL_PUBKEY [WS_URL] [WINDOW_SECONDS]');
  process.exit(2);
}
const apiKey = process.env.SOLSTREAM_API_KEY;
const client = createClient({ url, WebSocket, ...(apiKey ? { apiKey } : {}) });

/** Price of a swap as output per unit of input (u64 amounts arrive as decimal strings). */
const price = (swap: RowOf<'swaps'>) => Number(swap.output_amount) / Number(swap.input_amount);

client
  .subscribe('swaps', { filter: { pool_pubkey: pool }, snapshot: false })
  .pipe(
    tap((event) => {
      if (event.type === 'subscribed')
        console.error(`subscribed at cursor ${event.cursor} (resumed: ${event.resumed})`);
    }),
    filter((event) => event.type === 'change' && event.op === 'insert'),
    map((event) => (event as { row: RowOf<'swaps'> }).row),
    bufferTime(Number(windowSeconds) * 1000),
  )
  .subscribe({
    next: (swaps) => {
      const minute = new Date().toISOString().slice(0, 19);
      if (swaps.length === 0) {
        console.log(`${minute}  no swaps`);
        return;
      }
      // Sum u64 volumes as bigints: Number loses precision past 2^53.
      const volumeIn = swaps.reduce((sum, s) => sum + BigInt(s.input_amount), 0n);
      const volumeOut = swaps.reduce((sum, s) => sum + BigInt(s.output_amount), 0n);
      const last = swaps.at(-1) as RowOf<'swaps'>;
      console.log(
        `${minute}  swaps=${swaps.length}  price=${price(last).toPrecision(8)}  volume_in=${volumeIn}  volume_out=${volumeOut}`,
      );
    },
    error: (error: Error) => {
      console.error(`stream failed: ${error.message}`);
      process.exitCode = 1;
    },
  });

client.stateChanges$.subscribe(({ newState, attempt, delayMs }) => {
  if (attempt !== undefined) console.error(`disconnected; retry ${attempt} in ${delayMs} ms`);
  else console.error(`connection: ${newState}`);
});

process.once('SIGINT', () => void client.close());
