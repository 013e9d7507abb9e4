/**
 * Issue #17, oversized rows, on the real node and broker: a tweet with a 2 MB body (valid CQL)
 * reaches every follower of its author and the tweets written after it are not held up; its event
 * carries `{"omitted": true, "bytes": N}` for the body and a dead letter says so. A row of many
 * columns keeps its key and every value that fits. Before the fix the connector retried "Message
 * size too large" for ever and nothing after the big row was delivered.
 */
import cassandra from 'cassandra-driver';
import { afterAll, describe, expect, it } from 'vitest';
import { connectCassandra, type CassandraClient } from '../../../connectors/cassandra/client.ts';
import { applySchema } from '../../../connectors/cassandra/schema.ts';
import { connectAdmin } from '../../../connectors/kafka/admin.ts';
import { ensureTopics } from '../../../connectors/kafka/topics.ts';
import { loadConfig, type Config } from '../../../config/index.ts';
import { createLogger } from '../../../lib/log.ts';
import { createWorker } from '../../../pipeline/connect.ts';
import { withConnector } from '../../support/cdc.ts';
import { testSettings } from '../../support/config.ts';
import { collect } from '../../support/kafka.ts';

const log = createLogger(process.env.TEST_LOG === 'debug' ? 'debug' : 'error');
const AUTHOR = 7n;
const FOLLOWERS = Array.from({ length: 300 }, (_, i) => 10_000n + BigInt(i));
const WIDE_COLUMNS = 150;

interface Letter {
  reason: { code: string; message: string };
  event: { key: Record<string, unknown> };
  omitted: Array<{ column: string; bytes: number }>;
}

