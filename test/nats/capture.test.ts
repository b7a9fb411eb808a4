// openCapture as `serve` uses it: the mode the configuration asks for, and the epoch watch that
// stops a process whose database changed identity under it (a restore, a promoted standby).
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { upsertRows } from '../../src/db/repositories/index.ts';
import { createMetrics } from '../../src/http/metrics.ts';
import { openCapture } from '../../src/nats/capture.ts';
import { sampleRow } from '../db/fixtures.ts';
import { silentLogger } from '../../src/log.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/database.ts';
import { testConfig } from '../support/gateway.ts';
import { deleteStream, natsEnv, requireNats } from '../support/nats.ts';

for (const dialect of DIALECTS) {
  describe(`capture as configured (${dialect})`, function () {
    this.timeout(60_000);
    let database: TestDatabase;
    const closers: (() => Promise<void>)[] = [];
    const track = (_name: string, close: () => Promise<void>) => closers.push(close);

    beforeEach(async () => {
      database = await createTestDatabase(dialect);
    });
    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
      await database.drop();
    });

    it('opens direct mode without NATS_URL', async () => {
      const capture = await openCapture(database.db, testConfig(database), silentLogger, track);
      expect(capture.mode).to.equal('direct');
      expect(capture.relay).to.equal(null);
    });

    it('opens NATS mode with NATS_URL, and this process becomes the relay of its database', async () => {
      await requireNats();
      const { env, stream } = natsEnv();
      closers.push(() => deleteStream(stream));
      const capture = await openCapture(database.db, testConfig(database, env), silentLogger, track);
      expect(capture.mode).to.equal('nats');
      for (let i = 0; i < 200 && capture.relay?.leading !== true; i++) await new Promise((r) => setTimeout(r, 50));
      expect(capture.relay?.leading).to.equal(true);
    });

    it('counts what the relay publishes and how long after commit JetStream acknowledged it, for /metrics', async () => {
      await requireNats();
      const { env, stream } = natsEnv();
      closers.push(() => deleteStream(stream));
      const capture = await openCapture(database.db, testConfig(database, env), silentLogger, track);
      const metrics = createMetrics(new Registry(), capture.relay);
      for (let i = 0; i < 200 && capture.relay?.leading !== true; i++) await new Promise((r) => setTimeout(r, 50));
      // A new leader starts a new stream at the log's newest change, read a moment after it took
      // the lock: a change committed in between is before its start (gateways read it from the
      // log). So rows are written until one is published: from then on the relay follows the log.
      let warmup = 0;
      for (let i = 0; i < 100 && (capture.relay?.published ?? 0) === 0; i++) {
        await upsertRows(database.db, 'accounts', [sampleRow('accounts', null)]);
        warmup++;
        await new Promise((r) => setTimeout(r, 100));
      }
      const before = capture.relay?.published ?? 0;
      expect(before, `published after ${warmup} warm-up rows`).to.be.greaterThan(0);
      const committed = Date.now();
      await upsertRows(database.db, 'accounts', [sampleRow('accounts', null), sampleRow('accounts', null)]);
      for (let i = 0; i < 200 && (capture.relay?.published ?? 0) < before + 2; i++)
        await new Promise((r) => setTimeout(r, 50));
      const waited = (Date.now() - committed) / 1000;
      const text = await metrics.registry.metrics();
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
      expect(value('solstream_relay_leader')).to.equal(1);
      expect(value('solstream_relay_published_total')).to.equal(before + 2);
      expect(value('solstream_relay_lag_seconds_count')).to.equal(before + 2);
      // The warm-up rows waited at most their loop's length each; the two measured ones at most `waited`.
      expect(value('solstream_relay_lag_seconds_sum')).to.be.within(0, 2 * waited + before * (warmup * 0.1 + waited));
    });

    it("reports once when the database's epoch changes under the running process", async () => {
      const changes: [string, string][] = [];
      let told: () => void = () => undefined;
      const reported = new Promise<void>((resolve) => (told = resolve));
      const capture = await openCapture(database.db, testConfig(database), silentLogger, track, {
        epochCheckMs: 20,
        onEpochChange: (previous, current) => {
          changes.push([previous, current]);
          told();
        },
      });
      // What a restore changes is out of reach here; a new log id changes the epoch the same way.
      await database.db.sequelize.query("UPDATE solstream_change_log_identity SET log_id = 'restored' WHERE id = 1");
      await reported;
      expect(changes).to.have.length(1);
      expect(changes[0]?.[0]).to.equal(capture.feed.epoch);
      expect(changes[0]?.[1]).to.not.equal(capture.feed.epoch);
    });
  });
}
