import { afterAll, beforeAll, describe } from 'vitest';
import { connectCassandra, type CassandraClient } from '../../connectors/cassandra/client.ts';
import { applySchema } from '../../connectors/cassandra/schema.ts';
import { CassandraTweetAuthorStore } from '../../connectors/cassandra/tweet-authors.ts';
import { testConfig } from '../support/config.ts';
import { authorStoreContract } from './author-store-contract.ts';

// What moves need of tweet_authors, on the real Cassandra (the same suite runs on the fake).
describe('CassandraTweetAuthorStore', () => {
  const config = testConfig();
  let client: CassandraClient;

  beforeAll(async () => {
    client = await connectCassandra(config);
    await applySchema(client, config);
  });
  afterAll(async () => {
    await client
      .execute(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`)
      .catch(() => undefined);
    await client.shutdown();
  });

  authorStoreContract(() => new CassandraTweetAuthorStore(client, config.cassandra.keyspace));
});
