import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CLAIM_TTL_SECONDS } from '../../connectors/cassandra/schema.ts';
import { CassandraClaimStore } from '../../connectors/cassandra/claims.ts';
import { CassandraFollowerStore } from '../../connectors/cassandra/followers.ts';
import {
  CassandraTimelineStore,
  type WriteStrategy,
} from '../../connectors/cassandra/timelines.ts';
import {
  CassandraTweetAuthorStore,
  DELETE_MARK_TTL_SECONDS,
} from '../../connectors/cassandra/tweet-authors.ts';
import type { TimelineMutation } from '../../ports/stores.ts';
import { testConfig } from '../support/config.ts';
import { schemaClient } from '../support/cassandra.ts';
import { followerStoreContract } from './follower-store-contract.ts';
import { holders, newTweet, range, ttlsOf } from './fixtures.ts';

// The FollowerStore contract and the TimelineStore contract (both write strategies), run against
// the real Cassandra, and the TweetAuthorStore. (Kept beside the pipeline tests: this change set owns only test/pipeline/.)
describe('Cassandra stores of the fan-out', () => {
  const config = testConfig();
  const ks = config.cassandra.keyspace;
  const db = schemaClient(config);

  describe('FollowerStore', () => {
    followerStoreContract(() => new CassandraFollowerStore(db(), ks), 0n);
  });

  describe.each<WriteStrategy>(['batch', 'concurrent'])('TimelineStore (%s)', (strategy) => {
    const base = strategy === 'batch' ? 0n : 10_000_000n; // users of their own per strategy
    const rows = (
      op: 'insert' | 'delete',
      tweetId: string,
      users: bigint[],
      ts: bigint,
    ): TimelineMutation[] =>
      users.map((userId) => ({ op, userId, tweetId, authorId: 7n, writeTimeMicros: ts }));

    it('writes rows of many users in one call, larger than one CQL batch slice', async () => {
      const store = new CassandraTimelineStore(db(), ks, { strategy });
      const { tweetId, writeTime } = newTweet();
      const users = range(base + 5_000_000n, 300);
      await store.write(rows('insert', tweetId, users, writeTime));
      expect((await holders(db(), ks, users, tweetId)).size).toBe(300);
      expect(await store.read(users[0]!, 10)).toEqual([
        { userId: users[0], tweetId, authorId: 7n },
      ]);
    });

    it('a delete with a newer write time removes; a replayed insert with the older one does not resurrect', async () => {
      const store = new CassandraTimelineStore(db(), ks, { strategy });
      const { tweetId, writeTime } = newTweet();
      const users = range(base + 6_000_000n, 60);
      await store.write(rows('insert', tweetId, users, writeTime));
      await store.write(rows('delete', tweetId, users, writeTime + 10n));
      await store.write(rows('insert', tweetId, users, writeTime));
      expect((await holders(db(), ks, users, tweetId)).size).toBe(0);
    });

    it('a delete that lands before its insert still wins (the order of writes does not matter)', async () => {
      const store = new CassandraTimelineStore(db(), ks, { strategy });
      const { tweetId, writeTime } = newTweet();
      const users = range(base + 7_000_000n, 20);
      await store.write([
        ...rows('delete', tweetId, users.slice(0, 10), writeTime + 1n),
        ...rows('insert', tweetId, users.slice(10), writeTime),
      ]);
      await store.write([
        ...rows('insert', tweetId, users.slice(0, 10), writeTime),
        ...rows('delete', tweetId, users.slice(10), writeTime + 1n),
      ]);
      expect((await holders(db(), ks, users, tweetId)).size).toBe(0);
    });

    it('rows of a tweet with a TTL get the seconds left until its expiry; others none', async () => {
      const store = new CassandraTimelineStore(db(), ks, { strategy });
      const { tweetId, writeTime } = newTweet();
      const users = range(base + 8_000_000n, 60);
      const expiresAt = Math.floor(Date.now() / 1000) + 3_600;
      await store.write([
        ...rows('insert', tweetId, users.slice(0, 30), writeTime).map((m) => ({ ...m, expiresAt })),
        ...rows('insert', tweetId, users.slice(30), writeTime),
      ]);
      const ttls = await ttlsOf(
        db(),
        `${ks}.timelines`,
        'author_id',
        'user_id IN ? AND tweet_id = ?',
        [users, tweetId],
      );
      expect(ttls).toHaveLength(60);
      expect(ttls.filter((t) => t === null)).toHaveLength(30);
      for (const t of ttls.filter((x) => x !== null)) expect(t).toBeGreaterThan(3_500);
      for (const t of ttls.filter((x) => x !== null)) expect(t).toBeLessThanOrEqual(3_600);
    });
  });

  it('TimelineStore reads (an unfollow’s, a trim’s) at the read consistency it is given', async () => {
    // One replica here: TWO cannot be met, so a read that used it fails, one that did not passes.
    const two = new CassandraTimelineStore(db(), ks, { readConsistency: 'two' });
    await expect(two.read(31n, 10)).rejects.toThrow(/TWO|consistency/i);
    await expect(two.trim([31n, 32n], 5)).rejects.toThrow(/TWO|consistency/i);
    const byDefault = new CassandraTimelineStore(db(), ks);
    expect(await byDefault.read(31n, 10)).toEqual([]);
    expect(await byDefault.trim([31n, 32n], 5)).toEqual([]);
  });

  it('TweetAuthorStore records the author of a tweet with its TTL, if it has one', async () => {
    const store = new CassandraTweetAuthorStore(db(), ks);
    const { tweetId, writeTime } = newTweet();
    await store.put(tweetId, 42n, writeTime, Math.floor(Date.now() / 1000) + 600);
    expect(await store.get(tweetId)).toBe(42n);
    const [ttl] = await ttlsOf(db(), `${ks}.tweet_authors`, 'author_id', 'tweet_id = ?', [tweetId]);
    expect(ttl).toBeGreaterThan(500);
    expect(ttl).toBeLessThanOrEqual(600);
  });

  it('TweetAuthorStore records the author of an insert for later deletes', async () => {
    const store = new CassandraTweetAuthorStore(db(), ks);
    const { tweetId, writeTime } = newTweet();
    expect(await store.get(tweetId)).toBeNull();
    await store.put(tweetId, 42n, writeTime);
    await store.put(tweetId, 42n, writeTime); // a replay is harmless
    expect(await store.get(tweetId)).toBe(42n);
  });

  it('TweetAuthorStore: a delete marks itself; inserts up to its write time find it, a later one does not; forgetting the author keeps the mark a while', async () => {
    const store = new CassandraTweetAuthorStore(db(), ks);
    const { tweetId, writeTime: t } = newTweet();
    expect(await store.deletedSince(tweetId, t)).toBe(false); // never recorded: nothing can race it
    await store.put(tweetId, 42n, t);
    expect(await store.deletedSince(tweetId, t)).toBe(false);
    await store.markDeleted(tweetId, t + 10n);
    expect(await store.get(tweetId)).toBe(42n); // the mark keeps the author for the delete's own reads
    expect(await store.deletedSince(tweetId, t)).toBe(true);
    expect(await store.deletedSince(tweetId, t + 10n)).toBe(true); // a tie: the delete wins, as in Cassandra
    expect(await store.deletedSince(tweetId, t + 11n)).toBe(false); // an insert written after the delete
    await store.forget(tweetId, t + 10n); // the delete is committed
    expect(await store.get(tweetId)).toBeNull();
    expect(await store.deletedSince(tweetId, t)).toBe(true); // an insert task ending now still finds it
    const [ttl] = await ttlsOf(db(), `${ks}.tweet_authors`, 'deleted_at', 'tweet_id = ?', [
      tweetId,
    ]);
    expect(ttl).toBeGreaterThan(DELETE_MARK_TTL_SECONDS - 60);
    expect(ttl).toBeLessThanOrEqual(DELETE_MARK_TTL_SECONDS);
    await store.put(tweetId, 42n, t); // a replayed insert: the author stays forgotten
    expect(await store.get(tweetId)).toBeNull();
    await store.markDeleted(tweetId, t + 5n); // an older delete replayed: the newer mark stays
    expect(await store.deletedSince(tweetId, t + 10n)).toBe(true);
    // An older version's forget deletes the row at the delete's time: the mark, just after it, stays.
    await db().execute(
      `DELETE FROM ${ks}.tweet_authors USING TIMESTAMP ? WHERE tweet_id = ?`,
      [t + 10n, tweetId],
      { prepare: true },
    );
    expect(await store.deletedSince(tweetId, t)).toBe(true);
    await store.put(tweetId, 43n, t + 20n); // the same id inserted again, later
    expect(await store.get(tweetId)).toBe(43n);
    expect(await store.deletedSince(tweetId, t + 20n)).toBe(false);
  });

  it('ClaimStore: of many copies claiming one event at once exactly one wins, and keeps it; its retry finds itself; claims expire with the CDC retention', async () => {
    const store = new CassandraClaimStore(db(), ks);
    const eventId = randomBytes(16).toString('hex');
    const copies = Array.from({ length: 6 }, (_, i) => `cdc.t/0/${i}`);
    const holders = await Promise.all(copies.map((c) => store.claim(eventId, c)));
    expect(new Set(holders).size).toBe(1);
    expect(copies).toContain(holders[0]);
    expect(await store.claim(eventId, holders[0]!)).toBe(holders[0]); // the holder, after a crash
    expect(await store.claim(eventId, 'cdc.t/9/9')).toBe(holders[0]);
    const [ttl] = await ttlsOf(db(), `${ks}.fanout_claims`, 'claimed_by', 'event_id = ?', [
      eventId,
    ]);
    expect(ttl).toBeGreaterThan(CLAIM_TTL_SECONDS - 60);
    expect(ttl).toBeLessThanOrEqual(CLAIM_TTL_SECONDS);
  });
});
