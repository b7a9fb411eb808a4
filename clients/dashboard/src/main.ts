// The dashboard: live swaps with a price chart per pool, and escrows / listings / proposals tables
// updated in place, all through the TypeScript client on the gateway that serves this page.
// `?api_key=KEY` in the page's URL is passed on to the gateway.
import uPlot from 'uplot';
import {
  ClientState,
  createClient,
  naturalKeyOf,
  type ClientStateChange,
  type ColumnOf,
  type RowOf,
  type Topic,
} from '../../typescript/src/index.ts';

const params = new URLSearchParams(location.search);
const apiKey = params.get('api_key') ?? undefined;
const url = params.get('ws') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;

const client = createClient({ url, ...(apiKey !== undefined ? { apiKey } : {}), retry: { maxDelayMs: 5000 } });

const $ = <E extends HTMLElement>(id: string) => document.getElementById(id) as E;

// -- connection status --------------------------------------------------------------------------

const status = $('status');
const reconnect = $('reconnect');
let countdown: ReturnType<typeof setInterval> | undefined;

function showStatus(change: ClientStateChange): void {
  status.dataset.state = change.newState;
  status.textContent = change.newState;
  clearInterval(countdown);
  if (change.newState === ClientState.Connecting && change.attempt !== undefined) {
    const due = Date.now() + (change.delayMs ?? 0);
    const tick = () => {
      const left = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      reconnect.textContent = `reconnecting (attempt ${change.attempt}) ${left > 0 ? `in ${left}s` : 'now'}`;
    };
    tick();
    countdown = setInterval(tick, 250);
  } else if (change.newState === ClientState.Connected) {
    reconnect.textContent = client.connections > 1 ? `reconnected ×${client.connections - 1}` : '';
  } else if (change.code !== undefined) {
    reconnect.textContent = `closed (${change.code}${change.reason ? ` ${change.reason}` : ''})`;
  }
}
client.status$.subscribe(showStatus);

// -- tables updated in place ---------------------------------------------------------------------

const NUMERIC = /^(amount|price|votes|lamports|input|output|fee)/;

function short(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return text.length > 16 && /^[1-9A-HJ-NP-Za-km-z]+$/.test(text) ? `${text.slice(0, 6)}…${text.slice(-4)}` : text;
}

/** Keeps a table's rows in step with a live set: new rows on top, changed cells rewritten, gone rows removed. */
function liveTable<T extends Topic>(topic: T, tableId: string, columns: readonly ColumnOf<T>[], maxRows = 50): void {
  const table = $<HTMLTableElement>(tableId);
  const head = table.createTHead().insertRow();
  for (const column of columns) head.insertCell().outerHTML = `<th>${column}</th>`;
  const body = table.createTBody();
  const shown = new Map<string, { tr: HTMLTableRowElement; json: string }>();

  const render = (rows: ReadonlyMap<string, RowOf<T>>) => {
    const values = rows as ReadonlyMap<string, Readonly<Record<string, unknown>>>;
    const newest = [...values.entries()].sort(([, a], [, b]) => Number(b.id) - Number(a.id)).slice(0, maxRows);
    const keep = new Set(newest.map(([key]) => key));
    for (const [key, entry] of shown) {
      if (!keep.has(key)) {
        entry.tr.remove();
        shown.delete(key);
      }
    }
    let previous: HTMLTableRowElement | null = null;
    for (const [key, row] of newest) {
      const json = JSON.stringify(row);
      let entry = shown.get(key);
      if (entry === undefined) {
        const tr = document.createElement('tr');
        tr.dataset.key = key;
        for (const column of columns) tr.insertCell().className = NUMERIC.test(column) ? 'num' : '';
        entry = { tr, json: '' };
        shown.set(key, entry);
      }
      if (entry.json !== json) {
        entry.json = json;
        columns.forEach((column, i) => {
          const cell = entry.tr.cells[i] as HTMLTableCellElement;
          cell.textContent = short(row[column]);
          cell.title = String(row[column] ?? '');
        });
        entry.tr.classList.remove('flash');
        void entry.tr.offsetWidth; // restart the highlight animation
        entry.tr.classList.add('flash');
      }
      // Order by id, newest first, moving only rows that are out of place.
      const expected: ChildNode | null = previous === null ? body.firstChild : previous.nextSibling;
      if (expected !== entry.tr) body.insertBefore(entry.tr, expected);
      previous = entry.tr;
    }
  };

  client.live(topic).subscribe({ next: render, error: (error: Error) => showError(table, error) });
}

