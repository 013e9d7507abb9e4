import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectCassandra, type CassandraClient } from '../../../connectors/cassandra/client.ts';
import { applySchema } from '../../../connectors/cassandra/schema.ts';
import { CdcConnector } from '../../../connectors/cdc/connector.ts';
import type { RowChangeEvent } from '../../../connectors/cdc/events.ts';
import { connectAdmin, createKafka, type KafkaAdmin } from '../../../connectors/kafka/client.ts';
import { createLogger } from '../../../lib/log.ts';
import { testConfig } from '../../support/config.ts';
import { collect } from '../../support/kafka.ts';

describe('CDC connector on the real Cassandra and Kafka', () => {
  const config = testConfig(['cdc.startFrom=latest', 'cdc.maxEventsPerTransaction=200']);
  const log = createLogger(process.env.TEST_LOG === 'debug' ? 'debug' : 'warn');
  let client: CassandraClient;
  let admin: KafkaAdmin;

  beforeAll(async () => {
    client = await connectCassandra(config);
    await applySchema(client, config);
    admin = await connectAdmin(createKafka(config, log), config);
  });
  afterAll(async () => {
    await client
      .execute(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`)
      .catch(() => undefined);
    await client.shutdown();
    await admin.disconnect();
  });

  it('one event per insert, update and delete, with values, in per-key order', async () => {
    const connector = new CdcConnector({
      config,
      kafka: createKafka(config, log),
      admin,
      cassandra: client,
      log,
    });
    const running = connector.start();
    try {
      await Promise.race([connector.ready, running]);
      const ks = config.cassandra.keyspace;
      const ids: string[] = [];
      const writes = 300;
      for (let i = 0; i < writes; i++) {
        const id = cassandra.types.TimeUuid.now().toString();
        ids.push(id);
        await client.execute(
          `INSERT INTO ${ks}.tweets (tweet_id, author_id, body, created_at) VALUES (?, ?, ?, ?)`,
          [id, BigInt(i % 7), `body ${i} ✓ 🐦`, new Date(1_700_000_000_000 + i)],
          { prepare: true },
        );
      }
      for (let i = 0; i < writes; i += 10) {
        await client.execute(
          `UPDATE ${ks}.tweets SET body = ? WHERE tweet_id = ?`,
          [`edited ${i}`, ids[i]],
          { prepare: true },
        );
      }
      for (let i = 5; i < writes; i += 20) {
        await client.execute(`DELETE FROM ${ks}.tweets WHERE tweet_id = ?`, [ids[i]], {
          prepare: true,
        });
      }
      const expected = writes + writes / 10 + writes / 20;
      const records = await collect(
        config,
        [config.topics.tweetsCdc],
        (r) => r.length >= expected,
        60_000,
      );
      expect(records.length).toBe(expected);
      const events = records.map((r) => JSON.parse(r.value) as RowChangeEvent);
      expect(new Set(events.map((e) => e.eventId)).size).toBe(expected);
      const byKey = new Map<string, RowChangeEvent[]>();
      for (const e of events) {
        const k = e.key.tweet_id as string;
        byKey.set(k, [...(byKey.get(k) ?? []), e]);
      }
      expect(byKey.size).toBe(writes);
      for (let i = 0; i < writes; i++) {
        const ops = byKey.get(ids[i]!)!.map((e) => e.op);
        const want = [
          'insert',
          ...(i % 10 === 0 ? ['update'] : []),
          ...(i % 20 === 5 ? ['delete_partition'] : []),
        ];
        expect(ops, `ops of tweet ${i}`).toEqual(want);
        const ins = byKey.get(ids[i]!)![0]!;
        expect(ins.columns.body?.value).toBe(`body ${i} ✓ 🐦`);
        expect(ins.columns.author_id?.value).toBe(String(i % 7));
      }
      // Every event names itself; without an SDK (as here) no trace context is invented: the
      // trace headers of a traced run are checked against Jaeger (test/telemetry/).
      expect(records.every((r) => /^[0-9a-f]{32}$/.test(r.headers['fanout-event-id'] ?? ''))).toBe(
        true,
      );
      expect(records.filter((r) => r.headers.traceparent !== undefined)).toEqual([]);
    } finally {
      await connector.close();
      await running.catch(() => undefined);
    }
  });
});
