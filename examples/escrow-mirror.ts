// Keeps a local mirror of the active escrows (created or funded) and prints a summary on every change.
//
//   node --import=tsx examples/escrow-mirror.ts [ws://127.0.0.1:8080/ws] [MAKER_PUBKEY]
//
// Needs a running gateway (`solstream serve`). `live()` starts from a snapshot and applies each
// change; after a reconnect it resumes from its cursor, and if the cursor has expired it replaces
// the whole set with a fresh snapshot. SOLSTREAM_API_KEY is sent when set.
//
// The filter runs on the server: an escrow that completes or is cancelled leaves the view as a
// `delete`, so the mirror stays exact without looking at states itself.
import WebSocket from 'ws';
import { createClient, type Filter, type RowOf } from '../clients/typescript/src/index.ts';

const [url = 'ws://127.0.0.1:8080/ws', maker] = process.argv.slice(2);
const apiKey = process.env.SOLSTREAM_API_KEY;
const client = createClient({ url, WebSocket, ...(apiKey ? { apiKey } : {}) });

const filter: Filter<'escrows'> = { state: { in: ['created', 'funded'] }, ...(maker ? { maker } : {}) };

/** The mirror: escrow pubkey → row, active escrows only. */
let mirror: ReadonlyMap<string, RowOf<'escrows'>> = new Map();

client.live('escrows', filter).subscribe({
  next: (active) => {
    const added = [...active.keys()].filter((key) => !mirror.has(key));
    const removed = [...mirror.keys()].filter((key) => !active.has(key));
    mirror = active;
    // u64 amounts are decimal strings; add them as bigints.
    const lockedA = [...active.values()].reduce((sum, e) => sum + BigInt(e.amount_a), 0n);
    console.log(
      `${new Date().toISOString()}  active=${active.size}  +${added.length} -${removed.length}  locked_a=${lockedA}`,
    );
  },
  error: (error: Error) => {
    console.error(`mirror failed: ${error.message}`);
    process.exitCode = 1;
  },
});

process.once('SIGINT', () => void client.close());
