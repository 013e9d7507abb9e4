import { afterAll, beforeAll } from 'vitest';
import type { Config } from '../../config/index.ts';
import { connectCassandra, type CassandraClient } from '../../connectors/cassandra/client.ts';
import { applySchema } from '../../connectors/cassandra/schema.ts';

/**
 * A client on the real node for the enclosing `describe`: the schema applied before its tests,
 * its keyspace dropped and the client shut down after them. Call the returned function inside a
 * test (the client exists once beforeAll has run).
 */
export function schemaClient(config: Config): () => CassandraClient {
  let client: CassandraClient | undefined;
  beforeAll(async () => {
    client = await connectCassandra(config);
    await applySchema(client, config);
  });
  afterAll(async () => {
    if (!client) return;
    await client
      .execute(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`)
      .catch(() => undefined);
    await client.shutdown();
  });
  return () => {
    if (!client) throw new Error('schemaClient: the client is used before beforeAll ran');
    return client;
  };
}
