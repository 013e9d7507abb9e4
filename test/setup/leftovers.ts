/**
 * Removes what one test run created on the shared services: every topic and consumer group named
 * `t-<runTag>…` and every keyspace named `t_<runTag>…` (test/support/config.ts names them so). Without it, each run
 * left a few hundred topics and keyspaces on a developer's long-lived local broker and node, where
 * they cost memory, startup time and commit-log flushes of every later run.
 * Best effort: a service that is gone by now leaves nothing to clean.
 */
import { KafkaJS } from '@confluentinc/kafka-javascript';
import cassandra from 'cassandra-driver';

export async function removeRunLeftovers(services: { kafkaBrokers: string; cassandraContactPoints: string }, runTag: string): Promise<string> {
  const [topics, keyspaces] = await Promise.all([
    removeTopics(services.kafkaBrokers.split(','), `t-${runTag}`).catch((err: unknown) => `topics not removed (${(err as Error).message})`),
    removeKeyspaces(services.cassandraContactPoints.split(','), `t_${runTag}`).catch((err: unknown) => `keyspaces not removed (${(err as Error).message})`),
  ]);
  return `${topics}; ${keyspaces}`;
}

async function removeTopics(brokers: string[], prefix: string): Promise<string> {
  const admin = new KafkaJS.Kafka({ kafkaJS: { brokers, logLevel: KafkaJS.logLevel.NOTHING } }).admin();
  await admin.connect();
  try {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 60_000 });
    // Groups of this run. A worker's group still holds its static members until their session
    // times out (they do not leave on close, by design): the broker refuses those, and they expire.
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
    const refused = groups.length === 0 ? 0 : await admin.deleteGroups(groups).then(() => 0, (err: unknown) => {
      const results = (err as { groups?: Array<{ errorCode: number }> }).groups;
      if (!results) throw err;
      return results.filter((r) => r.errorCode !== 0).length;
    });
    return `${mine.length} test topics and ${groups.length - refused} groups removed (${refused} still held by static members expire)`;
  } finally {
    await admin.disconnect();
  }
}

async function removeKeyspaces(contactPoints: string[], prefix: string): Promise<string> {
  const client = new cassandra.Client({ contactPoints, localDataCenter: 'datacenter1', socketOptions: { readTimeout: 120_000 } });
  await client.connect();
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
