import type { CassandraClient } from './client.ts';
import type { TweetAuthorStore } from '../stores.ts';
import { classifyCassandraError } from '../errors.ts';
import { ttlUntil } from './expiry.ts';

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
        ? this.#client.execute(insert, [tweetId, authorId, writeTimeMicros], { prepare: true })
        : this.#client.execute(`${insert} AND TTL ?`, [tweetId, authorId, writeTimeMicros, ttlUntil(expiresAt)], { prepare: true }));
    } catch (err) {
      throw classifyCassandraError(err, `record the author of ${tweetId}`);
    }
  }

  async forget(tweetId: string, writeTimeMicros: bigint): Promise<void> {
    try {
      await this.#client.execute(`DELETE FROM ${this.#ks}.tweet_authors USING TIMESTAMP ? WHERE tweet_id = ?`, [writeTimeMicros, tweetId], { prepare: true });
    } catch (err) {
      throw classifyCassandraError(err, `forget the author of ${tweetId}`);
    }
  }

  async get(tweetId: string): Promise<bigint | null> {
    try {
      const rs = await this.#client.execute(`SELECT author_id FROM ${this.#ks}.tweet_authors WHERE tweet_id = ?`, [tweetId], { prepare: true });
      const row = rs.first();
      return row ? (row.get('author_id') as bigint) : null;
    } catch (err) {
      throw classifyCassandraError(err, `read the author of ${tweetId}`);
    }
  }
}
