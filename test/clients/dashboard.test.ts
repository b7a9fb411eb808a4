// The dashboard end to end: built, served by a real gateway at `/`, opened in headless Chromium
// (Debian's package, driven by playwright-core); rows written to the database appear on the page.
// A screenshot is kept in test-artifacts/dashboard.png.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildDashboard } from '../../clients/dashboard/build.mjs';
import { createTestDatabase, pubkey, startGateway, Writer, type Gateway, type TestDatabase } from './support.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

describe('dashboard in headless Chromium', function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let writer: Writer;
  let gateway: Gateway;
  let context: BrowserContext;
  let page: Page;
  let staticDir: string;
  let profileDir: string;
  const consoleErrors: string[] = [];

  before(async () => {
    // Not a skip: without a browser the dashboard is untested, and that must show as a failure.
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: run scripts/setup-browser.sh to install Debian's chromium`);
    }
    staticDir = fs.mkdtempSync(path.join(os.tmpdir(), 'solstream-dashboard-'));
    profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'solstream-chromium-'));
    await buildDashboard(staticDir);
    database = await createTestDatabase('postgres');
    writer = await Writer.open(database);
    gateway = await startGateway(database, { staticDir });
    try {
      context = await chromium.launchPersistentContext(profileDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
        viewport: { width: 1280, height: 900 },
      });
    } catch (error) {
      throw new Error(`Chromium (${CHROMIUM}) could not start: ${(error as Error).message}`);
    }
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    page.on('console', (message) => message.type() === 'error' && consoleErrors.push(message.text()));
  });

  after(async () => {
    await context?.close();
    await gateway?.close();
    await writer?.close();
    await database?.drop();
    for (const dir of [staticDir, profileDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shows rows written to the database as they happen, and the connection status', async () => {
    const existing = await writer.insertEscrow({ maker: pubkey(), amount_a: '111' });
    const response = await page.goto(`${gateway.server.url}/`);
    expect(response?.status()).to.equal(200);
    await page.waitForSelector('#status[data-state="connected"]');
    await page.waitForSelector(`#escrows-table tr[data-key="${existing}"]`);

    // A new escrow appears; an update rewrites the same row in place.
    const escrow = await writer.insertEscrow({ maker: pubkey(), amount_a: '424242' });
    const row = await page.waitForSelector(`#escrows-table tr[data-key="${escrow}"]`);
    expect(await row.innerText())
      .to.include('424242')
      .and.include('created');
    await writer.setEscrowState(escrow, 'funded');
    await page.waitForFunction(
      (key) => document.querySelector(`#escrows-table tr[data-key="${key}"]`)?.textContent?.includes('funded'),
      escrow,
    );
    expect(await row.evaluate((tr) => tr.isConnected)).to.equal(true);

    // A deleted escrow leaves the table.
    await writer.deleteEscrow(existing);
    await page.waitForSelector(`#escrows-table tr[data-key="${existing}"]`, { state: 'detached' });

    // Listings and proposals.
    const listing = pubkey();
    await writer.sql(
      `INSERT INTO listings (pubkey, marketplace, seller, mint, price, state, created_slot) VALUES ($1, $2, $3, $4, $5, 'active', 7)`,
      [listing, pubkey(), pubkey(), pubkey(), '2500000000'],
    );
    await page.waitForSelector(`#listings-table tr[data-key="${listing}"]`);
    const governance = pubkey();
    await writer.sql(
      `INSERT INTO governances (pubkey, authority, governance_token_mint, treasury, voting_period, proposal_threshold, quorum_votes, execution_delay)
       VALUES ($1, $2, $3, $4, 86400, '1', '100', 0)`,
      [governance, pubkey(), pubkey(), pubkey()],
    );
    const proposal = pubkey();
    await writer.sql(
      `INSERT INTO proposals (pubkey, governance_pubkey, proposal_id, proposer, title, votes_for, votes_against, state, voting_starts_at, voting_ends_at, created_slot)
       VALUES ($1, $2, 1, $3, 'Fund the dashboard', '300', '12', 'active', '2025-01-01T00:00:00Z', '2025-01-08T00:00:00Z', 9)`,
      [proposal, governance, pubkey()],
    );
    await page.waitForSelector(`#proposals-table tr[data-key="${proposal}"]`);

    // Swaps: a chart for the pool and the swap in the list.
    const pool = await writer.insertPool();
    const signatures: string[] = [];
    for (let i = 0; i < 12; i++) {
      signatures.push(
        await writer.insertSwap(pool, {
          slot: 100 + i,
          input_amount: '1000000',
          output_amount: String(1_500_000 + Math.round(Math.sin(i / 2) * 100_000)),
        }),
      );
    }
    await page.waitForSelector(`.chart[data-pool="${pool}"] canvas`);
    await page.waitForSelector(`#swaps-table tr[data-signature="${signatures.at(-1)}"]`);

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    expect(fs.statSync(path.join(ARTIFACTS, 'dashboard.png')).size).to.be.greaterThan(10_000);
    expect(consoleErrors).to.deep.equal([]);
  });

  it('shows the reconnect and catches up with rows written while the gateway was down', async () => {
    const port = gateway.server.port;
    await gateway.close();
    await page.waitForSelector('#status[data-state="connecting"]');
    expect(await page.textContent('#reconnect')).to.match(/reconnecting \(attempt \d+\)/);
    const missed = await writer.insertEscrow({ maker: pubkey(), amount_a: '777' });
    gateway = await startGateway(database, { port, staticDir });
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 30_000 });
    await page.waitForSelector(`#escrows-table tr[data-key="${missed}"]`);
    expect(await page.textContent('#reconnect')).to.match(/reconnected ×1/);
  });
});
