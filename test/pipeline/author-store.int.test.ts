import { describe } from 'vitest';
import { CassandraTweetAuthorStore } from '../../connectors/cassandra/tweet-authors.ts';
import { testConfig } from '../support/config.ts';
import { schemaClient } from '../support/cassandra.ts';
import { authorStoreContract } from './author-store-contract.ts';

// What moves need of tweet_authors, on the real Cassandra (the same suite runs on the fake).
describe('CassandraTweetAuthorStore', () => {
  const config = testConfig();
  const db = schemaClient(config);

  authorStoreContract(() => new CassandraTweetAuthorStore(db(), config.cassandra.keyspace));
});
