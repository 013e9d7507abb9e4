import cassandra from 'cassandra-driver';
import { expect, it } from 'vitest';
import type { TweetAuthorStore } from '../../ports/stores.ts';

/**
 * What moves need of a TweetAuthorStore (the recorded author with its write time; "taken since"
 * for a moved tweet), one suite run against the in-memory fake and the Cassandra store.
 */
export function authorStoreContract(store: () => TweetAuthorStore): void {
  const tweet = (): string => cassandra.types.TimeUuid.now().toString();

  it('reads the recorded author with the write time of its record; an older write changes nothing', async () => {
    const s = store();
    const id = tweet();
    expect(await s.getWithTime(id)).toBeNull();
    await s.put(id, 1n, 100n);
    expect(await s.getWithTime(id)).toEqual({ authorId: 1n, writeTime: 100n });
    await s.put(id, 3n, 200n);
    await s.put(id, 1n, 150n); // a stale change's record, had it written one
    expect(await s.getWithTime(id)).toEqual({ authorId: 3n, writeTime: 200n });
    expect(await s.get(id)).toBe(3n);
  });

  it('an upsert is taken since its write time when another author is recorded later, or a delete marked itself', async () => {
    const s = store();
    const id = tweet();
    await s.put(id, 1n, 100n);
    expect(await s.deletedSince(id, 100n, 1n)).toBe(false);
    await s.put(id, 3n, 200n); // moved on
    expect(await s.deletedSince(id, 100n, 1n)).toBe(true);
    expect(await s.deletedSince(id, 100n)).toBe(false); // without the author: deletes only
    expect(await s.deletedSince(id, 200n, 3n)).toBe(false); // the move itself
    expect(await s.deletedSince(id, 100n, 3n)).toBe(false); // the same author, re-sent later
    await s.markDeleted(id, 300n);
    expect(await s.deletedSince(id, 200n, 3n)).toBe(true);
    expect(await s.deletedSince(tweet(), 1n, 1n)).toBe(false); // nothing recorded
  });

  it('a deleted tweet has no recorded author; an upsert after the delete records one again', async () => {
    const s = store();
    const id = tweet();
    await s.put(id, 1n, 100n);
    await s.forget(id, 150n);
    expect(await s.getWithTime(id)).toBeNull();
    await s.put(id, 3n, 120n); // older than the delete: stays deleted
    expect(await s.getWithTime(id)).toBeNull();
    await s.put(id, 3n, 200n);
    expect(await s.getWithTime(id)).toEqual({ authorId: 3n, writeTime: 200n });
    expect(await s.deletedSince(id, 200n, 3n)).toBe(false);
  });
}
