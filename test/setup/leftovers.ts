/**
 * Removes what one test run created on the shared services: every topic and consumer group named
 * `t-<runTag>…` and every keyspace named `t_<runTag>…` (test/support/config.ts names them so).
 * Without it, each run left a few hundred topics and keyspaces on a developer's long-lived local
 * broker and node, where they cost memory, startup time and commit-log flushes of every later run.
 * Best effort: a service that is gone by now leaves nothing to clean.
 */
import { loadConfig, type Config } from '../../config/index.ts';
import { connectCassandra } from '../../connectors/cassandra/client.ts';
import { connectAdmin } from '../../connectors/kafka/admin.ts';
import { createKafka } from '../../connectors/kafka/client.ts';
import { removeByPrefix } from '../../connectors/kafka/topics.ts';
import { createLogger } from '../../lib/log.ts';

export async function removeRunLeftovers(
  services: { kafkaBrokers: string; cassandraContactPoints: string },
  runTag: string,
): Promise<string> {
  const config = loadConfig({
    env: {},
    // Dropping a keyspace with big tables can take longer than one ordinary request.
    sets: [
      `kafka.brokers=${services.kafkaBrokers}`,
      `cassandra.contactPoints=${services.cassandraContactPoints}`,
      'cassandra.requestTimeoutMs=120000',
    ],
  });
  const [topics, keyspaces] = await Promise.all([
    removeTopics(config, `t-${runTag}`).catch(
      (err: unknown) => `topics not removed (${(err as Error).message})`,
    ),
    removeKeyspaces(config, `t_${runTag}`).catch(
      (err: unknown) => `keyspaces not removed (${(err as Error).message})`,
    ),
  ]);
  return `${topics}; ${keyspaces}`;
}

async function removeTopics(config: Config, prefix: string): Promise<string> {
  const admin = await connectAdmin(createKafka(config, createLogger('warn')), config);
  try {
    const removed = await removeByPrefix(admin, prefix);
    return `${removed.topics} test topics and ${removed.groups} groups removed (${removed.groupsRefused} still held by static members expire)`;
  } finally {
    await admin.disconnect();
  }
}

async function removeKeyspaces(config: Config, prefix: string): Promise<string> {
  const client = await connectCassandra(config);
  try {
    const rows = (await client.execute('SELECT keyspace_name FROM system_schema.keyspaces')).rows;
    const mine = rows.map((r) => r['keyspace_name'] as string).filter((k) => k.startsWith(prefix));
    // One at a time: each drop is a schema change the node applies in turn anyway.
    for (const ks of mine) await client.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
    return `${mine.length} test keyspaces removed`;
  } finally {
    await client.shutdown();
  }
}
