import cassandra from 'cassandra-driver';
import type { CassandraClient } from './client.ts';
import type { Tweet, TweetStore } from '../../ports/stores.ts';
import { classifyCassandraError } from '../../lib/errors.ts';

/** TweetStore over the `tweets` table, using plain CQL exactly as an application would. */
export class CassandraTweetStore implements TweetStore {
  readonly #client: CassandraClient;
  readonly #ks: string;

  constructor(client: CassandraClient, keyspace: string) {
    this.#client = client;
    this.#ks = keyspace;
  }

  async insert(authorId: bigint, body: string): Promise<Tweet> {
    const tweet: Tweet = {
      tweetId: cassandra.types.TimeUuid.now().toString(),
      authorId,
      body,
      createdAt: new Date(),
    };
    try {
      await this.#client.execute(
        `INSERT INTO ${this.#ks}.tweets (tweet_id, author_id, body, created_at) VALUES (?, ?, ?, ?)`,
        [tweet.tweetId, authorId, body, tweet.createdAt],
        { prepare: true },
      );
    } catch (err) {
      throw classifyCassandraError(err, 'insert tweet');
    }
    return tweet;
  }

  async get(tweetIds: readonly string[]): Promise<Tweet[]> {
    if (tweetIds.length === 0) return [];
    try {
      const rs = await this.#client.execute(
        `SELECT tweet_id, author_id, body, created_at FROM ${this.#ks}.tweets WHERE tweet_id IN ?`,
        [tweetIds],
        { prepare: true },
      );
      const byId = new Map(
        rs.rows.map((r) => [
          String(r.get('tweet_id')),
          {
            tweetId: String(r.get('tweet_id')),
            authorId: r.get('author_id') as bigint,
            body: r.get('body') as string,
            createdAt: r.get('created_at') as Date,
          },
        ]),
      );
      return tweetIds.flatMap((id) => byId.get(id) ?? []);
    } catch (err) {
      throw classifyCassandraError(err, 'read tweets');
    }
  }

  async remove(tweetId: string): Promise<void> {
    try {
      await this.#client.execute(`DELETE FROM ${this.#ks}.tweets WHERE tweet_id = ?`, [tweetId], {
        prepare: true,
      });
    } catch (err) {
      throw classifyCassandraError(err, 'delete tweet');
    }
  }
}
