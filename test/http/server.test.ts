import { expect } from 'chai';
import { DIALECTS, type TestDatabase } from '../support/database.ts';
import { freshDatabase, pubkey, startGateway, type GatewayUnderTest, type Writer } from '../gateway/harness.ts';

for (const dialect of DIALECTS) {
  describe(`HTTP surface (${dialect})`, function () {
    this.timeout(60_000);
    let database: TestDatabase;
    let writer: Writer;
    let gateway: GatewayUnderTest;
    const maker = pubkey();
    const escrows: string[] = [];

    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies of many shapes; the assertions check them
    const get = async (path: string): Promise<{ status: number; body: any }> => {
      const response = await fetch(`${gateway.server.url}${path}`);
      const text = await response.text();
      return {
        status: response.status,
        body: response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
      };
    };

    before(async () => {
      ({ database, writer } = await freshDatabase(dialect));
      gateway = await startGateway(database);
      for (let i = 0; i < 5; i++) {
        escrows.push(
          await writer.insertEscrow({ maker, state: i < 3 ? 'funded' : 'created', amount_a: String(10 ** (i + 1)) }),
        );
      }
    });
    after(async () => {
      await gateway?.close();
      await writer?.close();
      await database?.drop();
    });

    it('answers /healthz while the process is up', async () => {
      expect(await get('/healthz')).to.deep.equal({ status: 200, body: { status: 'ok' } });
    });

    it('reports ready on /readyz when the database answers and the feed is live', async () => {
      const { status, body } = await get('/readyz');
      expect(status).to.equal(200);
      expect(body).to.include({ ready: true, database: 'up', feed: 'live' });
    });

    it('exposes Prometheus metrics for connections, subscriptions, messages and lag', async () => {
      const { status, body } = await get('/metrics');
      expect(status).to.equal(200);
      for (const name of [
        'solstream_ws_connections',
        'solstream_ws_subscriptions{topic="escrows"}',
        'solstream_ws_messages_sent_total',
        'solstream_ws_messages_dropped_total',
        'solstream_change_lag_seconds_bucket',
      ]) {
        expect(body).to.contain(name);
      }
    });

    it('filters /api/{topic} like a websocket snapshot, with a cursor to resume from', async () => {
      const { status, body } = await get(`/api/escrows?maker=${maker}&state=funded&amount_a.gte=100&limit=10`);
      expect(status).to.equal(200);
      expect(body.topic).to.equal('escrows');
      expect(body.cursor).to.match(/^[0-9]+$/);
      expect(body.truncated).to.equal(false);
      expect(body.rows.map((r: { pubkey: string }) => r.pubkey)).to.deep.equal([escrows[1], escrows[2]]);
      const limited = await get(`/api/escrows?maker=${maker}&limit=2`);
      expect(limited.body.rows).to.have.length(2);
      expect(limited.body.truncated).to.equal(true);
      const listed = await get(`/api/escrows?state.in=created,completed&maker=${maker}`);
      expect(listed.body.rows.map((r: { pubkey: string }) => r.pubkey)).to.deep.equal([escrows[3], escrows[4]]);
    });

    const badRequests: [string, number, string][] = [
      ['/api/escrows?owner=x', 400, 'invalid_filter'],
      ['/api/escrows?maker=not-a-key', 400, 'invalid_filter'],
      ['/api/escrows?amount_a.gte=-5', 400, 'invalid_filter'],
      ['/api/escrows?limit=0', 400, 'invalid_limit'],
      ['/api/escrows?limit=abc', 400, 'invalid_limit'],
      ['/api/users', 404, 'unknown_topic'],
      ['/escrows/not-a-pubkey', 400, 'invalid_pubkey'],
      ['/escrows/maker/not-a-pubkey', 400, 'invalid_pubkey'],
      [`/escrows/maker/${pubkey()}?state=open`, 400, 'invalid_state'],
      [`/escrows/maker/${pubkey()}?page=0`, 400, 'invalid_page'],
      [`/escrows/maker/${pubkey()}?page_size=100000`, 400, 'invalid_page_size'],
      [`/escrows/${pubkey()}`, 404, 'not_found'],
      ['/nowhere', 404, 'not_found'],
    ];
    for (const [path, status, code] of badRequests) {
      it(`answers GET ${path.slice(0, 40)} with ${status} ${code}`, async () => {
        const response = await get(path);
        expect(response.status).to.equal(status);
        expect(response.body.error.code).to.equal(code);
        expect(response.body.error.message).to.be.a('string');
      });
    }

    it('serves the seed routes /escrows/{pubkey} and /escrows/maker/{address} with paging', async () => {
      const one = await get(`/escrows/${escrows[0]}`);
      expect(one.status).to.equal(200);
      expect(one.body).to.include({ pubkey: escrows[0], maker, amount_a: '10', state: 'funded' });
      const page1 = await get(`/escrows/maker/${maker}?page_size=2`);
      expect(page1.status).to.equal(200);
      expect(page1.body.page).to.equal(1);
      expect(page1.body.page_size).to.equal(2);
      const page3 = await get(`/escrows/maker/${maker}?page=3&page_size=2`);
      const all = [
        ...page1.body.escrows,
        ...(await get(`/escrows/maker/${maker}?page=2&page_size=2`)).body.escrows,
        ...page3.body.escrows,
      ];
      expect(all.map((e: { pubkey: string }) => e.pubkey).sort()).to.deep.equal([...escrows].sort());
      const funded = await get(`/escrows/maker/${maker}?state=funded`);
      expect(funded.body.escrows).to.have.length(3);
    });

    it('reports not ready on /readyz once the change feed stops', async () => {
      await gateway.feed.close();
      const { status, body } = await get('/readyz');
      expect(status).to.equal(503);
      expect(body).to.include({ ready: false, database: 'up', feed: 'down' });
    });
  });
}
