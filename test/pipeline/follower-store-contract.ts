import { expect, it } from 'vitest';
import type { FollowerStore } from '../../ports/stores.ts';

/**
 * The FollowerStore contract: one suite, run against every implementation (the in-memory fake of
 * the unit tests and the Cassandra store). `userBase` keeps each run's users apart.
 */
export function followerStoreContract(store: () => FollowerStore, userBase: bigint): void {
  const author = userBase + 1n;
  const nobody = userBase + 2n;
  const followers = [5n, 9n, 10n, 42n, 1_000n, 2n ** 62n, -7n];
  const sorted = [...followers].sort((a, b) => (a < b ? -1 : 1));

  it('pages ids ascending after a cursor, up to a limit and an inclusive upper bound', async () => {
    const s = store();
    await s.add(author, followers);
    expect(await s.page(author, null, 100)).toEqual(sorted);
    expect(await s.page(author, null, 3)).toEqual([-7n, 5n, 9n]);
    expect(await s.page(author, 9n, 2)).toEqual([10n, 42n]);
    expect(await s.page(author, 5n, 100, 42n)).toEqual([9n, 10n, 42n]);
    expect(await s.page(author, 42n, 100, 42n)).toEqual([]);
    expect(await s.page(author, 2n ** 62n, 100)).toEqual([]);
  });

  it('tells the last id and the count; a user with no followers has none', async () => {
    const s = store();
    await s.add(author, followers);
    expect(await s.last(author)).toBe(2n ** 62n);
    expect(await s.count(author)).toBe(followers.length);
    expect(await s.last(nobody)).toBeNull();
    expect(await s.count(nobody)).toBe(0);
    expect(await s.page(nobody, null, 10)).toEqual([]);
  });
}
