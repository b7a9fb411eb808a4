import { expect } from 'chai';
import { ConfigError, loadConfig } from '../src/config.ts';

describe('configuration: scale-out settings', () => {
  it('stays in direct mode without NATS_URL', () => {
    const config = loadConfig({});
    expect(config.nats).to.equal(null);
    expect(config.readReplicaUrl).to.equal(null);
  });

  it('reads NATS mode with its defaults', () => {
    const config = loadConfig({ NATS_URL: 'nats://127.0.0.1:4222, nats://10.0.0.2:4222' });
    expect(config.nats).to.deep.include({
      servers: ['nats://127.0.0.1:4222', 'nats://10.0.0.2:4222'],
      stream: 'SOLSTREAM',
      subjectPrefix: 'solstream',
      maxAgeSeconds: 86_400,
      duplicateWindowSeconds: 120,
      maxPayloadBytes: 1024 * 1024,
      replicas: 1,
    });
  });

  const refused: [string, Record<string, string>, RegExp][] = [
    ['a NATS_URL that is not nats:// or tls://', { NATS_URL: 'http://127.0.0.1:4222' }, /NATS_URL/],
    ['a stream name with a dot', { NATS_URL: 'nats://h:1', SOLSTREAM_NATS_STREAM: 'a.b' }, /SOLSTREAM_NATS_STREAM/],
    [
      'a subject prefix with a wildcard',
      { NATS_URL: 'nats://h:1', SOLSTREAM_NATS_SUBJECT_PREFIX: 'a.*' },
      /SOLSTREAM_NATS_SUBJECT_PREFIX/,
    ],
    [
      'a payload limit below 4 KiB',
      { NATS_URL: 'nats://h:1', SOLSTREAM_NATS_MAX_PAYLOAD_BYTES: '100' },
      /SOLSTREAM_NATS_MAX_PAYLOAD_BYTES/,
    ],
    ['a read replica that is not PostgreSQL', { SOLSTREAM_READ_REPLICA_URL: 'mysql://x' }, /postgres:\/\//],
    [
      'a read replica for an SQLite database',
      { SOLSTREAM_READ_REPLICA_URL: 'postgres://h/db' },
      /needs a PostgreSQL DATABASE_URL/,
    ],
  ];
  for (const [name, env, message] of refused) {
    it(`refuses ${name}, naming the variable`, () => {
      expect(() => loadConfig(env)).to.throw(ConfigError, message);
    });
  }
});
