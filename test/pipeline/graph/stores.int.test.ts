import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { CassandraAuthorTweetStore } from '../../../connectors/cassandra/author-tweets.ts';
import { CassandraTimelineStore } from '../../../connectors/cassandra/timelines.ts';
import { CassandraTweetAuthorStore } from '../../../connectors/cassandra/tweet-authors.ts';
import { testConfig } from '../../support/config.ts';
import { schemaClient } from '../../support/cassandra.ts';

// The graph lane's Cassandra side on the real node: the author index written with the author
// record, what counts as a live tweet, and the trim that keeps a timeline to its cap.
describe('Cassandra stores of the graph lane and the cap', () => {
  const config = testConfig();
  const ks = config.cassandra.keyspace;
  const db = schemaClient(config);
  const id = (): string => cassandra.types.TimeUuid.now().toString();
  const us = (): bigint => BigInt(Date.now()) * 1000n;

  it('the author record indexes the tweet under its author; forgetting it with the author removes it', async () => {
    const authors = new CassandraTweetAuthorStore(db(), ks);
    const index = new CassandraAuthorTweetStore(db(), ks);
    const ids = [id(), id(), id()];
    for (const t of ids) await authors.put(t, 5n, us());
    expect(await index.recent(5n, 10)).toEqual([...ids].reverse()); // newest first
    expect(await index.recent(5n, 2)).toEqual([ids[2], ids[1]]);
    await authors.forget(ids[2]!, us() + 10n, 5n);
    expect(await index.recent(5n, 10)).toEqual([ids[1], ids[0]]);
  });

  it('live: only tweets that exist and are still the author’s, with write time and expiry', async () => {
    const index = new CassandraAuthorTweetStore(db(), ks);
    const [kept, deleted, moved, expiring, absent] = [id(), id(), id(), id(), id()];
    const insert = `INSERT INTO ${ks}.tweets (tweet_id, author_id, body) VALUES (?, ?, 'x') USING TIMESTAMP ?`;
    await db().execute(insert, [kept, 6n, 111n], { prepare: true });
    await db().execute(insert, [deleted, 6n, 112n], { prepare: true });
    await db().execute(`DELETE FROM ${ks}.tweets WHERE tweet_id = ?`, [deleted], {
      prepare: true,
    });
    await db().execute(insert, [moved, 9n, 113n], { prepare: true });
    await db().execute(`${insert} AND TTL 3600`, [expiring, 6n, 114n], { prepare: true });
    const live = await index.live(6n, [kept, deleted, moved, expiring, absent]);
    expect(live.map((t) => [t.tweetId, t.writeTime])).toEqual([
      [kept, 111n],
      [expiring, 114n],
    ]);
    expect(live[0]!.expiresAt).toBeNull();
    const left = live[1]!.expiresAt! - Math.floor(Date.now() / 1000);
    expect(left).toBeGreaterThan(3500);
    expect(left).toBeLessThanOrEqual(3600);
  });

  it('movedAway: only tweets `tweets` now gives another author, not deleted or absent ones', async () => {
    const index = new CassandraAuthorTweetStore(db(), ks);
    const [kept, deleted, moved, absent] = [id(), id(), id(), id()];
    const insert = `INSERT INTO ${ks}.tweets (tweet_id, author_id, body) VALUES (?, ?, 'x') USING TIMESTAMP ?`;
    await db().execute(insert, [kept, 16n, 211n], { prepare: true });
    await db().execute(insert, [deleted, 16n, 212n], { prepare: true });
    await db().execute(`DELETE FROM ${ks}.tweets WHERE tweet_id = ?`, [deleted], {
      prepare: true,
    });
    await db().execute(insert, [moved, 16n, 213n], { prepare: true });
    await db().execute(
      `UPDATE ${ks}.tweets USING TIMESTAMP 214 SET author_id = 19 WHERE tweet_id = ?`,
      [moved],
      { prepare: true },
    );
    expect(await index.movedAway(16n, [kept, deleted, moved, absent])).toEqual([moved]);
    expect(await index.movedAway(19n, [kept, moved])).toEqual([kept]);
    expect(await index.movedAway(16n, [])).toEqual([]);
  });

  it('trim keeps the newest rows by tweet id and removes the rest with one range delete', async () => {
    const store = new CassandraTimelineStore(db(), ks);
    const ids = Array.from({ length: 12 }, () => id());
    await store.write(
      ids.map((tweetId, i) => ({
        op: 'insert',
        userId: 77n,
        tweetId,
        authorId: 1n,
        writeTimeMicros: 1_000n + BigInt(i),
      })),
    );
    expect(await store.trim([77n], 20)).toEqual([]);
    expect(await store.trim([77n], 5)).toEqual([77n]);
    expect((await store.read(77n, 100)).map((e) => e.tweetId)).toEqual(ids.slice(-5).reverse());
    expect(await store.trim([77n], 5)).toEqual([]);
    // A row of an older tweet written later is past the cap too; a newer one is kept.
    const newer = id();
    await store.write([
      { op: 'insert', userId: 77n, tweetId: ids[0]!, authorId: 1n, writeTimeMicros: 2_000n },
      { op: 'insert', userId: 77n, tweetId: newer, authorId: 1n, writeTimeMicros: 2_000n },
    ]);
    expect((await store.read(77n, 100)).map((e) => e.tweetId)).toEqual([
      newer,
      ...ids.slice(-5).reverse(),
    ]);
  });

  it('trims many users with one read, paged: only the timelines over the cap are cut', async () => {
    // Pages of 4 rows: a user's keep + 1 ids span pages, and pages span users.
    const store = new CassandraTimelineStore(db(), ks, { trimPageRows: 4 });
    const rows: Record<string, number> = { '81': 12, '82': 3, '83': 7, '84': 0, '85': 6 };
    const ids = new Map<bigint, string[]>();
    for (const [user, n] of Object.entries(rows)) {
      const userId = BigInt(user);
      ids.set(
        userId,
        Array.from({ length: n }, () => id()),
      );
      await store.write(
        ids.get(userId)!.map((tweetId, i) => ({
          op: 'insert' as const,
          userId,
          tweetId,
          authorId: 1n,
          writeTimeMicros: 1_000n + BigInt(i),
        })),
      );
    }
    const users = [81n, 82n, 83n, 84n, 85n];
    const cut = await store.trim(users, 5);
    expect([...cut].sort()).toEqual([81n, 83n, 85n]);
    for (const userId of users)
      expect((await store.read(userId, 100)).map((e) => e.tweetId)).toEqual(
        ids.get(userId)!.slice(-5).reverse(),
      );
    expect(await store.trim(users, 5)).toEqual([]);
    expect(await store.trim([], 5)).toEqual([]);
  });
});
