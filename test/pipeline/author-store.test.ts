import { describe } from 'vitest';
import { authorStoreContract } from './author-store-contract.ts';
import { MemoryAuthors } from './fakes.ts';

// The fake keeps the contract of the store it stands in for (author-store.int.test.ts: Cassandra).
describe('MemoryAuthors', () => {
  authorStoreContract(() => new MemoryAuthors());
});
