import cassandra from 'cassandra-driver';
import type { CassandraClient } from './client.ts';
import type { RecordedAuthor, TweetAuthorStore } from '../../ports/stores.ts';
import { classifyCassandraError } from '../../lib/errors.ts';
import { ttlUntil } from './expiry.ts';

/**
 * Every statement on the record at LOCAL_QUORUM: a read then sees every write acknowledged before
 * it in the data centre. `deletedSince` relies on that for the marks of deletes and the records of
 * moves, `getWithTime` for the author an upsert moves its tweet from.
 */
const QUORUM = { prepare: true, consistency: cassandra.types.consistencies.localQuorum };

/** How long a delete's mark outlives its delivery: inserts of the tweet end within the CDC topic's retention. */
export const DELETE_MARK_TTL_SECONDS = 7 * 24 * 3600;

/** TweetAuthorStore over the `tweet_authors` table (written by the pipeline only). */
export class CassandraTweetAuthorStore implements TweetAuthorStore {
  readonly #client: CassandraClient;
  readonly #ks: string;

  constructor(client: CassandraClient, keyspace: string) {
    this.#client = client;
    this.#ks = keyspace;
  }

  async put(
    tweetId: string,
    authorId: bigint,
    writeTimeMicros: bigint,
    expiresAt: number | null = null,
  ): Promise<void> {
    try {
      const insert = `INSERT INTO ${this.#ks}.tweet_authors (tweet_id, author_id) VALUES (?, ?) USING TIMESTAMP ?`;
      // The author's index too, in parallel: a follow's backfill finds the tweet there.
      const index = `INSERT INTO ${this.#ks}.author_tweets (author_id, tweet_id) VALUES (?, ?) USING TIMESTAMP ?`;
      const ttl = expiresAt === null ? [] : [ttlUntil(expiresAt)];
      const withTtl = (q: string): string => (expiresAt === null ? q : `${q} AND TTL ?`);
      await Promise.all([
        this.#client.execute(withTtl(insert), [tweetId, authorId, writeTimeMicros, ...ttl], QUORUM),
        this.#client.execute(withTtl(index), [authorId, tweetId, writeTimeMicros, ...ttl], QUORUM),
      ]);
    } catch (err) {
      throw classifyCassandraError(err, `record the author of ${tweetId}`);
    }
  }

  async forget(tweetId: string, writeTimeMicros: bigint, authorId?: bigint | null): Promise<void> {
    try {
      // The row goes (nothing of it is left but tombstones); the delete's mark is written again
      // just after it, to stay a while: an insert of the tweet may still be ending.
      await this.#client.batch(
        [
          {
            query: `DELETE FROM ${this.#ks}.tweet_authors USING TIMESTAMP ? WHERE tweet_id = ?`,
            params: [writeTimeMicros, tweetId],
          },
          this.#mark(tweetId, writeTimeMicros),
          ...(authorId == null
            ? []
            : [
                {
                  query: `DELETE FROM ${this.#ks}.author_tweets USING TIMESTAMP ? WHERE author_id = ? AND tweet_id = ?`,
                  params: [writeTimeMicros, authorId, tweetId],
                },
              ]),
        ],
        { ...QUORUM, logged: false },
      );
    } catch (err) {
      throw classifyCassandraError(err, `forget the author of ${tweetId}`);
    }
  }

  async get(tweetId: string): Promise<bigint | null> {
    try {
      const rs = await this.#client.execute(
        `SELECT author_id FROM ${this.#ks}.tweet_authors WHERE tweet_id = ?`,
        [tweetId],
        QUORUM,
      );
      return (rs.first()?.get('author_id') as bigint | null | undefined) ?? null;
    } catch (err) {
      throw classifyCassandraError(err, `read the author of ${tweetId}`);
    }
  }

  async getWithTime(tweetId: string): Promise<RecordedAuthor | null> {
    try {
      const row = (
        await this.#client.execute(
          `SELECT author_id, WRITETIME(author_id) AS author_at FROM ${this.#ks}.tweet_authors WHERE tweet_id = ?`,
          [tweetId],
          QUORUM,
        )
      ).first();
      const authorId = (row?.get('author_id') as bigint | null | undefined) ?? null;
      const writeTime = (row?.get('author_at') as bigint | null | undefined) ?? null;
      return authorId === null || writeTime === null ? null : { authorId, writeTime };
    } catch (err) {
      throw classifyCassandraError(err, `read the author of ${tweetId}`);
    }
  }

  async markDeleted(tweetId: string, writeTimeMicros: bigint): Promise<void> {
    try {
      const mark = this.#mark(tweetId, writeTimeMicros);
      await this.#client.execute(mark.query, mark.params, QUORUM);
    } catch (err) {
      throw classifyCassandraError(err, `mark ${tweetId} deleted`);
    }
  }

  /**
   * The mark of a delete at `writeTimeMicros`, written one microsecond later: the row delete at
   * the delete's own time (ours in `forget`, or an older version's) cannot remove it, and an
   * older delete's mark cannot replace a newer one. It expires after DELETE_MARK_TTL_SECONDS.
   */
  #mark(tweetId: string, writeTimeMicros: bigint): { query: string; params: unknown[] } {
    return {
      query: `UPDATE ${this.#ks}.tweet_authors USING TIMESTAMP ? AND TTL ? SET deleted_at = ? WHERE tweet_id = ?`,
      params: [writeTimeMicros + 1n, DELETE_MARK_TTL_SECONDS, writeTimeMicros, tweetId],
    };
  }

  async deletedSince(
    tweetId: string,
    writeTimeMicros: bigint,
    authorId?: bigint,
  ): Promise<boolean> {
    try {
      const row = (
        await this.#client.execute(
          `SELECT deleted_at, author_id, WRITETIME(author_id) AS author_at FROM ${this.#ks}.tweet_authors WHERE tweet_id = ?`,
          [tweetId],
          QUORUM,
        )
      ).first();
      const deletedAt = (row?.get('deleted_at') as bigint | null | undefined) ?? null;
      if (deletedAt !== null && deletedAt >= writeTimeMicros) return true;
      if (authorId === undefined) return false;
      const recorded = (row?.get('author_id') as bigint | null | undefined) ?? null;
      const recordedAt = (row?.get('author_at') as bigint | null | undefined) ?? null;
      return recorded !== null && recorded !== authorId && (recordedAt ?? -1n) > writeTimeMicros;
    } catch (err) {
      throw classifyCassandraError(err, `read whether ${tweetId} was deleted`);
    }
  }
}