function showError(near: HTMLElement, error: Error): void {
  const note = document.createElement('p');
  note.className = 'error';
  note.textContent = `subscription failed: ${error.message}`;
  near.before(note);
}

liveTable('escrows', 'escrows-table', ['pubkey', 'maker', 'amount_a', 'amount_b', 'state', 'created_slot']);
liveTable('listings', 'listings-table', ['pubkey', 'seller', 'mint', 'price', 'state', 'created_slot']);
liveTable('proposals', 'proposals-table', ['pubkey', 'title', 'votes_for', 'votes_against', 'state', 'voting_ends_at']);

// -- swaps: a price chart per pool, and the latest swaps ---------------------------------------------

const MAX_POINTS = 500;
const MAX_CHARTS = 6;
const charts = new Map<string, { plot: uPlot; times: number[]; prices: number[] }>();

function chartFor(pool: string): { plot: uPlot; times: number[]; prices: number[] } | null {
  let chart = charts.get(pool);
  if (chart !== undefined) return chart;
  if (charts.size >= MAX_CHARTS) return null;
  const box = document.createElement('div');
  box.className = 'chart';
  box.dataset.pool = pool;
  box.innerHTML = `<h3 title="${pool}">pool ${short(pool)}</h3>`;
  $('charts').append(box);
  const times: number[] = [];
  const prices: number[] = [];
  const plot = new uPlot(
    {
      width: 270,
      height: 150,
      legend: { show: false },
      series: [{}, { label: 'price', stroke: '#3b6fd8', width: 1.5, points: { show: true, size: 4 } }],
      axes: [{ size: 30 }, { size: 50 }],
    },
    [times, prices],
    box,
  );
  chart = { plot, times, prices };
  charts.set(pool, chart);
  return chart;
}

function plotSwap(row: RowOf<'swaps'>): void {
  const input = Number(row.input_amount);
  if (input === 0) return;
  const chart = chartFor(row.pool_pubkey);
  if (chart === null) return;
  const time = row.created_at === null ? Date.now() / 1000 : Date.parse(row.created_at) / 1000;
  chart.times.push(time);
  chart.prices.push(Number(row.output_amount) / input);
  if (chart.times.length > MAX_POINTS) {
    chart.times.shift();
    chart.prices.shift();
  }
  chart.plot.setData([chart.times, chart.prices]);
}

const swapColumns: readonly ColumnOf<'swaps'>[] = [
  'slot',
  'pool_pubkey',
  'input_amount',
  'output_amount',
  'user_address',
];
const swapTable = $<HTMLTableElement>('swaps-table');
const swapHead = swapTable.createTHead().insertRow();
for (const column of swapColumns) swapHead.insertCell().outerHTML = `<th>${column}</th>`;
const swapBody = swapTable.createTBody();

function listSwap(row: RowOf<'swaps'>): void {
  const tr = swapBody.insertRow(0);
  tr.dataset.key = naturalKeyOf('swaps', row);
  tr.dataset.signature = row.signature;
  tr.className = 'flash';
  for (const column of swapColumns) {
    const cell = tr.insertCell();
    cell.textContent = short(row[column]);
    if (NUMERIC.test(column)) cell.className = 'num';
  }
  while (swapBody.rows.length > 20) swapBody.deleteRow(-1);
}

client.subscribe('swaps', { snapshot: { limit: 200 } }).subscribe({
  next: (event) => {
    if (event.type === 'reset') {
      for (const chart of charts.values()) {
        chart.times.length = 0;
        chart.prices.length = 0;
      }
      swapBody.replaceChildren();
    } else if (event.type === 'snapshot') {
      // Snapshots of append-only topics hold the latest rows in id order: oldest first, as charts want.
      const rows = event.rows;
      for (const row of rows) plotSwap(row);
      for (const row of rows.slice(-20)) listSwap(row);
    } else if (event.type === 'change' && event.op === 'insert') {
      plotSwap(event.row);
      listSwap(event.row);
    }
  },
  error: (error: Error) => showError(swapTable, error),
});

Object.assign(window, { solstream: client });
