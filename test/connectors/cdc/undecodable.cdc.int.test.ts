/**
 * An undecodable entry too big to dead-letter whole, on the real node and broker: an 800 KB write
 * to a CDC table dropped before the connector read it. Its dead letter carried the update in
 * base64 (1.07 MB), over librdkafka's 1,000,000-byte limit: produce failed "Message size too
 * large", the transaction was redone until the outage budget ran out, and nothing after the write
 * was delivered. Now the dead letter keeps the reason and the position, leaves the bytes out, and
 * the writes after it go through.
 */
import cassandra from 'cassandra-driver';
import { afterAll, describe, expect, it } from 'vitest';
import { connectCassandra, type CassandraClient } from '../../../connectors/cassandra/client.ts';
import { applySchema } from '../../../connectors/cassandra/schema.ts';
import type { RowChangeEvent } from '../../../connectors/cdc/events.ts';
import { createLogger } from '../../../lib/log.ts';
import { withConnector } from '../../support/cdc.ts';
import { testConfig } from '../../support/config.ts';
import { collect } from '../../support/kafka.ts';

const log = createLogger(process.env.TEST_LOG === 'debug' ? 'debug' : 'error');

interface Letter {
  reason: { code: string; message: string };
  event: { raw: unknown; source: { segmentId: string; position: number } };
}

describe('an undecodable entry bigger than a Kafka message (real Cassandra + Kafka)', () => {
  const config = testConfig();
  let client: CassandraClient;
  afterAll(async () => {
    await client
      ?.execute(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`)
      .catch(() => undefined);
    await client?.shutdown();
  });

  it('an 800 KB write to a table dropped before it was read: a dead letter under cdc.maxEventBytes, then the next write', async () => {
    client = await connectCassandra(config);
    const ks = config.cassandra.keyspace;
    await applySchema(client, config);
    await client.execute(
      `CREATE TABLE ${ks}.doomed (id int PRIMARY KEY, body text) WITH cdc = true`,
    );
    // A first run commits where "latest" is, so the second starts before the big write.
    await withConnector(config, client, log, async () => undefined);

    await client.execute(
      `INSERT INTO ${ks}.doomed (id, body) VALUES (?, ?)`,
      [1, 'd'.repeat(800_000)],
      {
        prepare: true,
      },
    );
    await client.execute(`DROP TABLE ${ks}.doomed`);

    await withConnector(config, client, log, async () => {
      const after = cassandra.types.TimeUuid.now().toString();
      await client.execute(
        `INSERT INTO ${ks}.tweets (tweet_id, author_id, body, created_at) VALUES (?, ?, ?, ?)`,
        [after, 7n, 'after the dropped table', new Date()],
        { prepare: true },
      );

      const events = await collect(config, [config.topics.tweetsCdc], (r) => r.length >= 1, 60_000);
      expect(events.map((r) => (JSON.parse(r.value) as RowChangeEvent).key.tweet_id)).toEqual([
        after,
      ]);
      const letters = await collect(
        config,
        [config.topics.deadLetter],
        (r) => r.length >= 1,
        10_000,
      );
      expect(letters).toHaveLength(1);
      const record = letters[0]!;
      expect(Buffer.byteLength(record.value)).toBeLessThanOrEqual(config.cdc.maxEventBytes);
      const letter = JSON.parse(record.value) as Letter;
      expect(letter.reason.code).toBe('unknown-table');
      expect(letter.event.raw).toMatchObject({ omitted: true });
      expect(letter.reason.message).toContain(
        `commit-log entry of segment ${letter.event.source.segmentId} ending at position ${letter.event.source.position}`,
      );
      expect(letter.reason.message).toMatch(/the \d{6}-byte update is omitted/);
    });
  });
});
