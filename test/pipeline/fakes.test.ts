import { describe } from 'vitest';
import { followerStoreContract } from './follower-store-contract.ts';
import { MemoryFollowers } from './fakes.ts';

// The fakes keep the contracts of the stores they stand in for (the same suites run on Cassandra).
describe('MemoryFollowers', () => {
  const store = new MemoryFollowers();
  followerStoreContract(() => store, 0n);
});