describe('oversized rows (real Cassandra + Kafka)', () => {
  let config: Config;
  let client: CassandraClient;
  afterAll(async () => {
    await client
      ?.execute(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`)
      .catch(() => undefined);
    await client?.shutdown();
  });

  it('a 2 MB tweet reaches every follower, the tweets after it are not held up, a wide row keeps what fits', async () => {
    config = loadConfig({ env: {}, sets: testSettings(['cdc.startFrom=latest']) });
    client = await connectCassandra(config);
    const ks = config.cassandra.keyspace;
    await applySchema(client, config);
    const cols = Array.from({ length: WIDE_COLUMNS }, (_, i) => `c${i} text`).join(', ');
    await client.execute(`CREATE TABLE ${ks}.wide (id int PRIMARY KEY, ${cols}) WITH cdc = true`);
    for (const f of FOLLOWERS)
      await client.execute(
        `INSERT INTO ${ks}.followers (user_id, follower_id, followed_at) VALUES (?, ?, ?)`,
        [AUTHOR, f, new Date()],
        { prepare: true },
      );
    const admin = await connectAdmin(config);
    await ensureTopics(admin, config);
    await admin.disconnect();
    const worker = createWorker({ config, cassandra: client, log, workerId: '0' });
    const working = worker.start();
    try {
      await withConnector(config, client, log, async () => {
        const insert = `INSERT INTO ${ks}.tweets (tweet_id, author_id, body, created_at) VALUES (?, ?, ?, ?)`;
        const big = cassandra.types.TimeUuid.now().toString();
        await client.execute(insert, [big, AUTHOR, 'é'.repeat(1024 * 1024), new Date()], {
          prepare: true,
        });
        const after = Array.from({ length: 5 }, () => cassandra.types.TimeUuid.now().toString());
        for (const id of after)
          await client.execute(insert, [id, AUTHOR, `after ${id}`, new Date()], { prepare: true });
        // 75 columns of 20 KB and 75 of 100 bytes: 1.5 MB in one row.
        const names = Array.from({ length: WIDE_COLUMNS }, (_, i) => `c${i}`);
        await client.execute(
          `INSERT INTO ${ks}.wide (id, ${names.join(', ')}) VALUES (?, ${names.map(() => '?').join(', ')})`,
          [42, ...names.map((n, i) => `${n}:`.padEnd(i % 2 === 0 ? 20_000 : 100, 'w'))],
          { prepare: true },
        );

        // Every tweet, the big one first, completes for all 300 followers.
        const done = await collect(
          config,
          [config.topics.completed],
          (r) => r.length >= 1 + after.length,
          90_000,
        );
        const completed = done.map(
          (r) => JSON.parse(r.value) as { tweetId: string; followersDelivered: number },
        );
        expect(completed.map((c) => c.tweetId).sort()).toEqual([big, ...after].sort());
        for (const c of completed) expect(c.followersDelivered).toBe(FOLLOWERS.length);
        for (const f of FOLLOWERS.filter((_, i) => i % 30 === 0)) {
          const rs = await client.execute(
            `SELECT tweet_id FROM ${ks}.timelines WHERE user_id = ?`,
            [f],
            { prepare: true },
          );
          expect(rs.rows.map((r) => String(r.get('tweet_id'))).sort()).toEqual(
            [big, ...after].sort(),
          );
        }

        // The big tweet's event: key, author and write time kept, the body replaced by the marker.
        const events = await collect(
          config,
          [config.topics.tweetsCdc],
          (r) => r.length >= 6,
          30_000,
        );
        const bigEvent = events
          .map((r) => JSON.parse(r.value) as { key: { tweet_id: string }; columns: never })
          .find((e) => e.key.tweet_id === big) as unknown as {
          columns: Record<string, { value: unknown }>;
          writeTimestamp: string;
        };
        expect(bigEvent.columns['author_id']!.value).toBe(String(AUTHOR));
        expect(bigEvent.columns['body']!.value).toEqual({
          omitted: true,
          bytes: 2 * 1024 * 1024 + 2,
        });
        expect(bigEvent.writeTimestamp).toMatch(/^\d+$/);

        // The wide row: its key and every value that fits; the rest marked.
        const wide = await collect(
          config,
          [`${config.topics.cdcPrefix}.${ks}.wide`],
          (r) => r.length >= 1,
          30_000,
        );
        expect(Buffer.byteLength(wide[0]!.value)).toBeLessThanOrEqual(config.cdc.maxEventBytes);
        const row = JSON.parse(wide[0]!.value) as {
          key: { id: number };
          columns: Record<string, { value: unknown }>;
        };
        expect(row.key).toEqual({ id: 42 });
        const omittedCols = Object.entries(row.columns).filter(
          ([, c]) => typeof c.value === 'object' && c.value !== null,
        );
        const keptCols = Object.entries(row.columns).filter(([, c]) => typeof c.value === 'string');
        expect(omittedCols.length).toBeGreaterThan(0);
        expect(keptCols.length + omittedCols.length).toBe(WIDE_COLUMNS);
        // Every small (100-byte) value fits, so every one is kept.
        expect(keptCols.filter(([n]) => Number(n.slice(1)) % 2 === 1)).toHaveLength(
          WIDE_COLUMNS / 2,
        );

        // Dead letters say what was left out of each.
        const letters = (
          await collect(config, [config.topics.deadLetter], (r) => r.length >= 2, 30_000)
        ).map((r) => JSON.parse(r.value) as Letter);
        expect(letters.map((l) => l.reason.code)).toEqual(['oversized', 'oversized']);
        const forBig = letters.find((l) => l.event.key['tweet_id'] === big)!;
        expect(forBig.omitted).toEqual([{ column: 'body', bytes: 2 * 1024 * 1024 + 2 }]);
        const forWide = letters.find((l) => l.event.key['id'] === 42)!;
        expect(forWide.omitted.map((o) => o.column).sort()).toEqual(
          omittedCols.map(([n]) => n).sort(),
        );
      });
    } finally {
      await worker.close();
      await working.catch(() => undefined);
    }
  });
});
