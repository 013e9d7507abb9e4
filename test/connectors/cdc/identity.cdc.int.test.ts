/**
 * Issue #17, identity: `fanout cdc` takes its node identity from Cassandra (system.local host_id),
 * so a connector restarted under a new host name (a container rescheduled) resumes from its
 * committed offset: the writes made while it was down are delivered, none twice. With the host
 * name as identity (the old default) the new name had no offset and, with startFrom=latest,
 * skipped them. Runs the real CLI in a UTS namespace per host name (root, like CI).
 */
import cassandra from 'cassandra-driver';
import { afterAll, describe, expect, it } from 'vitest';
import { connectCassandra, type CassandraClient } from '../../../connectors/cassandra/client.ts';
import { applySchema } from '../../../connectors/cassandra/schema.ts';
import { loadConfig, type Config } from '../../../config/index.ts';
import { testSettings } from '../../support/config.ts';
import { collect } from '../../support/kafka.ts';
import { Supervised, type UnexpectedExit } from '../../chaos/processes.ts';

describe('CDC connector identity (real Cassandra + Kafka)', () => {
  let config: Config;
  let client: CassandraClient;
  afterAll(async () => {
    await client
      ?.execute(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`)
      .catch(() => undefined);
    await client?.shutdown();
  });

  it('a connector restarted under a new host name resumes from its offset: nothing skipped, nothing twice', async () => {
    const sets = testSettings(['cdc.startFrom=latest', 'log.level=info']);
    config = loadConfig({ env: {}, sets });
    client = await connectCassandra(config);
    await applySchema(client, config);
    const ks = config.cassandra.keyspace;
    const hostId = String(
      (await client.execute('SELECT host_id FROM system.local')).rows[0]!.get('host_id'),
    );
    const exits: UnexpectedExit[] = [];
    const args = sets.flatMap((s) => ['--set', s]);
    const write = async (n: number): Promise<string[]> => {
      const ids = Array.from({ length: n }, () => cassandra.types.TimeUuid.now().toString());
      for (const id of ids)
        await client.execute(
          `INSERT INTO ${ks}.tweets (tweet_id, author_id, body) VALUES (?, ?, ?)`,
          [id, 1n, id],
          { prepare: true },
        );
      return ids;
    };

    const first = new Supervised('cdc@node-a', 'cdc', args, exits, { hostname: 'node-a' });
    first.start();
    await first.untilReady(60_000);
    expect(first.log).toContain(`node identity ${hostId}`);
    const before = await write(50);
    await collect(config, [config.topics.tweetsCdc], (r) => r.length >= 50, 60_000);
    await first.stop(); // the container goes away ...
    const whileDown = await write(50); // ... while the application keeps writing

    const second = new Supervised('cdc@node-b', 'cdc', args, exits, { hostname: 'node-b' });
    second.start();
    try {
      await second.untilReady(60_000);
      expect(second.log).toContain(`node identity ${hostId}`);
      const records = await collect(
        config,
        [config.topics.tweetsCdc],
        (r) => r.length >= 100,
        60_000,
      );
      const seen = records.map(
        (r) => (JSON.parse(r.value) as { key: { tweet_id: string } }).key.tweet_id,
      );
      expect(seen.sort()).toEqual([...before, ...whileDown].sort());
      expect(exits).toEqual([]);
    } finally {
      await second.stop();
    }
  });
});
