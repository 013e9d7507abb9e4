import cassandra from 'cassandra-driver';
import type { CassandraClient } from './client.ts';
import type { TweetAuthorStore } from '../stores.ts';
import { classifyCassandraError } from '../errors.ts';
import { ttlUntil } from './expiry.ts';

/**
 * Every statement on the record at LOCAL_QUORUM: a read then sees every write acknowledged before
 * it. `deletedSince` relies on that ("absent" must mean deleted, never "not on this replica yet").
 */
const QUORUM = { prepare: true, consistency: cassandra.types.consistencies.localQuorum };

/** TweetAuthorStore over the `tweet_authors` table (written by the pipeline only). */
export class CassandraTweetAuthorStore implements TweetAuthorStore {
  readonly #client: CassandraClient;
  readonly #ks: string;

  constructor(client: CassandraClient, keyspace: string) {
    this.#client = client;
    this.#ks = keyspace;
  }

  async put(tweetId: string, authorId: bigint, writeTimeMicros: bigint, expiresAt: number | null = null): Promise<void> {
    try {
      const insert = `INSERT INTO ${this.#ks}.tweet_authors (tweet_id, author_id) VALUES (?, ?) USING TIMESTAMP ?`;
      await (expiresAt === null
        ? this.#client.execute(insert, [tweetId, authorId, writeTimeMicros], QUORUM)
        : this.#client.execute(`${insert} AND TTL ?`, [tweetId, authorId, writeTimeMicros, ttlUntil(expiresAt)], QUORUM));
    } catch (err) {
      throw classifyCassandraError(err, `record the author of ${tweetId}`);
    }
  }

  async forget(tweetId: string, writeTimeMicros: bigint): Promise<void> {
    try {
      await this.#client.execute(`DELETE FROM ${this.#ks}.tweet_authors USING TIMESTAMP ? WHERE tweet_id = ?`, [writeTimeMicros, tweetId], QUORUM);
    } catch (err) {
      throw classifyCassandraError(err, `forget the author of ${tweetId}`);
    }
  }

  async get(tweetId: string): Promise<bigint | null> {
    try {
      const rs = await this.#client.execute(`SELECT author_id FROM ${this.#ks}.tweet_authors WHERE tweet_id = ?`, [tweetId], QUORUM);
      return (rs.first()?.get('author_id') as bigint | null | undefined) ?? null;
    } catch (err) {
      throw classifyCassandraError(err, `read the author of ${tweetId}`);
    }
  }

  async markDeleted(tweetId: string, writeTimeMicros: bigint): Promise<void> {
    try {
      await this.#client.execute(
        `UPDATE ${this.#ks}.tweet_authors USING TIMESTAMP ? SET deleted_at = ? WHERE tweet_id = ?`, [writeTimeMicros, writeTimeMicros, tweetId], QUORUM,
      );
    } catch (err) {
      throw classifyCassandraError(err, `mark ${tweetId} deleted`);
    }
  }

  async deletedSince(tweetId: string, writeTimeMicros: bigint): Promise<boolean> {
    try {
      const row = (await this.#client.execute(`SELECT author_id, deleted_at FROM ${this.#ks}.tweet_authors WHERE tweet_id = ?`, [tweetId], QUORUM)).first();
      if (!row || row.get('author_id') === null) return true; // forgotten: a delete was delivered
      const deletedAt = row.get('deleted_at') as bigint | null;
      return deletedAt !== null && deletedAt >= writeTimeMicros;
    } catch (err) {
      throw classifyCassandraError(err, `read whether ${tweetId} was deleted`);
    }
  }
}
